import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type Migration,
  MigrationError,
  migrate,
  migrationsDir,
  readMigrations,
} from '../../shared/adapters/postgres/migrate';
import { useTestDatabase } from '../support/database';

const database = useTestDatabase();

/** Every numbered migration, in order; a new one is added here with its test.sql. */
const numberedNames = [
  '0001_ledger',
  '0002_posting',
  '0003_invariants',
  '0004_account_lock_stripes',
  '0005_event_receipts',
  '0006_consumer_activity',
  '0007_velocity_limits',
  '0008_fraud',
  '0009_fraud_first_payments',
  '0010_functions_in_repeatable_files',
  '0015_entries_as_of',
  '0016_ledger_chain',
];

/** Numbered migrations left empty when their functions moved to repeatable files. */
const emptyNumberedNames = ['0002_posting', '0003_invariants'];

/** Every repeatable file, in the order it is applied (file-name order). */
const repeatableNames = [
  'repeatable/account_lock_stripe',
  'repeatable/check_invariants',
  'repeatable/entries_triggers',
  'repeatable/ledger_chain',
  'repeatable/outbox_events',
  'repeatable/post_transfers',
];

/** The test file beside a migration: `NNNN_name/test.sql` or `repeatable/name.test.sql`. */
function testFileOf(name: string): string {
  return name.startsWith('repeatable/')
    ? path.join(migrationsDir, `${name}.test.sql`)
    : path.join(migrationsDir, name, 'test.sql');
}

/** The SQL of a migration without its comments and blank space: empty when it makes nothing. */
function statementsOf(sql: string): string {
  return sql.replaceAll(/--.*$/gm, '').trim();
}

async function migrateTestDatabase(migrations: readonly Migration[]): Promise<string[]> {
  const client = await database.pool.connect();
  try {
    return await migrate(client, migrations);
  } finally {
    client.release();
  }
}

async function recordedRepeatable(name: string): Promise<{ checksum: string; applied_after: string }> {
  const { rows } = await database.pool.query<{ checksum: string; applied_after: string }>(
    'select checksum, applied_after from public.schema_repeatables where name = $1',
    [name],
  );
  const row = rows[0];
  if (row === undefined) throw new Error(`test: ${name} is not recorded`);
  return row;
}

describe('migrations', () => {
  it('are numbered folders applied first, then the repeatable files in file-name order', async () => {
    const migrations = await readMigrations();

    expect(migrations.map((migration) => migration.name)).toEqual([...numberedNames, ...repeatableNames]);
    expect(migrations.map((migration) => migration.kind)).toEqual([
      ...numberedNames.map(() => 'numbered'),
      ...repeatableNames.map(() => 'repeatable'),
    ]);
  });

  it('each come with the test that asserts what they make, unless they make nothing', async () => {
    const migrations = await readMigrations();
    const withoutTest = migrations.filter((migration) => !existsSync(testFileOf(migration.name)));
    const empty = migrations.filter((migration) => statementsOf(migration.sql) === '');

    expect(withoutTest.map((migration) => migration.name)).toEqual(emptyNumberedNames);
    expect(empty.map((migration) => migration.name)).toEqual(emptyNumberedNames);
  });

  it.each([...numberedNames, ...repeatableNames].filter((name) => !emptyNumberedNames.includes(name)))(
    '%s made what its test asserts',
    async (name) => {
      const sql = await readFile(testFileOf(name), 'utf8');
      await expect(database.pool.query(sql)).resolves.toMatchObject({ command: 'DO' });
    },
  );

  it('defines every function and view in a repeatable file, none in a numbered migration', async () => {
    const migrations = await readMigrations();
    const definesRoutine = /^\s*create\s+(or\s+replace\s+)?(function|procedure|view|trigger)\b/im;

    expect(
      migrations
        .filter((migration) => migration.kind === 'numbered' && definesRoutine.test(migration.sql))
        .map((migration) => migration.name),
    ).toEqual([]);
    expect(
      migrations
        .filter((migration) => migration.kind === 'repeatable' && !definesRoutine.test(migration.sql))
        .map((migration) => migration.name),
    ).toEqual([]);
  });

  it('runs nothing twice: a second run applies nothing', async () => {
    expect(await migrateTestDatabase(await readMigrations())).toEqual([]);
  });

  it('refuses to go on when an applied numbered migration was edited', async () => {
    const [first, ...rest] = await readMigrations();
    if (first === undefined) throw new Error('no migrations');
    const edited = { ...first, sql: `${first.sql}\n-- edited`, checksum: 'edited' };

    await expect(migrateTestDatabase([edited, ...rest])).rejects.toThrow(MigrationError);
    await expect(migrateTestDatabase([edited, ...rest])).rejects.toThrow(
      /0001_ledger changed after it was applied/,
    );
  });

  it('moves a database migrated before the functions left the numbered migrations over, once', async () => {
    // The checksum 0002_posting had when it still made the posting function.
    const before = '5e9a51a685bfc8b522f31babe4b4a973ef7484e62835844864aa100bceba3eac';
    await database.pool.query(
      `update public.schema_migrations set checksum = $1 where name = '0002_posting'`,
      [before],
    );
    const migrations = await readMigrations();

    expect(await migrateTestDatabase(migrations)).toEqual([]);
    const { rows } = await database.pool.query<{ checksum: string }>(
      `select checksum from public.schema_migrations where name = '0002_posting'`,
    );
    expect(rows[0]?.checksum).toBe(
      migrations.find((migration) => migration.name === '0002_posting')?.checksum,
    );
  });

  it('applies a repeatable file again when it changes, and only that one', async () => {
    const migrations = await readMigrations();
    const changed = migrations.map((migration) =>
      migration.name === 'repeatable/outbox_events'
        ? { ...migration, sql: `${migration.sql}\n-- changed`, checksum: 'changed' }
        : migration,
    );

    expect(await migrateTestDatabase(changed)).toEqual(['repeatable/outbox_events']);
    expect((await recordedRepeatable('repeatable/outbox_events')).checksum).toBe('changed');
    expect(await migrateTestDatabase(migrations)).toEqual(['repeatable/outbox_events']);
    expect(await migrateTestDatabase(migrations)).toEqual([]);
  });

  it('applies none of the repeatable files of a run when one of them fails, and names it', async () => {
    const migrations = await readMigrations();
    const broken: Migration = {
      kind: 'repeatable',
      name: 'repeatable/zz_broken',
      sql: 'create or replace view ledger.zz_broken as select * from ledger.no_such_table',
      checksum: 'broken',
    };
    const changed = migrations.map((migration) =>
      migration.name === 'repeatable/post_transfers'
        ? { ...migration, sql: `${migration.sql}\n-- changed`, checksum: 'changed' }
        : migration,
    );
    const checksumBefore = (await recordedRepeatable('repeatable/post_transfers')).checksum;

    await expect(migrateTestDatabase([...changed, broken])).rejects.toThrow(/repeatable\/zz_broken failed/);
    expect((await recordedRepeatable('repeatable/post_transfers')).checksum).toBe(checksumBefore);
  });

  it('applies every repeatable file again after a new numbered migration, which may have changed what they read', async () => {
    const migrations = await readMigrations();
    const numbered = migrations.filter((migration) => migration.kind === 'numbered');
    const repeatable = migrations.filter((migration) => migration.kind === 'repeatable');
    const next: Migration = {
      kind: 'numbered',
      name: '9999_test_drops_a_view',
      sql: 'drop view ledger.outbox_events',
      checksum: 'test',
    };

    expect(await migrateTestDatabase([...numbered, next, ...repeatable])).toEqual([
      next.name,
      ...repeatableNames,
    ]);
    expect((await recordedRepeatable('repeatable/outbox_events')).applied_after).toBe(next.name);
    await expect(database.pool.query('select count(*) from ledger.outbox_events')).resolves.toMatchObject({
      rowCount: 1,
    });
  });
});
