/**
 * `npm run bench:as-of`: how long a balance as of an instant takes on an account with a million
 * entries. It makes its own database (`ledgerx_bench_as_of`, dropped at the end) on the server
 * DATABASE_URL names, or on an embedded one; writes one million transfers between two accounts
 * straight into the journal (one SQL statement, the running totals as the engine writes them, one
 * millisecond apart); then reads balances at random instants through the account store the API
 * uses, and pages of entries as of random instants, and prints their latencies and the plan.
 *
 * Usage: npm run bench:as-of -- [--entries N (default 1000000)] [--reads N (default 2000)] [--json]
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { type PostgresServer, projectRoot, startEmbeddedPostgres } from '../../infra/local/postgres';
import { PostgresAccountStore } from '../../shared/adapters/postgres/accounts-store';
import { migrate, readMigrations } from '../../shared/adapters/postgres/migrate';
import { createPool } from '../../shared/adapters/postgres/pool';
import { type AccountId, newAccountId } from '../../shared/domain/ids';

const databaseName = 'ledgerx_bench_as_of';
const baseTimeMs = Date.parse('2026-01-01T00:00:00Z');

function log(message: string): void {
  console.error(`[bench:as-of] ${message}`);
}

function percentile(sorted: readonly number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))] ?? Number.NaN;
}

async function timed(
  count: number,
  read: () => Promise<unknown>,
): Promise<{ p50: number; p99: number; max: number }> {
  const durations: number[] = [];
  for (let index = 0; index < count; index += 1) {
    const startedMs = performance.now();
    await read();
    durations.push(performance.now() - startedMs);
  }
  durations.sort((a, b) => a - b);
  const round = (ms: number) => Math.round(ms * 1000) / 1000;
  return {
    p50: round(percentile(durations, 0.5)),
    p99: round(percentile(durations, 0.99)),
    max: round(durations.at(-1) ?? 0),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      entries: { type: 'string', default: '1000000' },
      reads: { type: 'string', default: '2000' },
      json: { type: 'boolean', default: false },
    },
  });
  const entryCount = Number.parseInt(values.entries, 10);
  const readCount = Number.parseInt(values.reads, 10);
  if (!(entryCount >= 1 && entryCount <= 10_000_000 && readCount >= 1 && readCount <= 1_000_000)) {
    throw new Error('--entries takes 1 to 10,000,000 and --reads 1 to 1,000,000');
  }
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
  try {
    await admin.query(`drop database if exists ${databaseName} with (force)`);
    await admin.query(`create database ${databaseName}`);
    const url = new URL(serverUrl);
    url.pathname = `/${databaseName}`;
    const client = new pg.Client(url.toString());
    await client.connect();
    const pool = createPool(url.toString());
    try {
      await migrate(client, await readMigrations());
      const payer: AccountId = newAccountId();
      const payee: AccountId = newAccountId();
      await client.query(`insert into ledger.accounts (id, currency) values ($1, 'USD'), ($2, 'USD')`, [
        payer,
        payee,
      ]);
      const startedMs = performance.now();
      // The journal as the engine writes it: each transfer's two legs, the running totals after
      // each, one millisecond apart. The account rows' totals follow, so the ledger stays sound.
      await client.query(
        `insert into ledger.entries
           (transfer_id, account_id, direction, amount, currency, debits_posted_after, credits_posted_after, created_at)
         select md5('as-of ' || i)::uuid, leg.account_id, leg.direction, 1, 'USD', leg.debits_after, leg.credits_after,
                $3::timestamptz + make_interval(secs => i / 1000.0)
           from generate_series(1, $4::int) as i
          cross join lateral (values ($1::uuid, 'debit', i, 0), ($2::uuid, 'credit', 0, i))
                as leg(account_id, direction, debits_after, credits_after)
          order by i, leg.direction desc`,
        [payer, payee, new Date(baseTimeMs).toISOString(), entryCount],
      );
      await client.query('update ledger.accounts set debits_posted = $2 where id = $1', [payer, entryCount]);
      await client.query('update ledger.accounts set credits_posted = $2 where id = $1', [payee, entryCount]);
      await client.query('vacuum analyze ledger.entries');
      log(
        `wrote ${entryCount} transfers (${2 * entryCount} entries) in ${((performance.now() - startedMs) / 1000).toFixed(1)} s`,
      );

      const store = new PostgresAccountStore(pool);
      const randomInstant = () =>
        new Date(baseTimeMs + Math.floor(Math.random() * (entryCount + 1000)) - 500).toISOString();
      // Every answer is checked against the journal's shape: by the i-th millisecond after the
      // base time, i transfers had posted.
      const check = async () => {
        const asOf = randomInstant();
        const balance = await store.balanceAsOf(payer, asOf);
        const expected = BigInt(Math.min(entryCount, Math.max(0, Math.floor(Date.parse(asOf) - baseTimeMs))));
        if (balance?.debitsPosted !== expected) {
          throw new Error(
            `assertion failed: as of ${asOf}, debits ${balance?.debitsPosted} instead of ${expected}`,
          );
        }
      };
      await timed(100, check);
      const balanceTimes = await timed(readCount, check);
      const pageTimes = await timed(readCount, () =>
        store.listEntries(payer, { limit: 50, beforeId: undefined, asOf: randomInstant() }),
      );
      const midpoint = new Date(baseTimeMs + Math.floor(entryCount / 2)).toISOString();
      const plan = await client.query<{ 'QUERY PLAN': string }>(
        `explain (analyze, buffers, costs off, timing off, summary off)
         select x.id, x.debits_posted_after, x.credits_posted_after from ledger.entries x
          where x.account_id = $1 and x.created_at <= $2::timestamptz
          order by x.created_at desc, x.id desc limit 1`,
        [payer, midpoint],
      );
      const report = {
        entries_of_account: entryCount,
        reads: readCount,
        balance_as_of_ms: balanceTimes,
        entries_page_as_of_ms: pageTimes,
      };
      if (values.json) {
        console.info(JSON.stringify(report));
      } else {
        console.info(JSON.stringify(report, null, 2));
        console.info(plan.rows.map((row) => row['QUERY PLAN']).join('\n'));
      }
    } finally {
      await pool.end();
      await client.end();
      await admin.query(`drop database if exists ${databaseName} with (force)`);
    }
  } finally {
    await admin.end();
    await server?.stop();
  }
}

main().catch((error: unknown) => {
  console.error('[bench:as-of] FAILED:', error);
  process.exitCode = 1;
});
