import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { ensureDashboardBuilt } from '../../infra/dashboard-build';
import { startAwsEndpoint } from '../../infra/local/aws';
import { type PostgresServer, projectRoot, startEmbeddedPostgres } from '../../infra/local/postgres';
import { ensureFunctionLogin, localFunctionLogin } from '../../shared/adapters/postgres/function-login';
import { migrate, readMigrations } from '../../shared/adapters/postgres/migrate';
import { databaseUrl, templateDatabaseName } from './database';

declare module 'vitest' {
  export interface ProvidedContext {
    serverUrl: string;
    /** The AWS endpoint (moto, or AWS_ENDPOINT_URL) every test file provisions its own copies on. */
    awsEndpoint: string;
  }
}

/**
 * Starts the Postgres the tests use (embedded, or the server DATABASE_URL names) and builds the
 * migrated template database that every test file clones its own database from. Starts one
 * moto_server (or uses the endpoint AWS_ENDPOINT_URL names) for the whole run; each test file
 * provisions its own prefixed queues, tables and bus on it (test/support/aws.ts).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // moto starts in the background while Postgres starts and migrates.
  const awsStarting = startAwsEndpoint();
  // A failed Postgres start must not leave an unhandled rejection behind; it is awaited below.
  awsStarting.catch(() => undefined);
  // The browser tests serve the built System Internals page; it is built (when stale) meanwhile.
  const dashboardBuilding = ensureDashboardBuilt();
  dashboardBuilding.catch(() => undefined);
  let server: PostgresServer | undefined;
  let serverUrl = process.env.DATABASE_URL;
  if (serverUrl === undefined) {
    server = await startEmbeddedPostgres({
      dataDir: `${projectRoot}/.data/test-postgres-${process.pid}`,
      port: 0,
      persistent: false,
      // Test data is thrown away at the end, so the tests need not wait for the disk.
      serverFlags: ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'],
    });
    serverUrl = server.url;
  }
  const admin = new pg.Client(serverUrl);
  await admin.connect();
  try {
    await admin.query(`drop database if exists ${templateDatabaseName} with (force)`);
    await admin.query(`create database ${templateDatabaseName}`);
  } finally {
    await admin.end();
  }
  const template = new pg.Client(databaseUrl(serverUrl, templateDatabaseName));
  await template.connect();
  try {
    await migrate(template, await readMigrations());
    // The login every test file's functions connect as (roles belong to the server, not to one
    // database, so the clones share it).
    await ensureFunctionLogin(template, localFunctionLogin);
  } finally {
    await template.end();
  }
  const aws = await awsStarting;
  await dashboardBuilding;
  project.provide('serverUrl', serverUrl);
  project.provide('awsEndpoint', aws.endpoint);
  return async () => {
    await aws.stop();
    const cleanup = new pg.Client(serverUrl);
    await cleanup.connect();
    try {
      await cleanup.query(`drop database if exists ${templateDatabaseName} with (force)`);
    } finally {
      await cleanup.end();
    }
    await server?.stop();
  };
}
