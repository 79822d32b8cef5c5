/**
 * `npm start`: the local runtime. For now it starts Postgres (embedded, or the server
 * DATABASE_URL names), applies the migrations, says how to connect, and stops cleanly on
 * SIGINT or SIGTERM. Embedded data is kept in `.data/postgres` between runs.
 */
import pg from 'pg';
import { migrate, readMigrations } from '../../shared/adapters/postgres/migrate';
import { type PostgresServer, projectRoot, startEmbeddedPostgres } from './postgres';

const defaultEmbeddedPort = 54320;

async function main(): Promise<void> {
  let server: PostgresServer | undefined;
  let databaseUrl = process.env.DATABASE_URL;
  if (databaseUrl === undefined) {
    const port = Number.parseInt(process.env.LEDGER_DB_PORT ?? String(defaultEmbeddedPort), 10);
    server = await startEmbeddedPostgres({
      dataDir: `${projectRoot}/.data/postgres`,
      port,
      persistent: true,
    });
    databaseUrl = server.url;
  }
  const stop = async (signal: string): Promise<void> => {
    console.info(`\n${signal}: stopping`);
    await server?.stop();
    process.exit(0);
  };
  process.once('SIGINT', (signal) => void stop(signal));
  process.once('SIGTERM', (signal) => void stop(signal));

  const client = new pg.Client(databaseUrl);
  await client.connect();
  try {
    const applied = await migrate(client, await readMigrations());
    console.info(applied.length > 0 ? `applied migrations: ${applied.join(', ')}` : 'migrations: up to date');
  } finally {
    await client.end();
  }

  const where =
    server === undefined ? 'Postgres (DATABASE_URL)' : 'embedded Postgres (data in .data/postgres)';
  console.info(`LedgerX is ready on ${where}.`);
  console.info(`  DATABASE_URL=${databaseUrl}`);
  console.info(`  psql "${databaseUrl}" -c 'select * from ledger.check_invariants()'`);
  console.info('Press Ctrl+C to stop.');
  if (server === undefined) process.exit(0);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
