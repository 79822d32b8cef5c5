/**
 * `npm run bench`: measures the posting path end to end. Transfers go as SQS-shaped records
 * through an in-memory FIFO queue and event source mapping (./fifo-queue) into the real transfer
 * consumer, posting service and Postgres store, on a ledger of 100,000 funded accounts.
 *
 * Postgres is the server DATABASE_URL names (the bench makes, uses and drops its own database
 * there) or an embedded one with default durability (fsync on). Four workloads run in turn:
 * `uniform` (random pairs), `hot_debit` (one account pays everyone: one message group, so its
 * batches are serial, as on a real FIFO queue), `hot_credit` (everyone pays one account) and
 * `two_phase` (random pairs, half of them pending transfers, each later posted, in full or in part,
 * or voided). After each, the ledger's invariants are checked and every transfer must have its
 * result exactly once.
 *
 * With the ledger sealer beside the consumers (`--chain on`, the default, as deployed), after each
 * workload the rest of the journal is sealed and the whole chain recomputed from the entries;
 * `--chain off` runs without it, `--chain both` runs each workload twice, off then on, so the
 * chain's cost is measured in one run.
 *
 * Usage: npm run bench -- [--transfers N] [--consumers N (default: one per core, at least 2)] [--warmup N] [--time-limit-s S] [--chain on|off|both] [--json]
 * Progress goes to stderr; stdout gets a table, or with --json one JSON line.
 */
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Logger } from '@aws-lambda-powertools/logger';
import pg from 'pg';
import transferConsumer from '../../functions/transfer-consumer';
import { type PostgresServer, projectRoot, startEmbeddedPostgres } from '../../infra/local/postgres';
import { PostgresLedgerChainStore } from '../../shared/adapters/postgres/ledger-chain-store';
import { PostgresLedgerStore, postBatchSizeMax } from '../../shared/adapters/postgres/ledger-store';
import { migrate, readMigrations } from '../../shared/adapters/postgres/migrate';
import { createPool } from '../../shared/adapters/postgres/pool';
import { type AccountId, newAccountId, newTransferId } from '../../shared/domain/ids';
import { type CurrencyCode, parseCurrency } from '../../shared/domain/money';
import {
  type LedgerCommand,
  messageGroupOf,
  type ReferringCommand,
  type TransferCommand,
  toTransferMessage,
} from '../../shared/domain/transfer';
import { defaultRedeliveryBackoff } from '../../shared/handlers/redelivery';
import { sqsBatchHandler } from '../../shared/handlers/sqs';
import type { LedgerStore, PoisonRecord, PostBatchOutcome } from '../../shared/ports/ledger-store';
import { LedgerChainService } from '../../shared/services/ledger-chain';
import { PostingService } from '../../shared/services/posting-service';
import { dispatch, FifoQueue, type SqsBatchHandler } from './fifo-queue';

const benchDatabaseName = 'ledgerx_bench';
/**
 * Concurrent consumers by default: one per core, at least two. The consumers, the bench and the
 * database share this machine's cores; more consumers than cores only queue for them, which adds
 * to every batch's time and nothing to throughput (measured on 2 cores: 3 and 4 consumers gave the
 * same transfers/s as 2, and p99 batch times of 20 to 35 ms instead of 12 to 20 ms).
 */
const defaultConsumerCount = Math.max(2, availableParallelism());
const accountCount = 100_000;
const accountInsertChunkSize = 10_000;
/** What every account is funded with; far more than any workload can move out of it. */
const fundingPerAccount = 1_000_000_000n;
/** Transfers move 1 to this many minor units. */
const transferAmountMax = 100;
/** A message received this many times would be in the dead-letter queue: the run fails. */
const receiveCountMax = 10;
/** No setup or verification statement (seeding, invariants) may run longer than this. */
const statementTimeoutMs = 600_000;
const workloadNames = ['uniform', 'hot_debit', 'hot_credit', 'two_phase'] as const;
/**
 * In `two_phase`, how many messages after a pending transfer its post or void is sent: far enough
 * that most batches hold holds and resolutions of different transfers, as under real traffic.
 */
const resolutionLagCount = 200;
type WorkloadName = (typeof workloadNames)[number];

interface BenchOptions {
  readonly transferCount: number;
  readonly consumerCount: number;
  readonly warmupCount: number;
  readonly timeLimitMs: number;
  readonly json: boolean;
  /** The workloads to run, in the usual order; all of them unless `--workloads a,b` names some. */
  readonly workloads: readonly WorkloadName[];
  /**
   * Whether the ledger sealer runs beside the consumers while a workload is measured: `on` (as
   * deployed), `off`, or `both` (each workload twice in the same run, off then on).
   */
  readonly chain: 'on' | 'off' | 'both';
}

/** The seeded ledger: the accounts transfers move between, and the two hot ones. */
interface Ledger {
  readonly accountIds: readonly AccountId[];
  readonly hotDebitAccountId: AccountId;
  readonly hotCreditAccountId: AccountId;
}

interface WorkloadResult {
  /** The workload's name, with `+chain` when the sealer ran beside it. */
  readonly name: string;
  readonly transferCount: number;
  readonly transfersPerS: number;
  readonly batchMsP50: number;
  readonly batchMsP99: number;
  readonly batchCount: number;
  readonly failedRecordCount: number;
  readonly invocationErrorCount: number;
  readonly serializationRetryCount: number;
  readonly elapsedMs: number;
}

/** Totals of one account, as bigint minor units. */
interface Totals {
  debits: bigint;
  credits: bigint;
}

const usd = currency('USD');

function currency(code: string): CurrencyCode {
  const parsed = parseCurrency(code);
  if (parsed === undefined) throw new Error(`assertion failed: ${code} is a known currency`);
  return parsed;
}

function log(message: string): void {
  console.error(`[bench] ${message}`);
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function parseOptions(argv: readonly string[]): BenchOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      transfers: { type: 'string', default: '100000' },
      consumers: { type: 'string', default: String(defaultConsumerCount) },
      warmup: { type: 'string', default: '1000' },
      'time-limit-s': { type: 'string', default: '900' },
      json: { type: 'boolean', default: false },
      workloads: { type: 'string', default: workloadNames.join(',') },
      chain: { type: 'string', default: 'on' },
    },
    strict: true,
  });
  if (values.chain !== 'on' && values.chain !== 'off' && values.chain !== 'both') {
    throw new Error('--chain takes on, off or both');
  }
  return {
    transferCount: integerOption('--transfers', values.transfers, 1, 10_000_000),
    consumerCount: integerOption('--consumers', values.consumers, 1, 64),
    warmupCount: integerOption('--warmup', values.warmup, 0, 1_000_000),
    timeLimitMs: integerOption('--time-limit-s', values['time-limit-s'], 1, 86_400) * 1000,
    json: values.json,
    workloads: workloadsOption(values.workloads),
    chain: values.chain,
  };
}

function workloadsOption(value: string): WorkloadName[] {
  const named = new Set(value.split(','));
  for (const name of named) {
    if (!(workloadNames as readonly string[]).includes(name)) {
      throw new Error(`--workloads takes a comma-separated list of ${workloadNames.join(', ')}`);
    }
  }
  return workloadNames.filter((name) => named.has(name));
}

function integerOption(name: string, value: string, min: number, max: number): number {
  const parsed = /^\d{1,9}$/.test(value) ? Number.parseInt(value, 10) : Number.NaN;
  if (!(parsed >= min && parsed <= max)) throw new Error(`${name} must be an integer from ${min} to ${max}`);
  return parsed;
}

function databaseUrl(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, statement_timeout: statementTimeoutMs });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/**
 * Counts serialization retries from the attempt count each batch reports, and the errors the
 * store throws by name with the first cause seen; everything else is the real store's doing.
 */
class RetryCountingLedgerStore implements LedgerStore {
  public retryCount = 0;
  public readonly errors = new Map<string, { count: number; firstCause: string }>();

  public constructor(private readonly store: LedgerStore) {}

  public postBatch(
    transfers: readonly TransferCommand[],
    poison: readonly PoisonRecord[],
    receivedAt?: Date,
  ): Promise<PostBatchOutcome> {
    return this.counted(() => this.store.postBatch(transfers, poison, receivedAt));
  }

  public postSet(legs: readonly TransferCommand[], receivedAt?: Date): Promise<PostBatchOutcome> {
    return this.counted(() => this.store.postSet(legs, receivedAt));
  }

  private async counted(post: () => Promise<PostBatchOutcome>): Promise<PostBatchOutcome> {
    try {
      const outcome = await post();
      this.retryCount += Math.max(0, outcome.attemptCount - 1);
      return outcome;
    } catch (error) {
      const name = error instanceof Error ? error.name : typeof error;
      const seen = this.errors.get(name);
      if (seen === undefined) this.errors.set(name, { count: 1, firstCause: describeCause(error) });
      else seen.count += 1;
      throw error;
    }
  }
}

function describeCause(error: unknown): string {
  const cause = error instanceof Error && error.cause !== undefined ? error.cause : error;
  const code =
    typeof cause === 'object' && cause !== null && 'code' in cause ? ` (${String(cause.code)})` : '';
  return `${cause instanceof Error ? cause.message : String(cause)}${code}`;
}

function randomIndex(count: number): number {
  return Math.floor(Math.random() * count);
}

function randomAmount(): bigint {
  return BigInt(1 + randomIndex(transferAmountMax));
}

function transfer(debitAccountId: AccountId, creditAccountId: AccountId, amount: bigint): TransferCommand {
  return {
    id: newTransferId(),
    debitAccountId,
    creditAccountId,
    amount,
    currency: usd,
    metadata: {},
    acceptedAt: new Date().toISOString(),
  };
}

function randomAccount(ledger: Ledger): AccountId {
  const id = ledger.accountIds[randomIndex(ledger.accountIds.length)];
  if (id === undefined) throw new Error('assertion failed: the random index is in range');
  return id;
}

/** A random account other than `except`. */
function otherAccount(ledger: Ledger, except: AccountId): AccountId {
  for (let attempt = 0; attempt < 100; attempt += 1) {
    const id = randomAccount(ledger);
    if (id !== except) return id;
  }
  throw new Error('assertion failed: a ledger of many accounts has one other than a given one');
}

/** How each workload picks a transfer's accounts. */
const workloadTransfers: Readonly<Record<WorkloadName, (ledger: Ledger) => TransferCommand>> = {
  uniform: (ledger) => {
    const debitAccountId = randomAccount(ledger);
    return transfer(debitAccountId, otherAccount(ledger, debitAccountId), randomAmount());
  },
  hot_debit: (ledger) =>
    transfer(ledger.hotDebitAccountId, otherAccount(ledger, ledger.hotDebitAccountId), randomAmount()),
  hot_credit: (ledger) =>
    transfer(otherAccount(ledger, ledger.hotCreditAccountId), ledger.hotCreditAccountId, randomAmount()),
  // Random pairs, as `uniform`; planCommands makes half of them pending and resolves them.
  two_phase: (ledger) => {
    const debitAccountId = randomAccount(ledger);
    return transfer(debitAccountId, otherAccount(ledger, debitAccountId), randomAmount());
  },
};

function planTransfers(name: WorkloadName, ledger: Ledger, count: number): TransferCommand[] {
  return Array.from({ length: count }, () => workloadTransfers[name](ledger));
}

/**
 * The commands of a workload, in the order they are sent. For `two_phase`, every second transfer
 * is pending (a timeout no run reaches), and each pending one is followed `resolutionLagCount`
 * messages later by its post (half of them, of a random part of the amount or all of it) or its
 * void, named as the API names it (with the pending transfer's accounts, so the engine finds the
 * hold by its key).
 */
function planCommands(name: WorkloadName, ledger: Ledger, count: number): LedgerCommand[] {
  const transfers = planTransfers(name, ledger, count);
  if (name !== 'two_phase') return transfers;
  const commands: LedgerCommand[] = [];
  const due: { readonly at: number; readonly command: ReferringCommand }[] = [];
  transfers.forEach((item, index) => {
    while (due.length > 0 && (due[0]?.at ?? Number.POSITIVE_INFINITY) <= index) {
      const next = due.shift();
      if (next !== undefined) commands.push(next.command);
    }
    if (index % 2 === 0) {
      commands.push(item);
      return;
    }
    const pending: TransferCommand = { ...item, pending: { timeoutS: 3600 } };
    commands.push(pending);
    const post = randomIndex(2) === 0;
    // A partial post: a random part of the amount, from 1 to all of it.
    const part = 1n + (randomAmount() % item.amount);
    due.push({
      at: index + resolutionLagCount,
      command: {
        kind: post ? 'post_pending' : 'void_pending',
        id: newTransferId(),
        referenceId: pending.id,
        amount: post && randomIndex(2) === 0 ? part : undefined,
        metadata: {},
        acceptedAt: new Date().toISOString(),
        referenced: {
          debitAccountId: pending.debitAccountId,
          creditAccountId: pending.creditAccountId,
          amount: pending.amount,
          currency: pending.currency,
        },
      },
    });
  });
  for (const next of due) commands.push(next.command);
  return commands;
}

/** What each command must end as, and the money it must move (posted), by id. */
interface Expected {
  readonly result: 'posted' | 'pending' | 'voided';
  readonly debitAccountId: AccountId;
  readonly creditAccountId: AccountId;
  readonly postedAmount: bigint;
}

function expectedOf(commands: readonly LedgerCommand[]): Map<string, Expected> {
  const expected = new Map<string, Expected>();
  const byId = new Map<string, TransferCommand>();
  for (const command of commands) {
    if (!('kind' in command)) {
      byId.set(command.id, command);
      expected.set(command.id, {
        result: command.pending === undefined ? 'posted' : 'pending',
        debitAccountId: command.debitAccountId,
        creditAccountId: command.creditAccountId,
        postedAmount: command.pending === undefined ? command.amount : 0n,
      });
      continue;
    }
    const pending = byId.get(command.referenceId);
    if (pending === undefined) throw new Error('assertion failed: a resolution follows its pending transfer');
    expected.set(command.id, {
      result: command.kind === 'void_pending' ? 'voided' : 'posted',
      debitAccountId: pending.debitAccountId,
      creditAccountId: pending.creditAccountId,
      postedAmount: command.kind === 'void_pending' ? 0n : (command.amount ?? pending.amount),
    });
  }
  return expected;
}

/**
 * Inserts the accounts in bulk and funds every one through the real posting path, so that each
 * account's totals equal its entries from the start.
 */
async function seed(client: pg.Client, pool: pg.Pool, options: BenchOptions): Promise<Ledger> {
  const startedMs = performance.now();
  const accountIds = Array.from({ length: accountCount }, newAccountId);
  const fundingAccountId = newAccountId();
  const [hotDebitAccountId, hotCreditAccountId] = accountIds;
  if (hotDebitAccountId === undefined || hotCreditAccountId === undefined) {
    throw new Error('assertion failed: the ledger has two accounts to make hot');
  }
  await client.query(`insert into ledger.accounts (id, currency) values ($1, $2)`, [fundingAccountId, usd]);
  for (let start = 0; start < accountIds.length; start += accountInsertChunkSize) {
    await client.query(
      `insert into ledger.accounts (id, currency, debits_must_not_exceed_credits)
       select id, $2, true from unnest($1::uuid[]) as a(id)`,
      [accountIds.slice(start, start + accountInsertChunkSize), usd],
    );
  }
  const insertedMs = performance.now();
  log(`inserted ${accountCount + 1} accounts in ${seconds(insertedMs - startedMs)}`);

  // The hot debit account pays for every transfer of every workload at the largest amount.
  const runsPerWorkload = options.chain === 'both' ? 2 : 1;
  const transferCountMax = BigInt(
    runsPerWorkload * workloadNames.length * (options.transferCount + options.warmupCount),
  );
  const hotFunding = fundingPerAccount + transferCountMax * BigInt(transferAmountMax);
  const store = new PostgresLedgerStore(pool);
  for (let start = 0; start < accountIds.length; start += postBatchSizeMax) {
    const batch = accountIds
      .slice(start, start + postBatchSizeMax)
      .map((id) => transfer(fundingAccountId, id, id === hotDebitAccountId ? hotFunding : fundingPerAccount));
    const { results } = await store.postBatch(batch, []);
    const notPosted = results.filter((result) => result !== 'posted');
    if (notPosted.length > 0)
      throw new Error(`funding was not posted: ${[...new Set(notPosted)].join(', ')}`);
  }
  const fundedMs = performance.now();
  log(`funded ${accountCount} accounts through postBatch in ${seconds(fundedMs - insertedMs)}`);
  // Fresh statistics, as a long-lived ledger would have, so plans are not made for empty tables.
  await client.query('vacuum analyze ledger.accounts, ledger.transfers, ledger.entries, ledger.outbox');
  // The seeding wrote a lot of WAL; write it out now rather than during the first workload.
  await client.query('checkpoint');
  log(`seeding took ${seconds(performance.now() - startedMs)} (not measured)`);
  return { accountIds, hotDebitAccountId, hotCreditAccountId };
}

async function accountTotals(client: pg.Client, ids: readonly string[]): Promise<Map<string, Totals>> {
  const { rows } = await client.query<{ id: string; debits_posted: string; credits_posted: string }>(
    'select id, debits_posted, credits_posted from ledger.accounts where id = any($1::uuid[])',
    [ids],
  );
  return new Map(
    rows.map((row) => [row.id, { debits: BigInt(row.debits_posted), credits: BigInt(row.credits_posted) }]),
  );
}

async function transferCount(client: pg.Client): Promise<bigint> {
  const { rows } = await client.query<{ count: string }>('select count(*) as count from ledger.transfers');
  return BigInt(rows[0]?.count ?? '0');
}

/** The change each account's posted totals must show after the commands. */
function expectedDeltas(commands: readonly LedgerCommand[]): Map<string, Totals> {
  const deltas = new Map<string, Totals>();
  const delta = (id: string): Totals => {
    let totals = deltas.get(id);
    if (totals === undefined) {
      totals = { debits: 0n, credits: 0n };
      deltas.set(id, totals);
    }
    return totals;
  };
  for (const item of expectedOf(commands).values()) {
    delta(item.debitAccountId).debits += item.postedAmount;
    delta(item.creditAccountId).credits += item.postedAmount;
  }
  return deltas;
}

/**
 * Checks that every command was recorded once with the result it must have (a plain transfer or
 * a post `posted`, a pending one `pending`, a void `voided`), that the posted ones have their two
 * entries and the amounts they must, that nothing else was recorded, that every hold the workload
 * made was resolved, and that each touched account moved by exactly the money posted.
 */
async function verifyRecorded(
  client: pg.Client,
  commands: readonly LedgerCommand[],
  before: { readonly transferCount: bigint; readonly totals: ReadonlyMap<string, Totals> },
): Promise<void> {
  const expected = expectedOf(commands);
  const ids = [...expected.keys()];
  const { rows } = await client.query<{ id: string; status: string; amount: string | null }>(
    'select id, status, amount::text from ledger.transfers where id = any($1::uuid[])',
    [ids],
  );
  if (rows.length !== ids.length)
    throw new Error(`expected ${ids.length} transfers recorded, found ${rows.length}`);
  let postedCount = 0;
  for (const row of rows) {
    const wanted = expected.get(row.id);
    if (wanted === undefined || row.status !== wanted.result) {
      throw new Error(`transfer ${row.id} is ${row.status}, expected ${wanted?.result}`);
    }
    if (wanted.result === 'posted') {
      postedCount += 1;
      if (row.amount !== String(wanted.postedAmount)) {
        throw new Error(`transfer ${row.id} posted ${row.amount}, expected ${wanted.postedAmount}`);
      }
    }
  }
  const entries = await client.query<{ count: string }>(
    'select count(*) as count from ledger.entries where transfer_id = any($1::uuid[])',
    [ids],
  );
  if (entries.rows[0]?.count !== String(2 * postedCount)) {
    throw new Error(`expected ${2 * postedCount} entries, found ${entries.rows[0]?.count}`);
  }
  const open = await client.query<{ count: string }>(
    `select count(*) as count from ledger.pending_transfers
      where transfer_id = any($1::uuid[]) and status = 'pending'`,
    [ids],
  );
  if (open.rows[0]?.count !== '0') throw new Error(`${open.rows[0]?.count} holds were left unresolved`);
  const after = await transferCount(client);
  if (after - before.transferCount !== BigInt(ids.length)) {
    throw new Error(`expected ${ids.length} new transfers in all, found ${after - before.transferCount}`);
  }
  const deltas = expectedDeltas(commands);
  const totals = await accountTotals(client, [...deltas.keys()]);
  for (const [id, delta] of deltas) {
    const was = before.totals.get(id);
    const now = totals.get(id);
    if (was === undefined || now === undefined) throw new Error(`account ${id} is missing`);
    if (now.debits - was.debits !== delta.debits || now.credits - was.credits !== delta.credits) {
      throw new Error(
        `account ${id} moved by debits ${now.debits - was.debits}, credits ${now.credits - was.credits}; ` +
          `expected ${delta.debits}, ${delta.credits}`,
      );
    }
  }
}

async function checkInvariants(client: pg.Client): Promise<void> {
  const startedMs = performance.now();
  const { rows } = await client.query<{ invariant: string; subject: string; detail: string }>(
    'select * from ledger.check_invariants()',
  );
  if (rows.length > 0) {
    for (const row of rows.slice(0, 20)) log(`  ${row.invariant} ${row.subject}: ${row.detail}`);
    throw new Error(`ledger.check_invariants() returned ${rows.length} violations`);
  }
  log(`invariants ok (${seconds(performance.now() - startedMs)})`);
}

function toMessages(commands: readonly LedgerCommand[]) {
  return commands.map((item) => ({
    body: JSON.stringify(toTransferMessage(item)),
    // As the API sends them: a debit account's transfers (and the posts and voids of its pending
    // ones) are posted in order, one batch at a time.
    messageGroupId: messageGroupOf(item),
    deduplicationId: item.id,
  }));
}

/** The nearest-rank percentile of a sorted list. */
function percentile(sorted: readonly number[], fraction: number): number {
  if (sorted.length === 0) return 0;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1));
  return sorted[index] ?? 0;
}

function roundMs(ms: number): number {
  return Math.round(ms * 100) / 100;
}

async function runWorkload(
  name: WorkloadName,
  ledger: Ledger,
  client: pg.Client,
  consume: SqsBatchHandler,
  store: RetryCountingLedgerStore,
  options: BenchOptions,
  sealer: Sealer | undefined,
): Promise<WorkloadResult> {
  const warmup = planCommands(name, ledger, options.warmupCount);
  const measured = planCommands(name, ledger, options.transferCount);
  const all = [...warmup, ...measured];
  const before = {
    transferCount: await transferCount(client),
    totals: await accountTotals(client, [...expectedDeltas(all).keys()]),
  };
  const run = async (transfers: readonly LedgerCommand[]) => {
    const queue = new FifoQueue(receiveCountMax);
    queue.send(toMessages(transfers));
    return dispatch(queue, consume, {
      consumerCount: options.consumerCount,
      deadlineMs: performance.now() + options.timeLimitMs,
      // Each message is received at most receiveCountMax times, and each batch takes one at least.
      batchCountMax: transfers.length * receiveCountMax,
    }).catch((error: unknown) => {
      throw new Error(`workload ${name} failed: ${error instanceof Error ? error.message : String(error)}`, {
        cause: error,
      });
    });
  };

  if (warmup.length > 0) {
    const report = await run(warmup);
    log(`${name}: warmed up with ${warmup.length} transfers in ${seconds(report.elapsedMs)}`);
  }
  const retriesBefore = store.retryCount;
  store.errors.clear();
  // The sealer starts caught up (the seeded funding and earlier workloads sealed), so what it does
  // while the workload is measured is sealing that workload's entries.
  await sealer?.catchUp();
  sealer?.start();
  const report = await run(measured).finally(() => sealer?.stop());
  const serializationRetryCount = store.retryCount - retriesBefore;
  if (report.invocationErrorCount > 0) {
    log(
      `${name}: ${report.invocationErrorCount} invocations threw; last: ${String(report.lastInvocationError)}`,
    );
  }
  if (report.failedRecordCount > 0) {
    log(`${name}: WARNING ${report.failedRecordCount} records came back as batch item failures`);
  }
  for (const [errorName, seen] of store.errors) {
    log(`${name}: the store threw ${errorName} ${seen.count} times; first cause: ${seen.firstCause}`);
  }
  const sorted = [...report.batchDurationsMs].sort((a, b) => a - b);
  const result: WorkloadResult = {
    name: sealer === undefined ? name : `${name}+chain`,
    transferCount: measured.length,
    transfersPerS: Math.round(measured.length / (report.elapsedMs / 1000)),
    batchMsP50: roundMs(percentile(sorted, 0.5)),
    batchMsP99: roundMs(percentile(sorted, 0.99)),
    batchCount: report.batchDurationsMs.length,
    failedRecordCount: report.failedRecordCount,
    invocationErrorCount: report.invocationErrorCount,
    serializationRetryCount,
    elapsedMs: report.elapsedMs,
  };
  log(
    `${name}: ${result.transferCount} transfers in ${seconds(result.elapsedMs)}: ` +
      `${result.transfersPerS} transfers/s, batch p50 ${result.batchMsP50} ms, p99 ${result.batchMsP99} ms, ` +
      `${result.batchCount} batches (${(report.recordCount / result.batchCount).toFixed(1)} records each), ` +
      `${serializationRetryCount} serialization retries, ${result.failedRecordCount} failed records`,
  );
  await checkInvariants(client);
  await verifyRecorded(client, all, before);
  log(`${name}: all ${all.length} transfers (warm-up included) recorded exactly once, as expected`);
  if (sealer !== undefined) await sealer.sealAndVerify(result.name);
  return result;
}

/** Pause between sealer runs while a workload is measured. */
const sealerPauseMs = 200;
/** Sealer runs after a workload until everything is sealed; each run seals up to a million entries. */
const sealerCatchUpRunCountMax = 100;

/**
 * The ledger sealer beside the consumers, on a connection of its own, as the deployed scheduled
 * function runs beside them. It runs back to back (with a short pause) rather than once a minute,
 * so that sealing keeps up within the measured window and its whole cost lands in it; the work
 * per entry is the same either way.
 */
class Sealer {
  private running: Promise<void> | undefined;
  private stopping = false;
  public sealedCount = 0;

  public constructor(
    private readonly chain: LedgerChainService,
    private readonly client: pg.Client,
  ) {}

  public start(): void {
    this.stopping = false;
    this.running = (async () => {
      while (!this.stopping) {
        const outcome = await this.chain.sealRun({
          entryCountMax: 5_000,
          callCountMax: 20,
          horizonWaitMs: 20,
        });
        this.sealedCount += outcome.sealedCount;
        await new Promise((resolve) => setTimeout(resolve, sealerPauseMs));
      }
    })();
  }

  public async stop(): Promise<void> {
    this.stopping = true;
    await this.running;
  }

  /** Seals every entry committed so far; returns the highest entry id. */
  public async catchUp(): Promise<bigint> {
    const { rows } = await this.client.query<{ id: string }>(
      'select coalesce(max(id), 0)::text as id from ledger.entries',
    );
    const target = BigInt(rows[0]?.id ?? '0');
    for (let run = 0; run < sealerCatchUpRunCountMax; run += 1) {
      const outcome = await this.chain.sealRun({
        entryCountMax: 10_000,
        callCountMax: 100,
        horizonWaitMs: 20,
      });
      if ((outcome.sealedThroughEntryId ?? 0n) >= target) break;
    }
    return target;
  }

  /** Seals what the workload left, then recomputes the whole chain from the entries. */
  public async sealAndVerify(name: string): Promise<void> {
    const target = await this.catchUp();
    const startedMs = performance.now();
    const summary = await this.chain.verifyChain({ entryCountMax: 100_000, stepCountMax: 1_000 });
    if (summary.status !== 'ok' || summary.sealedThroughEntryId < target) {
      throw new Error(
        `${name}: the ledger chain does not verify: ${JSON.stringify(summary, (_, value) => (typeof value === 'bigint' ? value.toString() : value))}`,
      );
    }
    log(
      `${name}: chain ok, ${summary.checkedCount} entries verified in ${seconds(performance.now() - startedMs)}, head ${summary.headHash}`,
    );
  }
}

function printTable(results: readonly WorkloadResult[]): void {
  const header = ['workload', 'transfers', 'transfers/s', 'p50 ms', 'p99 ms', 'batches', 'retries', 'failed'];
  const rows = results.map((result) => [
    result.name,
    String(result.transferCount),
    String(result.transfersPerS),
    result.batchMsP50.toFixed(2),
    result.batchMsP99.toFixed(2),
    String(result.batchCount),
    String(result.serializationRetryCount),
    String(result.failedRecordCount),
  ]);
  const widths = header.map((cell, column) =>
    Math.max(cell.length, ...rows.map((row) => row[column]?.length ?? 0)),
  );
  const format = (row: readonly string[]) =>
    row
      .map((cell, column) =>
        column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0),
      )
      .join('  ');
  console.log(format(header));
  for (const row of rows) console.log(format(row));
  console.log('invariants: ok');
}

function toJson(results: readonly WorkloadResult[]): string {
  const output: Record<string, unknown> = {};
  for (const result of results) {
    output[result.name] = {
      transfers_per_s: result.transfersPerS,
      batch_ms_p50: result.batchMsP50,
      batch_ms_p99: result.batchMsP99,
    };
  }
  output.invariants = 'ok';
  return JSON.stringify(output);
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const startedMs = performance.now();
  let server: PostgresServer | undefined;
  let serverUrl = process.env.DATABASE_URL;
  if (serverUrl === undefined || serverUrl === '') {
    log('starting embedded Postgres (fsync on) in .data/bench-postgres');
    server = await startEmbeddedPostgres({
      dataDir: `${projectRoot}/.data/bench-postgres`,
      port: 0,
      persistent: true,
    });
    serverUrl = server.url;
  }
  const adminUrl = serverUrl;
  const results: WorkloadResult[] = [];
  try {
    await withClient(adminUrl, async (admin) => {
      await admin.query(`drop database if exists ${benchDatabaseName} with (force)`);
      await admin.query(`create database ${benchDatabaseName}`);
    });
    const url = databaseUrl(adminUrl, benchDatabaseName);
    let succeeded = false;
    try {
      await withClient(url, async (client) => {
        await migrate(client, await readMigrations());
        const settings = await client.query<{ version: string; fsync: string; synchronous_commit: string }>(
          `select current_setting('server_version') as version, current_setting('fsync') as fsync,
                  current_setting('synchronous_commit') as synchronous_commit`,
        );
        const setting = settings.rows[0];
        log(
          `Postgres ${setting?.version}, fsync ${setting?.fsync}, synchronous_commit ${setting?.synchronous_commit}, ` +
            `${options.consumerCount} consumers, ${options.transferCount} transfers per workload`,
        );
        const pool = createPool(url, {
          connectionCountMax: options.consumerCount,
          connectTimeoutMs: 10_000,
          queryTimeoutMs: 60_000,
          idleTimeoutMs: 60_000,
        });
        try {
          const ledger = await seed(client, pool, options);
          const store = new RetryCountingLedgerStore(new PostgresLedgerStore(pool));
          const logger = new Logger({ serviceName: 'bench', logLevel: 'SILENT' });
          const posting = new PostingService(store, logger);
          // The consumer's own wrapper and posting, without its relay to a bus the bench does not have.
          const consume = sqsBatchHandler({
            name: transferConsumer.name,
            fifo: true,
            maxReceiveCount: undefined,
            backoff: defaultRedeliveryBackoff,
            // The bench's in-memory queue hands failed messages back at once: nothing waits.
            redelivery: {
              postpone: async () => ({ refusedCount: 0 }),
              maxReceiveCount: async () => undefined,
            },
            logger,
            consumer: {
              consume: async (records, receivedAt) =>
                (await posting.postRecords(records, receivedAt)).map((outcome) =>
                  outcome.kind === 'failed' ? 'transient-failure' : 'done',
                ),
            },
          });
          const sealerPool = createPool(url, {
            connectionCountMax: 1,
            connectTimeoutMs: 10_000,
            queryTimeoutMs: 60_000,
            idleTimeoutMs: 60_000,
          });
          const sealer = new Sealer(
            new LedgerChainService(new PostgresLedgerChainStore(sealerPool), logger),
            client,
          );
          try {
            for (const name of options.workloads) {
              if (options.chain !== 'on') {
                results.push(await runWorkload(name, ledger, client, consume, store, options, undefined));
              }
              if (options.chain !== 'off') {
                results.push(await runWorkload(name, ledger, client, consume, store, options, sealer));
              }
            }
          } finally {
            await sealerPool.end();
          }
        } finally {
          await pool.end();
        }
      });
      succeeded = true;
    } finally {
      if (succeeded) {
        await withClient(adminUrl, (admin) =>
          admin.query(`drop database if exists ${benchDatabaseName} with (force)`),
        );
      } else {
        log(`kept database ${benchDatabaseName} for inspection; the next run drops it`);
      }
    }
  } finally {
    await server?.stop();
  }
  log(`done in ${seconds(performance.now() - startedMs)}`);
  if (options.json) console.log(toJson(results));
  else printTable(results);
}

main().catch((error: unknown) => {
  console.error('[bench] FAILED:', error);
  process.exitCode = 1;
});
