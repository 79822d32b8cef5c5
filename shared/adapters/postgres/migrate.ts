import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type pg from 'pg';

/** A migration: a numbered folder in migrations/ with an `up.sql` (and a `test.sql` for the tests). */
export interface Migration {
  readonly name: string;
  readonly sql: string;
  readonly checksum: string;
}

/** The migrations folder of this repository. */
export const migrationsDir = path.resolve(import.meta.dirname, '../../../migrations');

/** Any number; all runners of LedgerX migrations agree on it so they take turns. */
const migrationLockKey = 4_242_001;
const migrationNamePattern = /^\d{4}_[a-z0-9_]+$/;

/** Reads the migrations in order. */
export async function readMigrations(dir: string = migrationsDir): Promise<Migration[]> {
  const names = (await readdir(dir, { withFileTypes: true }))
    .filter((entry) => entry.isDirectory() && migrationNamePattern.test(entry.name))
    .map((entry) => entry.name)
    .sort();
  return Promise.all(
    names.map(async (name) => {
      const sql = await readFile(path.join(dir, name, 'up.sql'), 'utf8');
      return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    }),
  );
}

/**
 * Applies the migrations not applied yet, in order, each in its own transaction, and returns
 * their names. Migrations only go forward: an applied migration whose file changed since is an
 * error, never silently re-run. Concurrent runners wait for each other on an advisory lock.
 */
export async function migrate(client: pg.ClientBase, migrations: readonly Migration[]): Promise<string[]> {
  await client.query(`create table if not exists public.schema_migrations (
    name text primary key,
    checksum text not null,
    applied_at timestamptz not null default now()
  )`);
  const applied: string[] = [];
  for (const migration of migrations) {
    await client.query('begin');
    try {
      await client.query('select pg_advisory_xact_lock($1)', [migrationLockKey]);
      const { rows } = await client.query<{ checksum: string }>(
        'select checksum from public.schema_migrations where name = $1',
        [migration.name],
      );
      const existing = rows[0];
      if (existing !== undefined) {
        if (existing.checksum !== migration.checksum) {
          throw new Error(
            `migration ${migration.name} changed after it was applied; add a new migration instead`,
          );
        }
        await client.query('commit');
        continue;
      }
      await client.query(migration.sql);
      await client.query('insert into public.schema_migrations (name, checksum) values ($1, $2)', [
        migration.name,
        migration.checksum,
      ]);
      await client.query('commit');
      applied.push(migration.name);
    } catch (error) {
      await client.query('rollback');
      throw error;
    }
  }
  return applied;
}
