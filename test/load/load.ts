/**
 * `npm run load`: the stress test of the front door. It drives `POST /v1/transfers` on a running
 * LedgerX (LEDGER_URL; by default the one `npm start` wrote to .data/runtime.json) with autocannon,
 * then checks that what it was told is what the ledger holds.
 *
 * 1. Setup, through the API: a funding account, `--accounts` accounts that may not overdraw plus
 *    one hot debit and one hot credit account, each funded far beyond what the run can spend, and
 *    (with `--velocity lifted`, the default) their velocity limits raised to the API's bound.
 * 2. Load, for `--duration-s`: at `--rate-per-s` in all, or as fast as `--connections` go. A share
 *    of the transfers (`--hot-share-percent`, each way) debits the hot debit account or credits the
 *    hot credit account; a share (`--retry-share-percent`) repeats an earlier request under its
 *    key, which must answer the same transfer id. Progress goes to stderr.
 * 3. Resolve: a request left without a definite answer (no answer, 5xx, 409) is sent again under
 *    its key, a bounded number of times, until it gets one (the API's contract for retries).
 * 4. Settle and verify, once the transfers queue is empty (bounded by `--settle-timeout-s`): every
 *    accepted transfer is posted or rejected; each posted one has exactly one debit and one credit
 *    entry, on its accounts, for its amount; no entry on the run's accounts belongs to a transfer
 *    the run was not told about; each account's totals equal its entries and the run's own
 *    expectation; money is conserved over the run's accounts; `GET /v1/admin/invariants` holds.
 *
 * Prints accepted transfers/s, latency p50/p95/p99/max over all answers, counts per status and the
 * verification; `--json` prints one JSON line instead. Exits 0 when everything checks, 1 when
 * verification finds a problem, 2 on bad flags or when the target cannot be set up.
 */
import { randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { cpuBetween, sampleCpu } from './cpu';
import {
  type ApiAnswer,
  ApiCallError,
  isDefinite,
  LedgerApi,
  mapConcurrently,
  quantile,
  sleep,
} from './ledger-api';
import { resolveTarget, type Target, UsageError } from './target';

const usage = `Usage: npm run load -- [options]
  --duration-s N           how long to drive load (default 60)
  --rate-per-s N           requests per second in all (default: as fast as the connections go)
  --connections N          concurrent connections (default 64)
  --accounts N             ordinary accounts besides the two hot ones (default 100)
  --hot-share-percent N    share of transfers from the hot debit account, and again to the hot
                           credit account (default 10)
  --retry-share-percent N  share of requests that repeat an earlier one under its key (default 5)
  --velocity lifted|default  raise the run's accounts' velocity limits to the API's bound (default
                           lifted), or keep the deployment's defaults (429s are then expected)
  --settle-timeout-s N     how long to wait for accepted transfers to be posted (default 120)
  --json                   print one JSON line
The target is LEDGER_URL with LEDGER_API_KEY, or the runtime npm start wrote (.data/runtime.json,
or LEDGER_LOCAL_RUNTIME_FILE).`;

/** Bounds of the flags: a run is meant to be minutes, not hours, and a machine's worth of load. */
const durationSMax = 3_600;
const connectionCountMax = 10_000;
const accountCountMax = 10_000;
const settleTimeoutSMax = 3_600;
/** Velocity limits a lifted run sets: the API's bounds (1,000 transfers per second). */
const liftedVelocity = { window_s: 1, max_transfers: 1_000, max_amount: null } as const;
/** What each account is funded with: far more than a run can move out of it. */
const fundingPerAccount = 1_000_000_000_000n;
/** Transfers move 1 to this many minor units. */
const transferAmountMax = 10_000;
const currency = 'USD';
/** Setup and read calls in flight at once. */
const setupConcurrency = 16;
/** How long autocannon waits for one answer before it counts the request as unanswered. */
const requestTimeoutS = 30;
/** Recent keys a retry picks from. */
const retryKeyWindowSize = 1_024;
/** Attempts to get a definite answer for a key the load left open. */
const resolveAttemptCountMax = 6;
const resolveBackoffBaseMs = 250;
const resolveBackoffCapMs = 4_000;
/** Entries read per page while verifying (the API's page bound), and pages per account at most. */
const entryPageSize = 200;
const entryPageCountMax = 100_000;
/** Problems listed in the report; the count says how many there were in all. */
const problemListMax = 50;
/** Pause between checks while waiting for the system to be quiet. */
const settleCheckIntervalMs = 1_000;

interface LoadOptions {
  readonly durationS: number;
  readonly ratePerS: number | undefined;
  readonly connections: number;
  readonly accountCount: number;
  readonly hotSharePercent: number;
  readonly retrySharePercent: number;
  readonly velocity: 'lifted' | 'default';
  readonly settleTimeoutS: number;
  readonly json: boolean;
}

function integerFlag(
  values: Record<string, unknown>,
  name: string,
  fallback: number,
  bounds: { min: number; max: number },
): number {
  const value = values[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !/^\d+$/.test(value))
    throw new UsageError(`--${name} must be a whole number`);
  const parsed = Number.parseInt(value, 10);
  if (parsed < bounds.min || parsed > bounds.max)
    throw new UsageError(`--${name} must be from ${bounds.min} to ${bounds.max}`);
  return parsed;
}

function parseOptions(argv: readonly string[]): LoadOptions {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        'duration-s': { type: 'string' },
        'rate-per-s': { type: 'string' },
        connections: { type: 'string' },
        accounts: { type: 'string' },
        'hot-share-percent': { type: 'string' },
        'retry-share-percent': { type: 'string' },
        velocity: { type: 'string' },
        'settle-timeout-s': { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean' },
      },
      strict: true,
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const { values } = parsed;
  if (values.help === true) throw new UsageError('');
  const velocity = values.velocity ?? 'lifted';
  if (velocity !== 'lifted' && velocity !== 'default')
    throw new UsageError('--velocity must be lifted or default');
  const hotSharePercent = integerFlag(values, 'hot-share-percent', 10, { min: 0, max: 50 });
  return {
    durationS: integerFlag(values, 'duration-s', 60, { min: 1, max: durationSMax }),
    ratePerS:
      values['rate-per-s'] === undefined
        ? undefined
        : integerFlag(values, 'rate-per-s', 0, { min: 1, max: 1_000_000 }),
    connections: integerFlag(values, 'connections', 64, { min: 1, max: connectionCountMax }),
    accountCount: integerFlag(values, 'accounts', 100, { min: 2, max: accountCountMax }),
    hotSharePercent,
    retrySharePercent: integerFlag(values, 'retry-share-percent', 5, { min: 0, max: 50 }),
    velocity,
    settleTimeoutS: integerFlag(values, 'settle-timeout-s', 120, { min: 1, max: settleTimeoutSMax }),
    json: values.json === true,
  };
}

/** The run's accounts. */
interface Accounts {
  readonly funding: string;
  readonly ordinary: readonly string[];
  readonly hotDebit: string;
  readonly hotCredit: string;
  /** Every account above, the funding account included. */
  readonly all: readonly string[];
}

/** A transfer the run asked for and was told was accepted (or funded itself). */
interface ExpectedTransfer {
  readonly id: string;
  readonly debitAccountId: string;
  readonly creditAccountId: string;
  readonly amount: bigint;
}

/** One idempotency key of the run: its request, and what the API said about it. */
interface KeyState {
  readonly key: string;
  readonly body: string;
  readonly debitAccountId: string;
  readonly creditAccountId: string;
  readonly amount: bigint;
  /** The transfer id of the first 202; every later 202 must carry the same. */
  acceptedId: string | undefined;
  /** Whether the 202 came only while resolving, after the timed load. */
  acceptedWhileResolving: boolean;
  /** Requests sent under this key that have no answer yet (a timeout leaves one behind). */
  outstanding: number;
  /** The last answer's status; 0 while it has none. */
  lastStatus: number;
}

class Problems {
  public readonly listed: string[] = [];
  public count = 0;

  public add(problem: string): void {
    this.count++;
    if (this.listed.length < problemListMax) this.listed.push(problem);
  }
}

type Log = (line: string) => void;

function acceptedTransferId(answer: { status: number; body: unknown }): string | undefined {
  if (answer.status !== 202 || typeof answer.body !== 'object' || answer.body === null) return undefined;
  const id = (answer.body as { id?: unknown }).id;
  return typeof id === 'string' ? id : undefined;
}

// ---------------------------------------------------------------------------------------------
// Setup

async function createAccount(api: LedgerApi, flags: Record<string, boolean>, runId: string): Promise<string> {
  const answer = await api.expect(201, 'POST', '/v1/accounts', {
    body: JSON.stringify({ currency, flags, metadata: { load_run: runId } }),
  });
  const id = (answer.body as { id?: unknown }).id;
  if (typeof id !== 'string') throw new ApiCallError('POST /v1/accounts answered without an id');
  return id;
}

async function setUp(
  api: LedgerApi,
  options: LoadOptions,
  runId: string,
  log: Log,
): Promise<{ accounts: Accounts; funding: ExpectedTransfer[] }> {
  const startedAtMs = Date.now();
  // The funding account may go below zero; the others may not overdraw, as wallets.
  const funding = await createAccount(api, {}, runId);
  const walletFlags = { debits_must_not_exceed_credits: true };
  const wallets = await mapConcurrently(
    Array.from({ length: options.accountCount + 2 }),
    setupConcurrency,
    () => createAccount(api, walletFlags, runId),
  );
  const [hotDebit, hotCredit, ...ordinary] = wallets as [string, string, ...string[]];
  const accounts: Accounts = { funding, ordinary, hotDebit, hotCredit, all: [funding, ...wallets] };
  if (options.velocity === 'lifted') {
    await mapConcurrently(accounts.all, setupConcurrency, (account) =>
      api.expect(200, 'PUT', `/v1/accounts/${account}/velocity`, { body: JSON.stringify(liftedVelocity) }),
    );
  }
  const fundingTransfers = await mapConcurrently(wallets, setupConcurrency, async (wallet) => {
    const answer = await api.expect(202, 'POST', '/v1/transfers', {
      body: JSON.stringify({
        debit_account_id: funding,
        credit_account_id: wallet,
        amount: fundingPerAccount.toString(),
        currency,
        metadata: { load_run: runId, funding: true },
      }),
      headers: { 'idempotency-key': `load-${runId}-funding-${wallet}` },
    });
    const id = acceptedTransferId(answer);
    if (id === undefined) throw new ApiCallError('a funding transfer was accepted without an id');
    return { id, debitAccountId: funding, creditAccountId: wallet, amount: fundingPerAccount };
  });
  // The load starts on funded accounts, so no transfer is rejected for want of funds.
  await mapConcurrently(fundingTransfers, setupConcurrency, (transfer) =>
    waitUntilPosted(api, transfer.id, 120_000),
  );
  log(
    `set up ${accounts.all.length} accounts and funded them in ${((Date.now() - startedAtMs) / 1000).toFixed(1)} s` +
      ` (hot debit ${hotDebit}, hot credit ${hotCredit})`,
  );
  return { accounts, funding: fundingTransfers };
}

async function waitUntilPosted(api: LedgerApi, transferId: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const answer = await api.callUntilDefinite('GET', `/v1/transfers/${transferId}`);
    const status = (answer.body as { status?: unknown } | undefined)?.status;
    if (answer.status === 200 && status === 'posted') return;
    if (answer.status === 200 && status === 'rejected')
      throw new ApiCallError(`funding transfer ${transferId} was rejected`);
    await sleep(250);
  }
  throw new ApiCallError(`funding transfer ${transferId} was not posted within ${timeoutMs} ms`);
}

// ---------------------------------------------------------------------------------------------
// Load

interface LoadResult {
  readonly elapsedS: number;
  readonly sentCount: number;
  readonly answeredCount: number;
  readonly statusCounts: Record<string, number>;
  /** Transfers accepted during the timed load: keys answered 202, each counted once. */
  readonly acceptedCount: number;
  readonly retrySentCount: number;
  readonly latenciesMs: number[];
  readonly errorCount: number;
}

function randomItem<Item>(items: readonly Item[]): Item {
  return items[Math.floor(Math.random() * items.length)] as Item;
}

/** A new transfer request: a hot account on either side for a share of them, otherwise a random pair. */
function newKeyState(accounts: Accounts, options: LoadOptions, runId: string, sequence: number): KeyState {
  const roll = Math.random() * 100;
  let debitAccountId = randomItem(accounts.ordinary);
  let creditAccountId = randomItem(accounts.ordinary);
  if (roll < options.hotSharePercent) debitAccountId = accounts.hotDebit;
  else if (roll < 2 * options.hotSharePercent) creditAccountId = accounts.hotCredit;
  while (creditAccountId === debitAccountId) creditAccountId = randomItem(accounts.ordinary);
  const amount = BigInt(1 + Math.floor(Math.random() * transferAmountMax));
  return {
    key: `load-${runId}-${sequence}`,
    body: JSON.stringify({
      debit_account_id: debitAccountId,
      credit_account_id: creditAccountId,
      amount: amount.toString(),
      currency,
      metadata: { load_run: runId },
    }),
    debitAccountId,
    creditAccountId,
    amount,
    acceptedId: undefined,
    acceptedWhileResolving: false,
    outstanding: 0,
    lastStatus: 0,
  };
}

/** Records an answer under its key; a 202 with another transfer id than the key's first is a problem. */
function recordAnswer(
  state: KeyState,
  answer: { status: number; body: unknown },
  problems: Problems,
  resolving: boolean,
) {
  state.lastStatus = answer.status;
  if (answer.status !== 202) return;
  const id = acceptedTransferId(answer);
  if (id === undefined) {
    problems.add(`key ${state.key}: 202 without a transfer id`);
    return;
  }
  if (state.acceptedId === undefined) {
    state.acceptedId = id;
    state.acceptedWhileResolving = resolving;
  } else if (state.acceptedId !== id) {
    problems.add(`key ${state.key}: accepted as ${state.acceptedId}, then as ${id}`);
  }
}

async function runLoad(
  target: { url: string; apiKey: string },
  accounts: Accounts,
  options: LoadOptions,
  runId: string,
  keys: KeyState[],
  problems: Problems,
  log: Log,
): Promise<LoadResult> {
  const recent: KeyState[] = [];
  const statusCounts: Record<string, number> = {};
  const latenciesMs: number[] = [];
  let sequence = 0;
  let sentCount = 0;
  let retrySentCount = 0;
  let acceptedCount = 0;
  let errorCount = 0;

  let finish: (result: autocannon.Result) => void = () => undefined;
  let fail: (error: unknown) => void = () => undefined;
  const finished = new Promise<autocannon.Result>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  const instance = autocannon(
    {
      url: target.url,
      connections: options.connections,
      duration: options.durationS,
      timeout: requestTimeoutS,
      ...(options.ratePerS === undefined ? {} : { overallRate: options.ratePerS }),
      requests: [
        {
          method: 'POST',
          path: '/v1/transfers',
          setupRequest: (request, context) => {
            const retry = recent.length > 0 && Math.random() * 100 < options.retrySharePercent;
            let state: KeyState;
            if (retry) {
              state = randomItem(recent);
              retrySentCount++;
            } else {
              state = newKeyState(accounts, options, runId, sequence++);
              keys.push(state);
              recent.push(state);
              if (recent.length > retryKeyWindowSize) recent.shift();
            }
            state.outstanding++;
            sentCount++;
            (context as { state?: KeyState }).state = state;
            return {
              ...request,
              headers: {
                'content-type': 'application/json',
                'x-api-key': target.apiKey,
                'idempotency-key': state.key,
              },
              body: state.body,
            };
          },
          onResponse: (status, body, context) => {
            const state = (context as { state?: KeyState }).state;
            if (state === undefined) return;
            state.outstanding--;
            statusCounts[String(status)] = (statusCounts[String(status)] ?? 0) + 1;
            if (status === 202 && state.acceptedId === undefined) acceptedCount++;
            let parsed: unknown = body;
            try {
              parsed = JSON.parse(body);
            } catch {
              // Not JSON: recorded by status only.
            }
            recordAnswer(state, { status, body: parsed }, problems, false);
          },
        },
      ],
    },
    (error, result) => (error === null || error === undefined ? finish(result) : fail(error)),
  );
  instance.on('response', (_client, _status, _bytes, responseTimeMs) => {
    latenciesMs.push(responseTimeMs);
  });
  instance.on('reqError', () => {
    errorCount++;
  });

  const progressIntervalS = options.durationS <= 15 ? 1 : 5;
  const startedAtMs = Date.now();
  let lastAccepted = 0;
  let lastAtMs = startedAtMs;
  const progress = setInterval(() => {
    const nowMs = Date.now();
    const rate = ((acceptedCount - lastAccepted) * 1000) / Math.max(1, nowMs - lastAtMs);
    lastAccepted = acceptedCount;
    lastAtMs = nowMs;
    const others = Object.entries(statusCounts)
      .filter(([status]) => status !== '202')
      .map(([status, count]) => `${status}:${count}`)
      .join(' ');
    log(
      `${((nowMs - startedAtMs) / 1000).toFixed(0).padStart(4)} s  sent ${sentCount}  accepted ${acceptedCount}` +
        ` (${rate.toFixed(0)}/s now)${others === '' ? '' : `  ${others}`}${errorCount > 0 ? `  no answer ${errorCount}` : ''}`,
    );
  }, progressIntervalS * 1000);
  let result: autocannon.Result;
  try {
    result = await finished;
  } finally {
    clearInterval(progress);
  }
  const answeredCount = Object.values(statusCounts).reduce((sum, count) => sum + count, 0);
  return {
    elapsedS: result.duration,
    sentCount,
    answeredCount,
    statusCounts,
    acceptedCount,
    retrySentCount,
    latenciesMs,
    errorCount,
  };
}

// ---------------------------------------------------------------------------------------------
// Resolve, settle, verify

/**
 * Sends each key whose last answer was not definite (or never came) again, until it gets a
 * definite one. Returns how many keys it resolved, how many of those were accepted, and how many
 * stayed open.
 */
async function resolveOpenKeys(
  api: LedgerApi,
  keys: readonly KeyState[],
  problems: Problems,
): Promise<{ openCount: number; resolvedCount: number; acceptedCount: number; unresolvedCount: number }> {
  const open = keys.filter(
    (state) => state.outstanding > 0 || !isDefinite(state.lastStatus) || state.lastStatus === 0,
  );
  let resolvedCount = 0;
  let acceptedCount = 0;
  let unresolvedCount = 0;
  await mapConcurrently(open, setupConcurrency, async (state) => {
    for (let attempt = 1; attempt <= resolveAttemptCountMax; attempt++) {
      let answer: ApiAnswer | undefined;
      try {
        answer = await api.call('POST', '/v1/transfers', {
          body: state.body,
          headers: { 'idempotency-key': state.key },
        });
      } catch {
        answer = undefined;
      }
      if (answer !== undefined) {
        const wasAccepted = state.acceptedId !== undefined;
        recordAnswer(state, answer, problems, true);
        if (isDefinite(answer.status)) {
          state.outstanding = 0;
          resolvedCount++;
          if (!wasAccepted && state.acceptedId !== undefined) acceptedCount++;
          return;
        }
      }
      await sleep(Math.min(resolveBackoffCapMs, resolveBackoffBaseMs * 2 ** (attempt - 1)));
    }
    unresolvedCount++;
    problems.add(`key ${state.key}: no definite answer after ${resolveAttemptCountMax} retries`);
  });
  return { openCount: open.length, resolvedCount, acceptedCount, unresolvedCount };
}

/** Waits until the transfers queue reads empty twice in a row, or until the deadline. */
async function waitUntilQuiet(api: LedgerApi, deadlineMs: number): Promise<boolean> {
  let emptyReads = 0;
  while (Date.now() < deadlineMs) {
    let depth: number | undefined;
    try {
      const answer = await api.call('GET', '/v1/admin/gauges');
      const queue = (answer.body as { transfers_queue?: Record<string, number> | null } | undefined)
        ?.transfers_queue;
      if (answer.status === 200 && queue !== null && queue !== undefined)
        depth = (queue.visible ?? 0) + (queue.in_flight ?? 0) + (queue.delayed ?? 0);
    } catch {
      depth = undefined;
    }
    emptyReads = depth === 0 ? emptyReads + 1 : 0;
    if (emptyReads >= 2) return true;
    await sleep(settleCheckIntervalMs);
  }
  return false;
}

interface EntryRow {
  readonly transfer_id: string;
  readonly direction: 'debit' | 'credit';
  readonly amount: string;
}

async function readEntries(api: LedgerApi, accountId: string): Promise<EntryRow[]> {
  const entries: EntryRow[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < entryPageCountMax; page++) {
    const query: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
    const answer = await api.expect(
      200,
      'GET',
      `/v1/accounts/${accountId}/entries?limit=${entryPageSize}${query}`,
    );
    const body = answer.body as { items: EntryRow[]; next_cursor: string | null };
    entries.push(...body.items);
    cursor = body.next_cursor;
    if (cursor === null) return entries;
  }
  throw new ApiCallError(`account ${accountId} has more than ${entryPageCountMax} pages of entries`);
}

interface Verification {
  readonly quiet: boolean;
  readonly postedCount: number;
  readonly rejectedCount: number;
  readonly notFinalCount: number;
  readonly invariants: 'hold' | 'violated' | 'unreadable';
  readonly settleS: number;
}

/**
 * Reads the ledger back, once the system is quiet, and compares it with what the run was told.
 * Rounds repeat (until the deadline) while accepted transfers are still queued.
 */
async function settleAndVerify(
  api: LedgerApi,
  accounts: Accounts,
  expected: readonly ExpectedTransfer[],
  options: LoadOptions,
  problems: Problems,
  log: Log,
): Promise<Verification> {
  const startedAtMs = Date.now();
  const deadlineMs = startedAtMs + options.settleTimeoutS * 1000;
  const quiet = await waitUntilQuiet(api, deadlineMs);
  if (!quiet)
    log(`the transfers queue did not read empty within ${options.settleTimeoutS} s; verifying anyway`);
  const expectedById = new Map(expected.map((transfer) => [transfer.id, transfer]));

  for (;;) {
    const found = new Problems();
    const entriesByAccount = await mapConcurrently(accounts.all, setupConcurrency, (account) =>
      readEntries(api, account),
    );
    const seen = new Map<string, { account: string; entry: EntryRow }[]>();
    for (const [index, entries] of entriesByAccount.entries()) {
      const account = accounts.all[index] as string;
      for (const entry of entries) {
        const list = seen.get(entry.transfer_id) ?? [];
        list.push({ account, entry });
        seen.set(entry.transfer_id, list);
      }
    }
    for (const [transferId, list] of seen) {
      if (!expectedById.has(transferId))
        found.add(`transfer ${transferId} on account ${list[0]?.account}: the run was not told about it`);
    }
    let postedCount = 0;
    const unseen: ExpectedTransfer[] = [];
    for (const transfer of expected) {
      const list = seen.get(transfer.id);
      if (list === undefined) {
        unseen.push(transfer);
        continue;
      }
      postedCount++;
      const debits = list.filter((item) => item.entry.direction === 'debit');
      const credits = list.filter((item) => item.entry.direction === 'credit');
      const amount = transfer.amount.toString();
      if (
        debits.length !== 1 ||
        credits.length !== 1 ||
        debits[0]?.account !== transfer.debitAccountId ||
        credits[0]?.account !== transfer.creditAccountId ||
        debits[0]?.entry.amount !== amount ||
        credits[0]?.entry.amount !== amount
      ) {
        found.add(
          `transfer ${transfer.id}: ${debits.length} debit and ${credits.length} credit entries, expected one each of ${amount} on its accounts`,
        );
      }
    }
    let rejectedCount = 0;
    let notFinalCount = 0;
    await mapConcurrently(unseen, setupConcurrency, async (transfer) => {
      const answer = await api.callUntilDefinite('GET', `/v1/transfers/${transfer.id}`);
      const status = (answer.body as { status?: unknown } | undefined)?.status;
      if (answer.status === 200 && status === 'rejected') rejectedCount++;
      else if (answer.status === 200 && status === 'queued') notFinalCount++;
      else if (answer.status === 200 && status === 'posted')
        found.add(`transfer ${transfer.id}: posted, but its entries are not on its accounts`);
      else found.add(`transfer ${transfer.id}: accepted, but GET answers ${answer.status}`);
    });
    if (notFinalCount > 0 && Date.now() < deadlineMs) {
      log(`${notFinalCount} accepted transfers still queued; reading again`);
      await sleep(settleCheckIntervalMs);
      continue;
    }
    if (notFinalCount > 0)
      found.add(`${notFinalCount} accepted transfers were neither posted nor rejected in time`);

    // Totals: each account's equal its entries and what the run expects; their sum is zero.
    const postedIds = new Set([...seen.keys()].filter((id) => expectedById.has(id)));
    const expectedNet = new Map<string, bigint>(accounts.all.map((account) => [account, 0n]));
    for (const transfer of expected) {
      if (!postedIds.has(transfer.id)) continue;
      expectedNet.set(
        transfer.debitAccountId,
        (expectedNet.get(transfer.debitAccountId) ?? 0n) - transfer.amount,
      );
      expectedNet.set(
        transfer.creditAccountId,
        (expectedNet.get(transfer.creditAccountId) ?? 0n) + transfer.amount,
      );
    }
    let netSum = 0n;
    await mapConcurrently(accounts.all, setupConcurrency, async (account, index) => {
      const answer = await api.expect(200, 'GET', `/v1/accounts/${account}`);
      const body = answer.body as Record<string, string>;
      const net = BigInt(body.credits_posted ?? '0') - BigInt(body.debits_posted ?? '0');
      netSum += net;
      let entryNet = 0n;
      for (const entry of entriesByAccount[index] ?? [])
        entryNet += entry.direction === 'credit' ? BigInt(entry.amount) : -BigInt(entry.amount);
      if (net !== entryNet) found.add(`account ${account}: totals say ${net}, its entries ${entryNet}`);
      if (net !== expectedNet.get(account))
        found.add(`account ${account}: totals say ${net}, the run expects ${expectedNet.get(account)}`);
      if (body.debits_pending !== '0' || body.credits_pending !== '0')
        found.add(`account ${account}: pending amounts after the run`);
    });
    if (netSum !== 0n) found.add(`money is not conserved over the run's accounts: they sum to ${netSum}`);

    let invariants: Verification['invariants'] = 'unreadable';
    try {
      const answer = await api.callUntilDefinite('GET', '/v1/admin/invariants?full=true');
      if (answer.status === 200) invariants = 'hold';
      else {
        invariants = answer.status === 500 ? 'violated' : 'unreadable';
        found.add(`GET /v1/admin/invariants answered ${answer.status}: ${JSON.stringify(answer.body)}`);
      }
    } catch (error) {
      found.add(`GET /v1/admin/invariants: ${String(error)}`);
    }
    for (const problem of found.listed) problems.add(problem);
    problems.count += found.count - found.listed.length;
    return {
      quiet,
      postedCount,
      rejectedCount,
      notFinalCount,
      invariants,
      settleS: (Date.now() - startedAtMs) / 1000,
    };
  }
}

// ---------------------------------------------------------------------------------------------
// Main

function roundedMs(value: number): number {
  return Math.round(value * 10) / 10;
}

async function main(): Promise<number> {
  let options: LoadOptions;
  let target: Target;
  try {
    options = parseOptions(process.argv.slice(2));
    target = await resolveTarget();
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    // --help asks for the usage (exit 0); anything else is a mistake (exit 2).
    if (error.message === '') {
      process.stdout.write(`${usage}\n`);
      return 0;
    }
    process.stderr.write(`${error.message}\n\n${usage}\n`);
    return 2;
  }
  const log: Log = (line) => process.stderr.write(`${line}\n`);
  const api = new LedgerApi(target.url, target.apiKey);
  const runId = randomUUID().slice(0, 8);
  const startedAt = new Date().toISOString();
  const loadAverageAtStart = loadavg();
  const problems = new Problems();

  let setup: Awaited<ReturnType<typeof setUp>>;
  try {
    const health = await api.call('GET', '/health');
    if (health.status !== 200) throw new ApiCallError(`GET /health answered ${health.status}`);
    setup = await setUp(api, options, runId, log);
  } catch (error) {
    log(`cannot set up the run on ${target.url}: ${error instanceof Error ? error.message : String(error)}`);
    return 2;
  }
  const { accounts } = setup;
  log(
    `driving POST /v1/transfers for ${options.durationS} s ${options.ratePerS === undefined ? 'as fast as' : `at ${options.ratePerS}/s over`} ${options.connections} connections`,
  );
  const keys: KeyState[] = [];
  const cpuBefore = sampleCpu(target.runtimePid);
  const load = await runLoad(target, accounts, options, runId, keys, problems, log);
  const cpuAfter = sampleCpu(target.runtimePid);
  const loadAverageAtEnd = loadavg();
  // CPU per accepted transfer, per process, over the timed load (the posting runs meanwhile).
  const cpuMsPerAccepted: Record<string, number> = {};
  const cpuCores: Record<string, number> = {};
  if (cpuBefore !== undefined && cpuAfter !== undefined) {
    for (const [label, seconds] of cpuBetween(cpuBefore, cpuAfter)) {
      cpuMsPerAccepted[label] = roundedMs((seconds * 1000) / Math.max(1, load.acceptedCount));
      cpuCores[label] = Math.round((seconds / Math.max(0.001, load.elapsedS)) * 100) / 100;
    }
  }
  const resolved = await resolveOpenKeys(api, keys, problems);
  if (resolved.openCount > 0)
    log(
      `resolved ${resolved.resolvedCount} of ${resolved.openCount} requests left without a definite answer`,
    );
  const expected: ExpectedTransfer[] = [...setup.funding];
  for (const state of keys) {
    if (state.acceptedId === undefined) continue;
    expected.push({
      id: state.acceptedId,
      debitAccountId: state.debitAccountId,
      creditAccountId: state.creditAccountId,
      amount: state.amount,
    });
  }
  log(`verifying ${expected.length - setup.funding.length} accepted transfers once the queue is empty`);
  const verification = await settleAndVerify(api, accounts, expected, options, problems, log);

  const sorted = [...load.latenciesMs].sort((left, right) => left - right);
  const report = {
    target: target.url,
    started_at: startedAt,
    load_average_1m: {
      start: roundedMs(loadAverageAtStart[0] ?? 0),
      end: roundedMs(loadAverageAtEnd[0] ?? 0),
    },
    options: {
      duration_s: options.durationS,
      rate_per_s: options.ratePerS ?? null,
      connections: options.connections,
      accounts: options.accountCount,
      hot_share_percent: options.hotSharePercent,
      retry_share_percent: options.retrySharePercent,
      velocity: options.velocity,
    },
    elapsed_s: load.elapsedS,
    requests: {
      sent: load.sentCount,
      answered: load.answeredCount,
      retries_sent: load.retrySentCount,
      no_answer: load.errorCount,
    },
    statuses: load.statusCounts,
    accepted: load.acceptedCount,
    accepted_per_s: roundedMs(load.acceptedCount / Math.max(1, load.elapsedS)),
    latency_ms: {
      p50: roundedMs(quantile(sorted, 0.5)),
      p95: roundedMs(quantile(sorted, 0.95)),
      p99: roundedMs(quantile(sorted, 0.99)),
      max: roundedMs(sorted.at(-1) ?? 0),
    },
    cpu_ms_per_accepted: cpuMsPerAccepted,
    cpu_cores: cpuCores,
    resolve: {
      open: resolved.openCount,
      resolved: resolved.resolvedCount,
      accepted: resolved.acceptedCount,
      unresolved: resolved.unresolvedCount,
    },
    ledger: {
      transfers_accepted: expected.length - setup.funding.length,
      posted: verification.postedCount - setup.funding.length,
      rejected: verification.rejectedCount,
      not_final: verification.notFinalCount,
      quiet: verification.quiet,
      settle_s: roundedMs(verification.settleS),
      invariants: verification.invariants,
    },
    consistent: problems.count === 0,
    problem_count: problems.count,
    problems: problems.listed,
  };
  if (options.json) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
  } else {
    const statuses = Object.entries(load.statusCounts)
      .sort()
      .map(([status, count]) => `${status}: ${count}`)
      .join(', ');
    process.stdout.write(
      [
        `target            ${report.target} (load average ${report.load_average_1m.start} → ${report.load_average_1m.end})`,
        `accepted          ${report.accepted} in ${report.elapsed_s} s = ${report.accepted_per_s} transfers/s`,
        `latency ms        p50 ${report.latency_ms.p50}  p95 ${report.latency_ms.p95}  p99 ${report.latency_ms.p99}  max ${report.latency_ms.max}`,
        `statuses          ${statuses}${load.errorCount > 0 ? `, no answer: ${load.errorCount}` : ''}`,
        `cpu ms/accepted   ${
          Object.entries(cpuMsPerAccepted)
            .map(([label, ms]) => `${label} ${ms} (${cpuCores[label]} cores)`)
            .join(', ') || "not read (the target is not this machine's npm start)"
        }`,
        `retries           ${load.retrySentCount} sent under an earlier key; ${resolved.openCount} left open, ${resolved.unresolvedCount} unresolved`,
        `ledger            ${report.ledger.posted} posted, ${report.ledger.rejected} rejected, ${report.ledger.not_final} not final, settled in ${report.ledger.settle_s} s; invariants ${report.ledger.invariants}`,
        report.consistent ? 'consistent        yes' : `consistent        NO: ${problems.count} problems`,
        ...problems.listed.map((problem) => `  - ${problem}`),
        '',
      ].join('\n'),
    );
  }
  return problems.count === 0 ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 2;
  },
);
