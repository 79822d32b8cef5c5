import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { migrate, migrationsDir, readMigrations } from '../../shared/adapters/postgres/migrate';
import { useTestDatabase } from '../support/database';

const database = useTestDatabase();

/** Every migration, in order; a new one is added here with its test.sql. */
const migrationNames = [
  '0001_ledger',
  '0002_posting',
  '0003_invariants',
  '0004_account_lock_stripes',
  '0005_event_receipts',
  '0006_consumer_activity',
  '0007_velocity_limits',
  '0008_fraud',
  '0009_fraud_first_payments',
  '0010_least_privilege',
];

describe('migrations', () => {
  it('are numbered folders, each with the test that asserts what it created', async () => {
    const migrations = await readMigrations();
    expect(migrations.map((migration) => migration.name)).toEqual(migrationNames);
  });

  it.each(migrationNames)('%s created what its test asserts', async (name) => {
    const sql = await readFile(path.join(migrationsDir, name, 'test.sql'), 'utf8');
    await expect(database.ownerPool.query(sql)).resolves.toBeDefined();
  });

  it('runs nothing twice: a second run applies no migration', async () => {
    const client = await database.ownerPool.connect();
    try {
      expect(await migrate(client, await readMigrations())).toEqual([]);
    } finally {
      client.release();
    }
  });

  it('refuses to go on when an applied migration was edited', async () => {
    const [first, ...rest] = await readMigrations();
    if (first === undefined) throw new Error('no migrations');
    const edited = { ...first, sql: `${first.sql}\n-- edited`, checksum: 'edited' };
    const client = await database.ownerPool.connect();
    try {
      await expect(migrate(client, [edited, ...rest])).rejects.toThrow(/changed after it was applied/);
    } finally {
      client.release();
    }
  });
});
