import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type pg from 'pg';
import { PermanentError } from '../../errors';

/**
 * A migration, of one of two kinds (docs/database.md):
 * - `numbered`: a numbered folder in migrations/ with an `up.sql` (and a `test.sql` for the
 *   tests) that changes tables or data. Applied once, in number order, and never edited after.
 * - `repeatable`: a file in migrations/repeatable/ that defines functions, triggers or views
 *   (`create or replace`), with its `<name>.test.sql` beside it. Applied after the numbered ones,
 *   in file-name order, and again whenever its content changes or a numbered migration was
 *   applied since.
 */
export interface Migration {
  readonly kind: 'numbered' | 'repeatable';
  /** `0001_ledger` for a numbered migration, `repeatable/post_transfers` for a repeatable one. */
  readonly name: string;
  readonly sql: string;
  readonly checksum: string;
}

/** A migration run that cannot go on: an applied numbered migration was edited, or SQL failed. */
export class MigrationError extends PermanentError {
  public constructor(message: string, options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super(message, options);
    this.name = 'MigrationError';
  }
}

/** The migrations folder of this repository. */
export const migrationsDir = path.resolve(import.meta.dirname, '../../../migrations');

/** The folder inside migrations/ that holds the repeatable files. */
export const repeatableDirectoryName = 'repeatable';

/** Any number; all runners of LedgerX migrations agree on it so they take turns. */
const migrationLockKey = 4_242_001;
const numberedNamePattern = /^\d{4}_[a-z0-9_]+$/;
/** `post_transfers.sql`; a test (`post_transfers.test.sql`) has a dot in its name and is left out. */
const repeatableFilePattern = /^[a-z0-9_]+\.sql$/;

/**
 * The checksums some numbered migrations had before their functions and views moved into
 * repeatable files. The move changed no table: a database migrated before it recorded these, and
 * the runner accepts each once, records the file's checksum now, and lets the repeatable files
 * (re)define the functions. Any other difference is still refused.
 */
const checksumsBeforeRepeatableFiles: Readonly<Record<string, string>> = {
  '0001_ledger': 'e96b3bd697a5af7ea211b8d5696b2615fb0418211c1174a01e0b32663fc7c865',
  '0002_posting': '5e9a51a685bfc8b522f31babe4b4a973ef7484e62835844864aa100bceba3eac',
  '0003_invariants': '5f96f71ee7277facbb7b7dc850290f1222ac5746e926f3fbe62715acb2fbf3a3',
  '0004_account_lock_stripes': '19f7d8844ef0371f653a110ef86680017a47d40b40ec3e98aecac5cddf848880',
  '0006_consumer_activity': 'cc4d081bfa35bbe373804f2f21cfe20147c58aed3945ae22b21b93671afc13d6',
  '0008_fraud': '892aef44d75e344af7000a85845718fe043a3a7addf09d7e1c66f7e6c7a29c4c',
};

function checksumOf(sql: string): string {
  return createHash('sha256').update(sql).digest('hex');
}

/** Reads the migrations in the order they are applied: numbered ones, then repeatable ones. */
export async function readMigrations(dir: string = migrationsDir): Promise<Migration[]> {
  const numberedNames = (await readdir(dir, { withFileTypes: true }))
    .filter((entry) => entry.isDirectory() && numberedNamePattern.test(entry.name))
    .map((entry) => entry.name)
    .sort();
  const numbered = await Promise.all(
    numberedNames.map(async (name): Promise<Migration> => {
      const sql = await readFile(path.join(dir, name, 'up.sql'), 'utf8');
      return { kind: 'numbered', name, sql, checksum: checksumOf(sql) };
    }),
  );
  const repeatableDirectory = path.join(dir, repeatableDirectoryName);
  const repeatableFiles = (await readdir(repeatableDirectory, { withFileTypes: true }))
    .filter((entry) => entry.isFile() && repeatableFilePattern.test(entry.name))
    .map((entry) => entry.name)
    .sort();
  const repeatable = await Promise.all(
    repeatableFiles.map(async (file): Promise<Migration> => {
      const sql = await readFile(path.join(repeatableDirectory, file), 'utf8');
      const name = `${repeatableDirectoryName}/${path.basename(file, '.sql')}`;
      return { kind: 'repeatable', name, sql, checksum: checksumOf(sql) };
    }),
  );
  return [...numbered, ...repeatable];
}

/**
 * Applies the numbered migrations not applied yet, in order, each in its own transaction; then,
 * in one transaction, the repeatable files that are new, changed, or older than the latest
 * numbered migration. Returns the names of what it applied. Numbered migrations only go forward:
 * an applied one whose file changed since is an error, never silently re-run. Concurrent runners
 * wait for each other on an advisory lock.
 */
export async function migrate(client: pg.ClientBase, migrations: readonly Migration[]): Promise<string[]> {
  await client.query(`create table if not exists public.schema_migrations (
    name text primary key,
    checksum text not null,
    applied_at timestamptz not null default now()
  )`);
  // Which repeatable file was applied with which content, and after which numbered migration.
  await client.query(`create table if not exists public.schema_repeatables (
    name text primary key,
    checksum text not null,
    applied_after text not null,
    applied_at timestamptz not null default now()
  )`);
  const applied: string[] = [];
  for (const migration of migrations) {
    if (migration.kind === 'numbered' && (await applyNumbered(client, migration)))
      applied.push(migration.name);
  }
  applied.push(
    ...(await applyRepeatable(
      client,
      migrations.filter((migration) => migration.kind === 'repeatable'),
    )),
  );
  return applied;
}

/** Applies one numbered migration unless it was applied before; answers whether it applied it. */
async function applyNumbered(client: pg.ClientBase, migration: Migration): Promise<boolean> {
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
        if (existing.checksum !== checksumsBeforeRepeatableFiles[migration.name]) {
          throw new MigrationError(
            `migration ${migration.name} changed after it was applied; add a new migration instead`,
            { context: { migration: migration.name } },
          );
        }
        await client.query('update public.schema_migrations set checksum = $2 where name = $1', [
          migration.name,
          migration.checksum,
        ]);
      }
      await client.query('commit');
      return false;
    }
    await client.query(migration.sql);
    await client.query('insert into public.schema_migrations (name, checksum) values ($1, $2)', [
      migration.name,
      migration.checksum,
    ]);
    await client.query('commit');
    return true;
  } catch (error) {
    await client.query('rollback');
    throw error;
  }
}

/**
 * Applies, in one transaction and in the given (file-name) order, every repeatable file that was
 * never applied, changed since, or was last applied before the latest numbered migration (which
 * may have dropped or changed what it depends on). Answers the names it applied.
 */
async function applyRepeatable(client: pg.ClientBase, migrations: readonly Migration[]): Promise<string[]> {
  const applied: string[] = [];
  await client.query('begin');
  try {
    await client.query('select pg_advisory_xact_lock($1)', [migrationLockKey]);
    const latest = await client.query<{ name: string | null }>(
      'select max(name) as name from public.schema_migrations',
    );
    const latestNumbered = latest.rows[0]?.name ?? '';
    const { rows } = await client.query<{ name: string; checksum: string; applied_after: string }>(
      'select name, checksum, applied_after from public.schema_repeatables',
    );
    const recorded = new Map(rows.map((row) => [row.name, row]));
    for (const migration of migrations) {
      const record = recorded.get(migration.name);
      if (record?.checksum === migration.checksum && record.applied_after === latestNumbered) continue;
      try {
        await client.query(migration.sql);
      } catch (error) {
        throw new MigrationError(`repeatable migration ${migration.name} failed: ${String(error)}`, {
          cause: error,
          context: { migration: migration.name },
        });
      }
      await client.query(
        `insert into public.schema_repeatables (name, checksum, applied_after) values ($1, $2, $3)
         on conflict (name) do update
           set checksum = excluded.checksum, applied_after = excluded.applied_after, applied_at = now()`,
        [migration.name, migration.checksum, latestNumbered],
      );
      applied.push(migration.name);
    }
    await client.query('commit');
    return applied;
  } catch (error) {
    await client.query('rollback');
    throw error;
  }
}
