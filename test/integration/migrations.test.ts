import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { describe, expect, inject, it } from 'vitest';
import {
  type Migration,
  MigrationError,
  migrate,
  migrationsDir,
  readMigrations,
} from '../../shared/adapters/postgres/migrate';
import { databaseUrl, useTestDatabase } from '../support/database';

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
  '0011_least_privilege',
  '0012_pending_transfers_and_reversals',
  '0013_account_status',
  '0014_atomic_sets',
  '0015_entries_as_of',
  '0016_ledger_chain',
  '0017_invariant_checkpoints',
];

/** Numbered migrations left empty when their functions moved to repeatable files. */
const emptyNumberedNames = ['0002_posting', '0003_invariants'];

/** Every repeatable file, in the order it is applied (file-name order). */
const repeatableNames = [
  'repeatable/account_lock_stripe',
  'repeatable/account_status',
  'repeatable/check_invariants',
  'repeatable/check_invariants_incremental',
  'repeatable/entries_triggers',
  'repeatable/expire_pending_transfers',
  'repeatable/fraud_flags_triggers',
  'repeatable/ledger_chain',
  'repeatable/outbox_events',
  'repeatable/post_transfer_set',
  'repeatable/post_transfers',
  'repeatable/transfers_triggers',
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
  const client = await database.ownerPool.connect();
  try {
    return await migrate(client, migrations);
  } finally {
    client.release();
  }
}

async function recordedRepeatable(name: string): Promise<{ checksum: string; applied_after: string }> {
  const { rows } = await database.ownerPool.query<{ checksum: string; applied_after: string }>(
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
      await expect(database.ownerPool.query(sql)).resolves.toMatchObject({ command: 'DO' });
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
    await database.ownerPool.query(
      `update public.schema_migrations set checksum = $1 where name = '0002_posting'`,
      [before],
    );
    const migrations = await readMigrations();

    expect(await migrateTestDatabase(migrations)).toEqual([]);
    const { rows } = await database.ownerPool.query<{ checksum: string }>(
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
    await expect(
      database.ownerPool.query('select count(*) from ledger.outbox_events'),
    ).resolves.toMatchObject({
      rowCount: 1,
    });
  });
});

/** The schemas whose privileges the ledger's migrations manage. */
const ledgerSchemas = ['ledger', 'ledger_lock', 'fraud'];

/**
 * Every privilege and attribute least privilege rests on, as sorted text: each function's
 * security mode, settings and grants, each table's, view's, sequence's and column's grants, the
 * schemas' grants, the triggers, and the default privileges for new objects.
 */
async function privilegesOf(client: pg.ClientBase): Promise<string[]> {
  const sorted = (
    acl: string,
  ) => `(select coalesce(string_agg(item::text, ' ' order by item::text), 'default')
      from unnest(${acl}) as item)`;
  const { rows } = await client.query<{ line: string }>(
    `with schemas as (select oid from pg_namespace where nspname = any($1))
     select 'function ' || p.oid::regprocedure::text || ' definer=' || p.prosecdef::text
            || ' config=' || coalesce(array_to_string(p.proconfig, ';'), '') || ' acl=' || ${sorted('p.proacl')} as line
       from pg_proc p where p.pronamespace in (select oid from schemas)
     union all
     select 'relation ' || c.oid::regclass::text || ' acl=' || ${sorted('c.relacl')}
       from pg_class c where c.relnamespace in (select oid from schemas) and c.relkind in ('r', 'p', 'v', 'm', 'S')
     union all
     select 'column ' || a.attrelid::regclass::text || '.' || a.attname || ' acl=' || ${sorted('a.attacl')}
       from pg_attribute a join pg_class c on c.oid = a.attrelid
      where c.relnamespace in (select oid from schemas) and a.attacl is not null
     union all
     select 'schema ' || n.nspname || ' acl=' || ${sorted('n.nspacl')} from pg_namespace n where n.nspname = any($1)
     union all
     select 'trigger ' || pg_get_triggerdef(t.oid) || ' enabled=' || t.tgenabled::text
       from pg_trigger t join pg_class c on c.oid = t.tgrelid
      where c.relnamespace in (select oid from schemas) and not t.tgisinternal
     union all
     select 'default ' || d.defaclrole::regrole::text || ' ' || d.defaclnamespace::text || ' ' || d.defaclobjtype::text
            || ' acl=' || ${sorted('d.defaclacl')}
       from pg_default_acl d
     order by 1`,
    [ledgerSchemas],
  );
  return rows.map((row) => row.line);
}

/** The repeatable files as they stood before 0011_least_privilege, kept verbatim. */
const repeatableBeforeDir = path.join(import.meta.dirname, 'fixtures', 'repeatable-before-0011');

/**
 * The migrations as they stood before 0011_least_privilege: the numbered ones before it, and the
 * repeatable files of that time. Later numbered migrations and today's repeatable files come with
 * the upgrade, as they would to a database deployed then.
 */
async function migrationsBeforeLeastPrivilege(migrations: readonly Migration[]): Promise<Migration[]> {
  const numbered = migrations.filter(
    (migration) => migration.kind === 'numbered' && migration.name < '0011_least_privilege',
  );
  const files = (await readdir(repeatableBeforeDir)).filter((file) => file.endsWith('.sql')).sort();
  const repeatable = await Promise.all(
    files.map(
      async (file): Promise<Migration> => ({
        kind: 'repeatable',
        name: `repeatable/${file.replace(/\.sql$/, '')}`,
        sql: await readFile(path.join(repeatableBeforeDir, file), 'utf8'),
        checksum: `before-0011-${file}`,
      }),
    ),
  );
  return [...numbered, ...repeatable];
}

/** Runs `body` with a connection to a new, empty database on the test server, dropped afterwards. */
async function withEmptyDatabase<T>(body: (client: pg.Client) => Promise<T>): Promise<T> {
  const serverUrl = inject('serverUrl');
  const name = `ledgerx_test_empty_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
  const admin = new pg.Client(serverUrl);
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
    const client = new pg.Client(databaseUrl(serverUrl, name));
    await client.connect();
    try {
      return await body(client);
    } finally {
      await client.end();
    }
  } finally {
    await admin.query(`drop database if exists ${name} with (force)`);
    await admin.end();
  }
}

describe('privileges', () => {
  it('end the same on a new database, on one upgraded from before 0011_least_privilege, and after every repeatable file is applied again', async () => {
    const migrations = await readMigrations();
    const before = await migrationsBeforeLeastPrivilege(migrations);
    const again = migrations.map((migration) =>
      migration.kind === 'repeatable'
        ? { ...migration, sql: `${migration.sql}\n-- again`, checksum: 'again' }
        : migration,
    );

    const fresh = await withEmptyDatabase(async (client) => {
      await migrate(client, migrations);
      return privilegesOf(client);
    });
    const upgraded = await withEmptyDatabase(async (client) => {
      await migrate(client, before);
      const old = await privilegesOf(client);
      await migrate(client, migrations);
      return { old, now: await privilegesOf(client) };
    });
    await migrateTestDatabase(again);
    const owner = await database.ownerPool.connect();
    const reapplied = await privilegesOf(owner).finally(() => owner.release());

    // The old state really was different: PUBLIC could post, and posting ran as the caller.
    expect(upgraded.old).toContainEqual(
      expect.stringMatching(/^function ledger\.post_transfers\(.*\) definer=false .*acl=(.* )?=X\//),
    );
    expect(fresh).toContainEqual(
      expect.stringMatching(
        /^function ledger\.post_transfers\(.*\) definer=true config=search_path=pg_catalog, pg_temp;/,
      ),
    );
    expect(upgraded.now).toEqual(fresh);
    expect(reapplied).toEqual(fresh);
  });
});
