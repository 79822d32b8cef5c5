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

/** What the integration and e2e tiers share: one Postgres with the template, one AWS endpoint. */
interface TestServices {
  readonly serverUrl: string;
  readonly awsEndpoint: string;
  stop(): Promise<void>;
}

/**
 * The services of this vitest process, shared by every project whose global setup asks for them.
 * Each project runs its own global setup in the one main process, so the services are kept on
 * globalThis (module state may be loaded once per project) and stopped when the last project
 * that uses them tears down.
 */
interface SharedServices {
  readonly starting: Promise<TestServices>;
  userCount: number;
}

const registry = globalThis as typeof globalThis & {
  ledgerxTestServices?: SharedServices;
  ledgerxDashboardBuild?: Promise<boolean>;
};

/**
 * Starts the Postgres the tests use (embedded, or the server DATABASE_URL names) and builds the
 * migrated template database that every test file clones its own database from. Starts one
 * moto_server (or uses the endpoint AWS_ENDPOINT_URL names) for the whole run; each test file
 * provisions its own prefixed queues, tables and bus on it (test/support/aws.ts).
 */
async function startServices(): Promise<TestServices> {
  // moto starts in the background while Postgres starts and migrates.
  const awsStarting = startAwsEndpoint();
  // A failed Postgres start must not leave an unhandled rejection behind; it is awaited below.
  awsStarting.catch(() => undefined);
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
  const url = serverUrl;
  return {
    serverUrl: url,
    awsEndpoint: aws.endpoint,
    stop: async () => {
      await aws.stop();
      const cleanup = new pg.Client(url);
      await cleanup.connect();
      try {
        await cleanup.query(`drop database if exists ${templateDatabaseName} with (force)`);
      } finally {
        await cleanup.end();
      }
      await server?.stop();
    },
  };
}

/**
 * The global setup of the tiers that need Postgres and the AWS endpoint: starts them once for the
 * whole run (or joins the project that started them) and provides their addresses to the tests.
 * With `buildDashboard`, also builds the System Internals page when it is stale, meanwhile.
 */
export async function setupTestServices(
  project: TestProject,
  options: { buildDashboard: boolean },
): Promise<() => Promise<void>> {
  let dashboardBuilding: Promise<boolean> | undefined;
  if (options.buildDashboard) {
    registry.ledgerxDashboardBuild ??= ensureDashboardBuilt();
    dashboardBuilding = registry.ledgerxDashboardBuild;
    dashboardBuilding.catch(() => undefined);
  }
  registry.ledgerxTestServices ??= { starting: startServices(), userCount: 0 };
  const shared = registry.ledgerxTestServices;
  shared.userCount += 1;
  const services = await shared.starting;
  await dashboardBuilding;
  project.provide('serverUrl', services.serverUrl);
  project.provide('awsEndpoint', services.awsEndpoint);
  return async () => {
    shared.userCount -= 1;
    if (shared.userCount > 0) return;
    registry.ledgerxTestServices = undefined;
    await services.stop();
  };
}

/** The integration tier's global setup: Postgres and the AWS endpoint. */
export default function setup(project: TestProject): Promise<() => Promise<void>> {
  return setupTestServices(project, { buildDashboard: false });
}
