import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, expect, inject } from 'vitest';
import { localFunctionLogin, urlWithLogin } from '../../shared/adapters/postgres/function-login';
import { createPool } from '../../shared/adapters/postgres/pool';

/** The migrated database every test file's database is cloned from. */
export const templateDatabaseName = 'ledgerx_test_template';

/** The connection string for another database on the same server. */
export function databaseUrl(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

/**
 * A database of a test file's own, cloned from the migrated template. `pool` connects as the
 * functions' login (a member of ledgerx_app only), as every function does, so a test that runs a
 * function through it fails on a missing grant; `ownerPool` connects as the tables' owner, for
 * arranging what the functions may not do. `url` is the owner's, as the local runtime is given
 * (it migrates, then makes its own pool as the functions' login).
 */
export interface TestDatabase {
  readonly url: string;
  /** The same database as the functions' login. */
  readonly functionsUrl: string;
  readonly pool: pg.Pool;
  readonly ownerPool: pg.Pool;
}

/** One violation reported by `ledger.check_invariants()`. */
export interface InvariantViolation {
  readonly invariant: string;
  readonly subject: string;
  readonly detail: string;
}

/** Runs the ledger's SQL invariant check and returns its violations (none when sound). */
export async function checkInvariants(pool: pg.Pool): Promise<InvariantViolation[]> {
  const { rows } = await pool.query<InvariantViolation>('select * from ledger.check_invariants()');
  return rows;
}

/**
 * Gives the calling test file a fresh migrated database for all its tests, checks the ledger's
 * invariants after every test, and drops the database at the end.
 */
export function useTestDatabase(options: { connectionCountMax?: number } = {}): TestDatabase {
  const serverUrl = inject('serverUrl');
  const name = `ledgerx_test_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
  const url = databaseUrl(serverUrl, name);
  const functionsUrl = urlWithLogin(url, localFunctionLogin);
  let pool: pg.Pool | undefined;
  let ownerPool: pg.Pool | undefined;

  beforeAll(async () => {
    const admin = new pg.Client(serverUrl);
    await admin.connect();
    try {
      await admin.query(`create database ${name} template ${templateDatabaseName}`);
    } finally {
      await admin.end();
    }
    const limits = {
      connectionCountMax: options.connectionCountMax ?? 10,
      connectTimeoutMs: 5_000,
      queryTimeoutMs: 30_000,
      idleTimeoutMs: 10_000,
    };
    pool = createPool(functionsUrl, limits);
    ownerPool = createPool(url, { ...limits, connectionCountMax: 4 });
  });

  afterEach(async () => {
    if (pool !== undefined) expect(await checkInvariants(pool)).toEqual([]);
  });

  afterAll(async () => {
    await pool?.end();
    await ownerPool?.end();
    const admin = new pg.Client(serverUrl);
    await admin.connect();
    try {
      await admin.query(`drop database if exists ${name} with (force)`);
    } finally {
      await admin.end();
    }
  });

  const made = (value: pg.Pool | undefined): pg.Pool => {
    if (value === undefined) throw new Error('the test database is made in beforeAll; use it inside tests');
    return value;
  };
  return {
    url,
    functionsUrl,
    get pool(): pg.Pool {
      return made(pool);
    },
    get ownerPool(): pg.Pool {
      return made(ownerPool);
    },
  };
}
