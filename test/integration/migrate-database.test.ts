import { randomBytes, randomUUID } from 'node:crypto';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import pg from 'pg';
import { afterAll, describe, expect, inject, it } from 'vitest';
import migrateDatabase, { physicalResourceId } from '../../functions/migrate-database';
import { localAwsSettings } from '../../infra/local/aws';
import {
  FunctionLoginRefusedError,
  localFunctionLogin,
  urlWithLogin,
} from '../../shared/adapters/postgres/function-login';
import { migrationsDir, readMigrations } from '../../shared/adapters/postgres/migrate';
import { DatabaseMigrator } from '../../shared/adapters/postgres/migrator';
import { createPool } from '../../shared/adapters/postgres/pool';
import { SettingError } from '../../shared/settings';
import { silentLogger, testWiring } from '../support/api';
import { databaseUrl, useTestDatabase } from '../support/database';

const database = useTestDatabase();

/** The functions' login as the migration function is told it on LocalStack: by URL. */
const localLoginEnvironment = (url: string) => ({ LEDGER_DB_APP_URL: urlWithLogin(url, localFunctionLogin) });
const noLogin = async () => {
  throw new Error('test: this migrator makes no login');
};

/** Logins a test made under names of its own (roles belong to the server), dropped at the end. */
const madeRoles: string[] = [];
afterAll(async () => {
  for (const role of madeRoles) {
    await database.ownerPool.query(`drop role if exists ${pg.escapeIdentifier(role)}`);
  }
});

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
      const handler = migrateDatabase.build(
        testWiring(pool, { environment: localLoginEnvironment(serverUrl) }),
      );
      const response = await handler(customResourceEvent('Create'));
      const names = (await readMigrations()).map((migration) => migration.name);
      expect(response).toEqual({
        PhysicalResourceId: physicalResourceId,
        Data: { applied: names.join(' '), functionLogin: localFunctionLogin.user },
      });
    } finally {
      await pool.end();
      await admin.query(`drop database ${name} with (force)`);
      await admin.end();
    }
  });

  it('applies nothing on a database already migrated, and answers with one stable id', async () => {
    const handler = migrateDatabase.build(
      testWiring(database.ownerPool, { environment: localLoginEnvironment(database.url) }),
    );
    expect(await handler(customResourceEvent('Update'))).toEqual({
      PhysicalResourceId: physicalResourceId,
      Data: { applied: '', functionLogin: localFunctionLogin.user },
    });
    const { rows } = await database.ownerPool.query<{ count: string }>(
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
        return database.ownerPool.connect();
      },
    } as unknown as pg.Pool;
    const migrator = new DatabaseMigrator(pool, silentLogger, noLogin);
    await expect(migrator.migrate(migrationsDir, patience)).resolves.toMatchObject({ applied: [] });
    expect(refusals).toBe(0);
  });

  it('gives up after its attempts, so the deploy fails rather than hang', async () => {
    const pool = {
      connect: async () => {
        throw new Error('connection refused');
      },
    } as unknown as pg.Pool;
    const migrator = new DatabaseMigrator(pool, silentLogger, noLogin);
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

describe("the functions' login, made by the migration custom resource", () => {
  /** A secret as the stack makes it, under a login name of this test's own. */
  async function loginSecret(): Promise<{ arn: string; user: string; password: string }> {
    const endpoint = inject('awsEndpoint');
    const user = `ledgerx_test_${randomBytes(6).toString('hex')}`;
    const password = randomBytes(18).toString('base64url');
    madeRoles.push(user);
    const secrets = new SecretsManagerClient(localAwsSettings(endpoint));
    const { ARN } = await secrets.send(
      new CreateSecretCommand({
        Name: `${user}-secret`,
        SecretString: JSON.stringify({ username: user, password }),
      }),
    );
    if (ARN === undefined) throw new Error('the endpoint made no secret');
    return { arn: ARN, user, password };
  }

  function migrationFunction(secretArn: string) {
    return migrateDatabase.build(
      testWiring(database.ownerPool, {
        endpoint: inject('awsEndpoint'),
        environment: { LEDGER_DB_APP_SECRET_ARN: secretArn },
      }),
    );
  }

  it('makes the login from its secret: it logs in, is a member of ledgerx_app only and owns nothing', async () => {
    const secret = await loginSecret();

    const response = await migrationFunction(secret.arn)(customResourceEvent('Update'));

    expect(response.Data.functionLogin).toBe(secret.user);
    const login = new pg.Client(urlWithLogin(database.url, { user: secret.user, password: secret.password }));
    await login.connect();
    try {
      const { rows } = await login.query<{ user: string; memberships: string[]; superuser: boolean }>(
        `select current_user as user,
                array(select g.rolname::text from pg_auth_members m join pg_roles g on g.oid = m.roleid
                       where m.member = r.oid) as memberships,
                r.rolsuper as superuser
           from pg_roles r where r.rolname = current_user`,
      );
      expect(rows).toEqual([{ user: secret.user, memberships: ['ledgerx_app'], superuser: false }]);
    } finally {
      await login.end();
    }
  });

  it('sets the password the secret holds now, so a deploy after a rotation brings the login up to date', async () => {
    const secret = await loginSecret();
    await database.ownerPool.query(
      `create role ${pg.escapeIdentifier(secret.user)} login password 'an-older-password-0123'`,
    );

    await migrationFunction(secret.arn)(customResourceEvent('Update'));

    const login = new pg.Client(urlWithLogin(database.url, { user: secret.user, password: secret.password }));
    await login.connect();
    await login.end();
  });

  it('refuses a login that was given another role by hand, rather than deploy functions with it', async () => {
    const secret = await loginSecret();
    await database.ownerPool.query(`create role ${pg.escapeIdentifier(secret.user)} login`);
    await database.ownerPool.query(`grant pg_read_all_data to ${pg.escapeIdentifier(secret.user)}`);

    const deploy = migrationFunction(secret.arn)(customResourceEvent('Update'));

    await expect(deploy).rejects.toThrow(FunctionLoginRefusedError);
    await expect(deploy).rejects.toThrow(/member of pg_read_all_data besides ledgerx_app/);
  });

  it('fails the deploy naming the setting when the login has no source', async () => {
    const deploy = migrateDatabase.build(testWiring(database.ownerPool))(customResourceEvent('Update'));

    await expect(deploy).rejects.toThrow(SettingError);
    await expect(deploy).rejects.toThrow(/^LEDGER_DB_APP_SECRET_ARN is not set/);
  });
});
