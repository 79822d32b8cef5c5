import { randomUUID } from 'node:crypto';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import pg from 'pg';
import { describe, expect, inject, it } from 'vitest';
import migrateDatabase, { physicalResourceId } from '../../functions/migrate-database';
import { migrationsDir, readMigrations } from '../../shared/adapters/postgres/migrate';
import { DatabaseMigrator } from '../../shared/adapters/postgres/migrator';
import { createPool } from '../../shared/adapters/postgres/pool';
import { silentLogger, testWiring } from '../support/api';
import { databaseUrl, useTestDatabase } from '../support/database';

const database = useTestDatabase();

function customResourceEvent(requestType: 'Create' | 'Update' | 'Delete'): CloudFormationCustomResourceEvent {
  const base = {
    ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:provider',
    ResponseURL: 'https://example.invalid/response',
    StackId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/LedgerX-dev-Stateless/1',
    RequestId: 'request-1',
    LogicalResourceId: 'DeploymigrateDatabase',
    ResourceType: 'Custom::LedgerXDeployStep',
    ResourceProperties: { ServiceToken: 'token' },
  };
  if (requestType === 'Create') return { ...base, RequestType: 'Create' };
  if (requestType === 'Update') {
    return {
      ...base,
      RequestType: 'Update',
      PhysicalResourceId: physicalResourceId,
      OldResourceProperties: { ServiceToken: 'token' },
    };
  }
  return { ...base, RequestType: 'Delete', PhysicalResourceId: physicalResourceId };
}

/** Little patience, so the tests of giving up end at once. */
const patience = { connectAttemptCountMax: 3, connectRetryDelayMs: 1 };

describe('the migration custom resource', () => {
  it('migrates an empty database on create, applying every migration in order', async () => {
    const serverUrl = inject('serverUrl');
    const name = `ledgerx_test_empty_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
    const admin = new pg.Client(serverUrl);
    await admin.connect();
    await admin.query(`create database ${name}`);
    const pool = createPool(databaseUrl(serverUrl, name));
    try {
      const handler = migrateDatabase.build(testWiring(pool));
      const response = await handler(customResourceEvent('Create'));
      const names = (await readMigrations()).map((migration) => migration.name);
      expect(response).toEqual({
        PhysicalResourceId: physicalResourceId,
        Data: { applied: names.join(' ') },
      });
    } finally {
      await pool.end();
      await admin.query(`drop database ${name} with (force)`);
      await admin.end();
    }
  });

  it('applies nothing on a database already migrated, and answers with one stable id', async () => {
    const handler = migrateDatabase.build(testWiring(database.pool));
    expect(await handler(customResourceEvent('Update'))).toEqual({
      PhysicalResourceId: physicalResourceId,
      Data: { applied: '' },
    });
    const { rows } = await database.pool.query<{ count: string }>(
      'select count(*) from public.schema_migrations',
    );
    const numbered = (await readMigrations()).filter((migration) => migration.kind === 'numbered');
    expect(rows[0]?.count).toBe(String(numbered.length));
  });

  it('waits for a database that refuses connections at first (the proxy registering its target)', async () => {
    let refusals = 2;
    const pool = {
      connect: async () => {
        if (refusals > 0) {
          refusals -= 1;
          throw new Error('connection refused');
        }
        return database.pool.connect();
      },
    } as unknown as pg.Pool;
    const migrator = new DatabaseMigrator(pool, silentLogger);
    await expect(migrator.migrate(migrationsDir, patience)).resolves.toMatchObject({ applied: [] });
    expect(refusals).toBe(0);
  });

  it('gives up after its attempts, so the deploy fails rather than hang', async () => {
    const pool = {
      connect: async () => {
        throw new Error('connection refused');
      },
    } as unknown as pg.Pool;
    const migrator = new DatabaseMigrator(pool, silentLogger);
    await expect(migrator.migrate(migrationsDir, patience)).rejects.toThrow('connection refused');
  });

  it('leaves the database alone when the stack deletes the resource (migrations only go forward)', async () => {
    const pool = {
      connect: async () => {
        throw new Error('test: a delete must not connect');
      },
    } as unknown as pg.Pool;
    const handler = migrateDatabase.build(testWiring(pool));
    expect(await handler(customResourceEvent('Delete'))).toEqual({
      PhysicalResourceId: physicalResourceId,
      Data: { applied: '' },
    });
  });
});
