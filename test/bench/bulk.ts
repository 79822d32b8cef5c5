/**
 * `npm run bench:bulk`: the bulk workload through `POST /v1/transfers/batch` on a running LedgerX
 * (the local runtime `npm start` wrote, or LEDGER_URL and LEDGER_API_KEY), end to end: the front
 * door, the batch function, DynamoDB and SQS (moto locally), the real consumer and Postgres.
 *
 * Two workloads run in turn: `bulk` (batches of `--items` transfers between random accounts) and
 * `atomic` (atomic batches of `--legs` legs, each set posting in one transaction). For each it
 * reports the API's rate (transfers accepted per second, from the first request to the last 202)
 * and the end-to-end rate (transfers recorded in the ledger per second, from the first request
 * until `GET /v1/transfers/batch/{id}` counts every queued item), then checks the ledger's
 * invariants (`GET /v1/admin/invariants`).
 *
 * With DATABASE_URL (the runtime's Postgres) it also measures the engine alone: the same batches
 * and sets posted straight through `PostgresLedgerStore` (`ledger.post_transfers` for a batch,
 * `ledger.post_transfer_set` for a set), `--concurrency` at a time, without the API or the queue.
 *
 * Usage: npm run bench:bulk -- [--batches N] [--items N] [--sets N] [--legs N] [--concurrency N] [--json]
 * Progress goes to stderr; stdout gets a table, or with --json one JSON line.
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { PostgresLedgerStore } from '../../shared/adapters/postgres/ledger-store';
import { createPool } from '../../shared/adapters/postgres/pool';
import { type AccountId, newTransferId, parseAccountId } from '../../shared/domain/ids';
import { parseCurrency } from '../../shared/domain/money';
import type { TransferCommand } from '../../shared/domain/transfer';
import { LedgerApi, mapConcurrently, sleep } from '../load/ledger-api';
import { resolveTarget } from '../load/target';

/** Accounts transfers move between: each debit account sends at most `items / debitAccountCount` per batch. */
const debitAccountCount = 50;
const creditAccountCount = 50;
/** How often a batch's progress is read, and for how long at most before the run fails. */
const progressPollMs = 250;
const progressWaitMsMax = 600_000;

interface BulkOptions {
  readonly batchCount: number;
  readonly itemCount: number;
  readonly setCount: number;
  readonly legCount: number;
  readonly concurrency: number;
  readonly json: boolean;
}

interface WorkloadResult {
  readonly name: 'bulk' | 'atomic' | 'engine bulk' | 'engine atomic';
  readonly requestCount: number;
  readonly transferCount: number;
  readonly acceptedPerS: number;
  readonly recordedPerS: number;
  readonly postedCount: number;
  readonly rejectedCount: number;
}

interface BatchAnswer {
  readonly batch_id: string | null;
  readonly queued_count: number;
  readonly refused_count: number;
}

interface BatchProgress {
  readonly posted_count: number;
  readonly rejected_count: number;
  readonly recorded_count: number;
}

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

function integerOption(name: string, value: string, min: number, max: number): number {
  const parsed = Number.parseInt(value, 10);
  if (!/^\d+$/.test(value) || parsed < min || parsed > max)
    throw new Error(`--${name} takes a whole number from ${min} to ${max}`);
  return parsed;
}

function parseOptions(argv: readonly string[]): BulkOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      batches: { type: 'string', default: '10' },
      items: { type: 'string', default: '1000' },
      sets: { type: 'string', default: '20' },
      legs: { type: 'string', default: '100' },
      concurrency: { type: 'string', default: '2' },
      json: { type: 'boolean', default: false },
    },
  });
  return {
    batchCount: integerOption('batches', values.batches, 1, 1_000),
    itemCount: integerOption('items', values.items, 1, 1_000),
    setCount: integerOption('sets', values.sets, 0, 1_000),
    legCount: integerOption('legs', values.legs, 1, 100),
    concurrency: integerOption('concurrency', values.concurrency, 1, 16),
    json: values.json,
  };
}

async function openAccounts(api: LedgerApi, count: number, velocity: boolean): Promise<string[]> {
  return mapConcurrently(Array.from({ length: count }), 8, async () => {
    const answer = await api.expect(201, 'POST', '/v1/accounts', {
      body: JSON.stringify({
        currency: 'USD',
        // The bench measures throughput, not the velocity limit: each debit account may send
        // every transfer a batch gives it.
        ...(velocity ? { velocity: { window_s: 1, max_transfers: 1_000 } } : {}),
      }),
    });
    return (answer.body as { id: string }).id;
  });
}

function randomItem<T>(items: readonly T[]): T {
  const item = items[Math.floor(Math.random() * items.length)];
  if (item === undefined) throw new Error('assertion failed: a non-empty list');
  return item;
}

function transfers(debits: readonly string[], credits: readonly string[], count: number): unknown[] {
  return Array.from({ length: count }, () => ({
    debit_account_id: randomItem(debits),
    credit_account_id: randomItem(credits),
    amount: String(1 + Math.floor(Math.random() * 100)),
    currency: 'USD',
  }));
}

/** Submits the bodies, `concurrency` at a time, then waits until the ledger recorded every queued item. */
async function runWorkload(
  api: LedgerApi,
  name: WorkloadResult['name'],
  bodies: readonly unknown[],
  concurrency: number,
): Promise<WorkloadResult> {
  const startMs = performance.now();
  const answers = await mapConcurrently(bodies, concurrency, async (body, index) => {
    const answer = await api.expect(202, 'POST', '/v1/transfers/batch', {
      body: JSON.stringify(body),
      headers: { 'Idempotency-Key': `bench-${name}-${startMs}-${index}` },
    });
    return answer.body as BatchAnswer;
  });
  const acceptedMs = performance.now() - startMs;
  const queuedCount = answers.reduce((sum, answer) => sum + answer.queued_count, 0);
  const refusedCount = answers.reduce((sum, answer) => sum + answer.refused_count, 0);
  if (refusedCount > 0)
    throw new Error(`${name}: ${refusedCount} items were refused; the bench expects none`);
  log(
    `${name}: ${queuedCount} transfers accepted in ${(acceptedMs / 1000).toFixed(1)} s; waiting for the ledger`,
  );

  let posted = 0;
  let rejected = 0;
  const deadline = performance.now() + progressWaitMsMax;
  for (const answer of answers) {
    if (answer.batch_id === null) continue;
    for (;;) {
      const progress = (await api.expect(200, 'GET', `/v1/transfers/batch/${answer.batch_id}`))
        .body as BatchProgress;
      if (progress.recorded_count >= answer.queued_count) {
        posted += progress.posted_count;
        rejected += progress.rejected_count;
        break;
      }
      if (performance.now() > deadline)
        throw new Error(`${name}: batch ${answer.batch_id} not recorded in ${progressWaitMsMax / 1000} s`);
      await sleep(progressPollMs);
    }
  }
  const recordedMs = performance.now() - startMs;
  return {
    name,
    requestCount: bodies.length,
    transferCount: queuedCount,
    acceptedPerS: Math.round(queuedCount / (acceptedMs / 1000)),
    recordedPerS: Math.round(queuedCount / (recordedMs / 1000)),
    postedCount: posted,
    rejectedCount: rejected,
  };
}

/** The engine alone: batches through `postBatch`, sets through `postSet`, `concurrency` at a time. */
async function runEngine(
  databaseUrl: string,
  name: 'engine bulk' | 'engine atomic',
  groups: readonly TransferCommand[][],
  concurrency: number,
): Promise<WorkloadResult> {
  const pool = createPool(databaseUrl, {
    connectionCountMax: concurrency,
    connectTimeoutMs: 5_000,
    queryTimeoutMs: 60_000,
    idleTimeoutMs: 10_000,
  });
  try {
    const store = new PostgresLedgerStore(pool);
    const startMs = performance.now();
    const outcomes = await mapConcurrently(groups, concurrency, (group) =>
      name === 'engine bulk' ? store.postBatch(group, []) : store.postSet(group),
    );
    const elapsedMs = performance.now() - startMs;
    const results = outcomes.flatMap((outcome) => outcome.results);
    const posted = results.filter((result) => result === 'posted').length;
    return {
      name,
      requestCount: groups.length,
      transferCount: results.length,
      acceptedPerS: Math.round(results.length / (elapsedMs / 1000)),
      recordedPerS: Math.round(results.length / (elapsedMs / 1000)),
      postedCount: posted,
      rejectedCount: results.length - posted,
    };
  } finally {
    await pool.end();
  }
}

function commands(debits: readonly string[], credits: readonly string[], count: number): TransferCommand[] {
  const usd = parseCurrency('USD');
  if (usd === undefined) throw new Error('assertion failed: USD is a currency');
  const account = (id: string): AccountId => {
    const parsed = parseAccountId(id);
    if (parsed === undefined) throw new Error(`assertion failed: ${id} is an account id`);
    return parsed;
  };
  return Array.from({ length: count }, () => ({
    id: newTransferId(),
    debitAccountId: account(randomItem(debits)),
    creditAccountId: account(randomItem(credits)),
    amount: BigInt(1 + Math.floor(Math.random() * 100)),
    currency: usd,
    metadata: {},
    acceptedAt: new Date().toISOString(),
  }));
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const target = await resolveTarget();
  const api = new LedgerApi(target.url, target.apiKey);
  log(`target ${target.url}; opening ${debitAccountCount + creditAccountCount} accounts`);
  const debits = await openAccounts(api, debitAccountCount, true);
  const credits = await openAccounts(api, creditAccountCount, false);

  const results: WorkloadResult[] = [];
  results.push(
    await runWorkload(
      api,
      'bulk',
      Array.from({ length: options.batchCount }, () => ({
        transfers: transfers(debits, credits, options.itemCount),
      })),
      options.concurrency,
    ),
  );
  if (options.setCount > 0) {
    results.push(
      await runWorkload(
        api,
        'atomic',
        Array.from({ length: options.setCount }, () => ({
          atomic: true,
          transfers: transfers(debits, credits, options.legCount),
        })),
        options.concurrency,
      ),
    );
  }
  const databaseUrl = process.env.DATABASE_URL;
  if (databaseUrl !== undefined && databaseUrl !== '') {
    log('the engine alone');
    results.push(
      await runEngine(
        databaseUrl,
        'engine bulk',
        Array.from({ length: options.batchCount }, () => commands(debits, credits, options.itemCount)),
        options.concurrency,
      ),
    );
    if (options.setCount > 0) {
      results.push(
        await runEngine(
          databaseUrl,
          'engine atomic',
          Array.from({ length: options.setCount }, () => commands(debits, credits, options.legCount)),
          options.concurrency,
        ),
      );
    }
  }
  await api.expect(200, 'GET', '/v1/admin/invariants');
  log('invariants hold');

  if (options.json) {
    process.stdout.write(`${JSON.stringify({ options, results })}\n`);
    return;
  }
  const header = ['workload', 'requests', 'transfers', 'accepted/s', 'recorded/s', 'posted', 'rejected'];
  const rows = results.map((result) => [
    result.name,
    String(result.requestCount),
    String(result.transferCount),
    String(result.acceptedPerS),
    String(result.recordedPerS),
    String(result.postedCount),
    String(result.rejectedCount),
  ]);
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => row[column]?.length ?? 0)),
  );
  for (const row of [header, ...rows]) {
    process.stdout.write(`${row.map((cell, column) => cell.padStart(widths[column] ?? 0)).join('  ')}\n`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
