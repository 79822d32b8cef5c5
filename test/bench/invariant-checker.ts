/**
 * The invariant checker's cost: posts a ledger through the engine (one hot account in half of the
 * transfers, so its sums would be large to recompute), then times the checker's steps while it
 * works through the journal, and a run once it has caught up (new entries none; the account sweep
 * and the scrub only). Prints one JSON line. Postgres is the server DATABASE_URL names, else an
 * embedded one in .data/bench-postgres; the bench makes, uses and drops its own database.
 *
 *   npm run bench:checker -- --transfers 100000
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { type PostgresServer, projectRoot, startEmbeddedPostgres } from '../../infra/local/postgres';
import { PostgresInvariantCheckStore } from '../../shared/adapters/postgres/invariant-store';
import { migrate, readMigrations } from '../../shared/adapters/postgres/migrate';
import { createPool } from '../../shared/adapters/postgres/pool';
import { newAccountId, newTransferId } from '../../shared/domain/ids';
import { invariantCheckDefaults } from '../../shared/services/invariant-checker';

const benchDatabaseName = 'ledgerx_bench_checker';
/** Transfers per call of the posting function while seeding (its own bound is 1000). */
const seedBatchSize = 1000;
/** Steps the bench takes at most, whatever the journal's size. */
const stepCountMax = 10_000;

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

function databaseUrl(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

function percentile(sorted: readonly number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))] ?? 0;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      transfers: { type: 'string', default: '100000' },
      accounts: { type: 'string', default: '1000' },
    },
  });
  const transferCount = Number.parseInt(values.transfers, 10);
  const accountCount = Number.parseInt(values.accounts, 10);
  let server: PostgresServer | undefined;
  let serverUrl = process.env.DATABASE_URL;
  if (serverUrl === undefined || serverUrl === '') {
    server = await startEmbeddedPostgres({
      dataDir: `${projectRoot}/.data/bench-postgres`,
      port: 0,
      persistent: true,
    });
    serverUrl = server.url;
  }
  const admin = new pg.Client(serverUrl);
  await admin.connect();
  await admin.query(`drop database if exists ${benchDatabaseName} with (force)`);
  await admin.query(`create database ${benchDatabaseName}`);
  const pool = createPool(databaseUrl(serverUrl, benchDatabaseName), {
    connectionCountMax: 2,
    connectTimeoutMs: 10_000,
    queryTimeoutMs: 600_000,
    idleTimeoutMs: 60_000,
  });
  try {
    const client = await pool.connect();
    try {
      await migrate(client, await readMigrations());
    } finally {
      client.release();
    }
    const accounts = Array.from({ length: accountCount }, () => newAccountId());
    await pool.query(`insert into ledger.accounts (id, currency) select unnest($1::uuid[]), 'USD'`, [
      accounts,
    ]);
    const seedStartedMs = performance.now();
    for (let posted = 0; posted < transferCount; posted += seedBatchSize) {
      const batch = Array.from({ length: Math.min(seedBatchSize, transferCount - posted) }, (_, index) => {
        const debit =
          (posted + index) % 2 === 0 ? accounts[0] : accounts[1 + ((posted + index) % (accountCount - 1))];
        const credit = accounts[1 + ((posted + index * 7) % (accountCount - 1))];
        return {
          id: newTransferId(),
          debit_account_id: debit,
          credit_account_id: credit === debit ? accounts[accountCount - 1] : credit,
          amount: '1',
          currency: 'USD',
          metadata: {},
          accepted_at: new Date().toISOString(),
        };
      });
      await pool.query('select * from ledger.post_transfers($1::jsonb)', [JSON.stringify(batch)]);
    }
    log(`seeded ${transferCount} transfers in ${Math.round(performance.now() - seedStartedMs)} ms`);

    const store = new PostgresInvariantCheckStore(pool);
    const stepMs: number[] = [];
    let entryCount = 0;
    for (let step = 0; step < stepCountMax; step += 1) {
      const startedMs = performance.now();
      const done = await store.step(invariantCheckDefaults.step, new Date());
      stepMs.push(performance.now() - startedMs);
      entryCount += done.entryCount;
      if (done.foundCount > 0)
        throw new Error(`the checker found ${done.foundCount} violations in a sound ledger`);
      if (done.entryIdChecked >= done.entryIdSafe) break;
    }
    const caughtUpMs: number[] = [];
    for (let run = 0; run < 5; run += 1) {
      const startedMs = performance.now();
      await store.step(invariantCheckDefaults.step, new Date());
      caughtUpMs.push(performance.now() - startedMs);
    }
    const sorted = [...stepMs].sort((left, right) => left - right);
    const sortedCaughtUp = [...caughtUpMs].sort((left, right) => left - right);
    process.stdout.write(
      `${JSON.stringify({
        transfers: transferCount,
        accounts: accountCount,
        entries_checked: entryCount,
        step_limits: invariantCheckDefaults.step,
        backfill_steps: stepMs.length,
        backfill_step_ms_p50: Math.round(percentile(sorted, 0.5)),
        backfill_step_ms_max: Math.round(percentile(sorted, 1)),
        backfill_entries_per_s: Math.round(entryCount / (stepMs.reduce((sum, ms) => sum + ms, 0) / 1000)),
        caught_up_step_ms_p50: Math.round(percentile(sortedCaughtUp, 0.5)),
        caught_up_step_ms_max: Math.round(percentile(sortedCaughtUp, 1)),
      })}\n`,
    );
  } finally {
    await pool.end();
    await admin.query(`drop database if exists ${benchDatabaseName} with (force)`);
    await admin.end();
    await server?.stop();
  }
}

await main();
