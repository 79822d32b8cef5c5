import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, expect, inject } from 'vitest';
import { createPool } from '../../shared/adapters/postgres/pool';

/** The migrated database every test file's database is cloned from. */
export const templateDatabaseName = 'ledgerx_test_template';

/** The connection string for another database on the same server. */
export function databaseUrl(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

/** A database of a test file's own, cloned from the migrated template. */
export interface TestDatabase {
  readonly url: string;
  readonly pool: pg.Pool;
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
  let pool: pg.Pool | undefined;

  beforeAll(async () => {
    const admin = new pg.Client(serverUrl);
    await admin.connect();
    try {
      await admin.query(`create database ${name} template ${templateDatabaseName}`);
    } finally {
      await admin.end();
    }
    pool = createPool(url, {
      connectionCountMax: options.connectionCountMax ?? 10,
      connectTimeoutMs: 5_000,
      queryTimeoutMs: 30_000,
      idleTimeoutMs: 10_000,
    });
  });

  afterEach(async () => {
    if (pool !== undefined) expect(await checkInvariants(pool)).toEqual([]);
  });

  afterAll(async () => {
    await pool?.end();
    const admin = new pg.Client(serverUrl);
    await admin.connect();
    try {
      await admin.query(`drop database if exists ${name} with (force)`);
    } finally {
      await admin.end();
    }
  });

  return {
    url,
    get pool(): pg.Pool {
      if (pool === undefined) throw new Error('the test database is made in beforeAll; use it inside tests');
      return pool;
    },
  };
}
