import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { defaultFraudSettings, fanOutWindowSMax } from '../../shared/domain/fraud';
import { velocityTransferCountMaxBound } from '../../shared/domain/velocity';
import {
  readFunctionSettings,
  readLocalSettings,
  resourceEnvironment,
  SettingError,
  settingSpecs,
} from '../../shared/settings';

describe('the functions’ settings', () => {
  it('take their defaults when nothing is set: a minute, 100 transfers, no amount limit', () => {
    const settings = readFunctionSettings({});

    expect(settings.velocity).toEqual({ windowS: 60, transferCountMax: 100, amountMax: undefined });
    expect(settings.fraud).toEqual(defaultFraudSettings);
    expect(settings.database.pool).toEqual({
      connectionCountMax: 2,
      connectTimeoutMs: 5_000,
      queryTimeoutMs: 10_000,
      idleTimeoutMs: 60_000,
    });
    expect(settings.database.url).toBeUndefined();
  });

  it('read amounts as bigint minor units and numbers as numbers', () => {
    const settings = readFunctionSettings({
      LEDGER_VELOCITY_WINDOW_S: '30',
      LEDGER_VELOCITY_MAX_TRANSFERS: '5',
      LEDGER_VELOCITY_MAX_AMOUNT: '9223372036854775807',
      LEDGER_FRAUD_THRESHOLD: '0.9',
      LEDGER_FRAUD_STRUCTURING_LIMIT: '300000',
      LEDGER_DB_CONNECTION_COUNT_MAX: '7',
    });

    expect(settings.velocity).toEqual({ windowS: 30, transferCountMax: 5, amountMax: 9223372036854775807n });
    expect(settings.fraud).toMatchObject({ threshold: 0.9, structuringLimit: 300_000n });
    expect(settings.database.pool.connectionCountMax).toBe(7);
  });

  it('treat an empty value as unset', () => {
    expect(readFunctionSettings({ LEDGER_VELOCITY_MAX_AMOUNT: '' }).velocity.amountMax).toBeUndefined();
  });

  it.each([
    ['LEDGER_VELOCITY_WINDOW_S', '0'],
    ['LEDGER_VELOCITY_WINDOW_S', '86401'],
    ['LEDGER_VELOCITY_WINDOW_S', '1.5'],
    ['LEDGER_VELOCITY_WINDOW_S', '-5'],
    ['LEDGER_VELOCITY_WINDOW_S', 'a minute'],
    ['LEDGER_VELOCITY_MAX_TRANSFERS', '0'],
    ['LEDGER_VELOCITY_MAX_TRANSFERS', String(velocityTransferCountMaxBound + 1)],
    ['LEDGER_VELOCITY_MAX_TRANSFERS', '1e3'],
    ['LEDGER_VELOCITY_MAX_AMOUNT', '0'],
    ['LEDGER_VELOCITY_MAX_AMOUNT', '10.50'],
    ['LEDGER_VELOCITY_MAX_AMOUNT', '9223372036854775808'],
    ['LEDGER_VELOCITY_MAX_AMOUNT', '01'],
    ['LEDGER_FRAUD_THRESHOLD', '2'],
    ['LEDGER_FRAUD_THRESHOLD', '0'],
    ['LEDGER_FRAUD_STRUCTURING_LIMIT', '1.5'],
    ['LEDGER_FRAUD_STRUCTURING_BAND_PERCENT', '100'],
    ['LEDGER_DB_CONNECTION_COUNT_MAX', 'many'],
    ['LEDGER_DB_QUERY_TIMEOUT_MS', '0'],
    ['LEDGER_DB_PORT', '54x'],
    ['DATABASE_URL', 'not a url'],
    ['LEDGER_CONSUMER_BACKOFF_BASE_S', '0'],
    ['LEDGER_CONSUMER_BACKOFF_CAP_S', '43201'],
  ])('refuse %s=%s, naming the setting', (name, value) => {
    const read = () => readFunctionSettings({ [name]: value });

    expect(read).toThrow(SettingError);
    expect(read).toThrow(new RegExp(`^${name} `));
  });

  it('read the fan-out settings, and refuse the retired counterparty count by name', () => {
    expect(
      readFunctionSettings({
        LEDGER_FRAUD_FAN_OUT_NEW_COUNTERPARTIES: '8',
        LEDGER_FRAUD_FAN_OUT_WINDOW_S: '7200',
      }).fraud,
    ).toMatchObject({ fanOutNewCounterpartyCountMin: 8, fanOutWindowS: 7200 });
    for (const count of ['1', '2.5', '0', 'many']) {
      expect(() => readFunctionSettings({ LEDGER_FRAUD_FAN_OUT_NEW_COUNTERPARTIES: count })).toThrow(
        /^LEDGER_FRAUD_FAN_OUT_NEW_COUNTERPARTIES /,
      );
    }
    expect(() =>
      readFunctionSettings({ LEDGER_FRAUD_FAN_OUT_WINDOW_S: String(fanOutWindowSMax + 1) }),
    ).toThrow(/^LEDGER_FRAUD_FAN_OUT_WINDOW_S must be a number above 0 and at most 86400/);
    expect(() => readFunctionSettings({ LEDGER_FRAUD_FAN_OUT_COUNTERPARTIES: '5' })).toThrow(
      /^LEDGER_FRAUD_FAN_OUT_COUNTERPARTIES .* retired; LEDGER_FRAUD_FAN_OUT_NEW_COUNTERPARTIES/,
    );
  });

  it('read the consumers’ backoff: 30 s doubling to 900 s by default, and never a cap below the base', () => {
    expect(readFunctionSettings({}).backoff).toEqual({ baseS: 30, capS: 900 });
    expect(
      readFunctionSettings({ LEDGER_CONSUMER_BACKOFF_BASE_S: '1', LEDGER_CONSUMER_BACKOFF_CAP_S: '4' })
        .backoff,
    ).toEqual({ baseS: 1, capS: 4 });
    expect(() =>
      readFunctionSettings({ LEDGER_CONSUMER_BACKOFF_BASE_S: '60', LEDGER_CONSUMER_BACKOFF_CAP_S: '30' }),
    ).toThrow(/^LEDGER_CONSUMER_BACKOFF_CAP_S must be at least LEDGER_CONSUMER_BACKOFF_BASE_S \(60\)$/);
  });

  it('carry the resources the stack writes, and name a needed one that is missing', () => {
    const written = resourceEnvironment({
      queueUrls: {
        transfers: 'http://queues/transfers.fifo',
        transfersDeadLetter: 'http://queues/transfers-dlq.fifo',
        transferEvents: 'http://queues/events',
        transferEventsDeadLetter: 'http://queues/events-dlq',
        fraudScorer: 'http://queues/scorer',
        fraudScorerDeadLetter: 'http://queues/scorer-dlq',
        fraudPatterns: 'http://queues/patterns',
        fraudPatternsDeadLetter: 'http://queues/patterns-dlq',
      },
      tableNames: { idempotency: 'idempotency', velocity: 'velocity' },
      eventBusName: 'bus',
    });
    const settings = readFunctionSettings(written);

    expect(settings.queueUrls.transfersDeadLetter.get('test')).toBe('http://queues/transfers-dlq.fifo');
    expect(settings.tableNames.velocity.get('test')).toBe('velocity');
    expect(() => readFunctionSettings({}).eventBusName.get('events are published')).toThrow(
      /^LEDGER_EVENT_BUS is not set; events are published/,
    );
  });
});

describe("the local runtime's settings", () => {
  it('take their defaults, and refuse a bad port by name', () => {
    expect(readLocalSettings({})).toMatchObject({
      port: 3000,
      databasePort: 54_320,
      databaseDirectory: '.data/postgres',
      runtimeFile: '.data/runtime.json',
      namePrefix: '',
    });
    expect(() => readLocalSettings({ PORT: '70000' })).toThrow(/^PORT /);
    expect(() => readLocalSettings({ LEDGER_LOCAL_NAME_PREFIX: 'has space' })).toThrow(
      /^LEDGER_LOCAL_NAME_PREFIX /,
    );
  });
});

describe('the settings table', () => {
  it('names every setting once, under one scheme: LEDGER_ and the area, or a name every tool knows', () => {
    const names = settingSpecs.map((spec) => spec.name);

    expect(new Set(names).size).toBe(names.length);
    for (const name of names) {
      expect(name).toMatch(
        /^(LEDGER_(DB|QUEUE|TABLE|EVENT|CONSUMER|VELOCITY|PENDING|FRAUD|CHECKER|LOCAL|LOCALSTACK|API)_[A-Z0-9_]+|LEDGER_URL|DATABASE_URL|PORT|AWS_ENDPOINT_URL)$/,
      );
    }
  });

  it('is the table docs/settings.md shows, default for default', () => {
    const documented = new Map<string, string>();
    for (const line of readFileSync(new URL('../../docs/settings.md', import.meta.url), 'utf8').split('\n')) {
      const match = /^\|\s*`([A-Z0-9_]+)`\s*\|\s*([^|]*?)\s*\|/.exec(line);
      if (match?.[1] !== undefined) documented.set(match[1], (match[2] ?? '').trim());
    }

    expect([...documented.keys()].sort()).toEqual(settingSpecs.map((spec) => spec.name).sort());
    for (const spec of settingSpecs) {
      expect(documented.get(spec.name), spec.name).toBe(
        spec.defaultText === undefined ? '(none)' : `\`${spec.defaultText}\``,
      );
    }
  });
});
