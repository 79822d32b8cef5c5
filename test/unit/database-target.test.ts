import { describe, expect, it } from 'vitest';
import { secretPassword } from '../../shared/adapters/aws/database-secret';
import type { PasswordTarget } from '../../shared/adapters/postgres/pool';
import { readFunctionSettings } from '../../shared/settings';
import { databaseTarget } from '../../shared/wiring';

const secretArn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:ledgerx-db-AbCdEf';
const proxyEnv = {
  LEDGER_DB_SECRET_ARN: secretArn,
  LEDGER_DB_HOST: 'ledgerx.proxy-abc.eu-west-1.rds.amazonaws.com',
  LEDGER_DB_PORT: '5432',
  LEDGER_DB_NAME: 'ledgerx',
  LEDGER_DB_USER: 'ledgerx_admin',
};

/** The target the settings of `env` give, reading secrets with `read`. */
function databaseTargetFromEnv(env: NodeJS.ProcessEnv, read: () => (id: string) => Promise<string>) {
  return databaseTarget(readFunctionSettings(env), { region: 'eu-west-1' }, read());
}

function secretReaderCounting(secrets: Record<string, string>): {
  read: (id: string) => Promise<string>;
  reads: string[];
} {
  const reads: string[] = [];
  return {
    reads,
    read: async (id) => {
      reads.push(id);
      const value = secrets[id];
      if (value === undefined) throw new Error(`no secret ${id}`);
      return value;
    },
  };
}

function passwordTarget(env: NodeJS.ProcessEnv, read: (id: string) => Promise<string>): PasswordTarget {
  const target = databaseTargetFromEnv(env, () => read);
  if (typeof target === 'string') throw new Error('test: expected a password target');
  return target;
}

describe('the database target the settings give', () => {
  it('uses DATABASE_URL as it is when set, and reads no secret', () => {
    const secrets = secretReaderCounting({});
    const target = databaseTargetFromEnv(
      { ...proxyEnv, DATABASE_URL: 'postgres://u:p@localhost:5432/ledgerx' },
      () => secrets.read,
    );
    expect(target).toBe('postgres://u:p@localhost:5432/ledgerx');
    expect(secrets.reads).toEqual([]);
  });

  it('connects to the proxy over TLS as the named user, with the password from the secret', async () => {
    const secrets = secretReaderCounting({
      [secretArn]: JSON.stringify({ username: 'ledgerx_admin', password: 'p@ss/word:with#chars' }),
    });
    const target = passwordTarget(proxyEnv, secrets.read);
    expect(target).toMatchObject({
      host: proxyEnv.LEDGER_DB_HOST,
      port: 5432,
      database: 'ledgerx',
      user: 'ledgerx_admin',
      tls: true,
    });
    expect(await target.password()).toBe('p@ss/word:with#chars');
    expect(secrets.reads).toEqual([secretArn]);
  });

  it('names the missing variable when the secret is set but the host is not', () => {
    const { LEDGER_DB_HOST: _host, ...withoutHost } = proxyEnv;
    expect(() => databaseTargetFromEnv(withoutHost, () => async () => '')).toThrow(/LEDGER_DB_HOST/);
  });

  it('refuses a port that is not a number', () => {
    expect(() => databaseTargetFromEnv({ ...proxyEnv, LEDGER_DB_PORT: '54x' }, () => async () => '')).toThrow(
      /LEDGER_DB_PORT/,
    );
  });

  it('says which variable is missing when neither a URL nor a secret is given', () => {
    expect(() => databaseTargetFromEnv({}, () => async () => '')).toThrow(
      /LEDGER_DB_SECRET_ARN is not set; DATABASE_URL is not set/,
    );
  });
});

describe('secretPassword', () => {
  it('reuses a read password until the cache period ends, then reads the rotated one', async () => {
    let nowMs = 0;
    let stored = JSON.stringify({ password: 'first' });
    const reads: string[] = [];
    const password = secretPassword(
      async (id) => {
        reads.push(id);
        return stored;
      },
      secretArn,
      { cacheMs: 60_000, now: () => nowMs },
    );
    expect(await password()).toBe('first');
    stored = JSON.stringify({ password: 'rotated' });
    nowMs = 59_999;
    expect(await password()).toBe('first');
    nowMs = 60_000;
    expect(await password()).toBe('rotated');
    expect(reads).toHaveLength(2);
  });

  it('refuses a secret without a password, naming the secret', async () => {
    const password = secretPassword(async () => JSON.stringify({ username: 'x' }), secretArn);
    await expect(password()).rejects.toThrow(`secret ${secretArn} holds no password`);
  });
});
