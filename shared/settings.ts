/**
 * Every setting LedgerX reads from its environment, in one table, parsed under one policy: a
 * setting that is set must be valid, or start-up stops with an error naming it; a setting that is
 * not set takes its default; a setting without a default is required only by the code that needs
 * it (a function without database access never asks where the database is), and asking for it
 * while it is unset fails with its name too.
 *
 * Names follow one scheme: `LEDGER_<AREA>_<NAME>`, the unit last (`_S`, `_MS`, `_MAX`), plus the
 * few names every tool knows (`DATABASE_URL`, `PORT`, `AWS_ENDPOINT_URL`). docs/settings.md shows
 * the same table; a test keeps the two equal.
 */
import { defaultFraudSettings, type FraudSettings, fanOutWindowSMax } from './domain/fraud';
import { amountMax, parseMinorUnits } from './domain/money';
import { isPendingTimeoutS, pendingTimeoutSMax, pendingTimeoutSMin } from './domain/transfer';
import {
  isVelocityAmountMax,
  isVelocityTransferCountMax,
  isVelocityWindowS,
  type VelocityLimits,
  velocityTransferCountMaxBound,
  velocityTransferCountMaxDefault,
  velocityWindowSDefault,
  velocityWindowSMax,
} from './domain/velocity';
import {
  defaultRedeliveryBackoff,
  type RedeliveryBackoff,
  visibilityTimeoutSMax,
} from './handlers/redelivery';
import { type InvariantCheckLimits, invariantCheckDefaults } from './services/invariant-checker';
import { type QueueKey, type TableKey, topology } from './topology';

/**
 * A pending transfer's timeout when the request gives none: a week, as long as card networks
 * usually let an authorisation stand.
 */
export const pendingTimeoutSDefault = 7 * 24 * 3600;

/** A setting is set to a value it cannot take, or a needed one is not set. */
export class SettingError extends Error {
  public constructor(
    public readonly setting: string,
    reason: string,
  ) {
    super(`${setting} ${reason}`);
    this.name = 'SettingError';
  }
}

/** Who reads a setting: the functions (on AWS and locally), the local runtime, or the CDK app. */
export type SettingScope = 'functions' | 'local' | 'deploy';

/** One row of the table. `parse` throws a RangeError saying what the value must be. */
export interface SettingSpec<Value> {
  readonly name: string;
  readonly scope: SettingScope;
  readonly description: string;
  /** The value when unset, as text for the docs; undefined: no default. */
  readonly defaultText: string | undefined;
  readonly parse: (text: string) => Value;
}

function setting<Value>(spec: SettingSpec<Value>): SettingSpec<Value> {
  return spec;
}

// ---------------------------------------------------------------------------------------------
// Parsers: each accepts the whole text or throws a RangeError that completes "<NAME> ...".

function wholeNumber(min: number, max: number): (text: string) => number {
  return (text) => {
    if (!/^[0-9]{1,15}$/.test(text)) throw new RangeError(`must be a whole number from ${min} to ${max}`);
    const value = Number.parseInt(text, 10);
    if (value < min || value > max) throw new RangeError(`must be a whole number from ${min} to ${max}`);
    return value;
  };
}

function positiveNumber(max: number): (text: string) => number {
  return (text) => {
    if (!/^[0-9]{1,9}(\.[0-9]{1,9})?$/.test(text)) throw new RangeError(`must be a positive number`);
    const value = Number.parseFloat(text);
    if (!(value > 0) || value > max) throw new RangeError(`must be a number above 0 and at most ${max}`);
    return value;
  };
}

/** Minor units, as a decimal string: never through a float. */
function minorUnits(text: string): bigint {
  const value = parseMinorUnits(text);
  if (value === undefined || value < 1n || value > amountMax) {
    throw new RangeError('must be a decimal string of minor units from 1 to 2^63-1');
  }
  return value;
}

function nonEmpty(text: string): string {
  if (text.trim() === '') throw new RangeError('must not be blank');
  return text;
}

function url(text: string): string {
  try {
    new URL(text);
  } catch {
    throw new RangeError('must be a URL');
  }
  return text;
}

const port = wholeNumber(1, 65_535);

// ---------------------------------------------------------------------------------------------
// The table

const database = {
  url: setting({
    name: 'DATABASE_URL',
    scope: 'functions',
    description:
      'Postgres connection URL. Set locally and for LocalStack; on AWS the functions reach RDS Proxy through LEDGER_DB_HOST and the secret instead.',
    defaultText: undefined,
    parse: url,
  }),
  host: setting({
    name: 'LEDGER_DB_HOST',
    scope: 'functions',
    description: 'RDS Proxy endpoint, when DATABASE_URL is not set (the stack sets it).',
    defaultText: undefined,
    parse: nonEmpty,
  }),
  port: setting({
    name: 'LEDGER_DB_PORT',
    scope: 'functions',
    description: 'RDS Proxy port, when DATABASE_URL is not set.',
    defaultText: undefined,
    parse: port,
  }),
  name: setting({
    name: 'LEDGER_DB_NAME',
    scope: 'functions',
    description: 'Database name, when DATABASE_URL is not set.',
    defaultText: undefined,
    parse: nonEmpty,
  }),
  user: setting({
    name: 'LEDGER_DB_USER',
    scope: 'functions',
    description:
      "Database user, when DATABASE_URL is not set: the functions' login (ledgerx_app_user); the tables' owner for the migration function alone.",
    defaultText: undefined,
    parse: nonEmpty,
  }),
  secretArn: setting({
    name: 'LEDGER_DB_SECRET_ARN',
    scope: 'functions',
    description: "Secrets Manager secret holding that user's password, read when a connection opens.",
    defaultText: undefined,
    parse: nonEmpty,
  }),
  appSecretArn: setting({
    name: 'LEDGER_DB_APP_SECRET_ARN',
    scope: 'functions',
    description:
      "The migration function only: the secret (username, password) of the functions' login, which it makes or updates on every deploy.",
    defaultText: undefined,
    parse: nonEmpty,
  }),
  appUrl: setting({
    name: 'LEDGER_DB_APP_URL',
    scope: 'functions',
    description:
      "The migration function only, where there is no secret (LocalStack): a URL whose user and password are the functions' login.",
    defaultText: undefined,
    parse: url,
  }),
  connectionCountMax: setting({
    name: 'LEDGER_DB_CONNECTION_COUNT_MAX',
    scope: 'functions',
    description: 'Connections one process (one Lambda instance) may hold.',
    defaultText: '2',
    parse: wholeNumber(1, 100),
  }),
  connectTimeoutMs: setting({
    name: 'LEDGER_DB_CONNECT_TIMEOUT_MS',
    scope: 'functions',
    description: 'How long to wait for a new connection.',
    defaultText: '5000',
    parse: wholeNumber(1, 600_000),
  }),
  queryTimeoutMs: setting({
    name: 'LEDGER_DB_QUERY_TIMEOUT_MS',
    scope: 'functions',
    description: 'How long one query may take (the migration function gets its own timeout).',
    defaultText: '10000',
    parse: wholeNumber(1, 900_000),
  }),
  idleTimeoutMs: setting({
    name: 'LEDGER_DB_IDLE_TIMEOUT_MS',
    scope: 'functions',
    description: 'How long an unused connection is kept open.',
    defaultText: '60000',
    parse: wholeNumber(1, 3_600_000),
  }),
};

const velocity = {
  windowS: setting({
    name: 'LEDGER_VELOCITY_WINDOW_S',
    scope: 'functions',
    description: 'Default velocity window of a debit account.',
    defaultText: String(velocityWindowSDefault),
    parse: (text) => {
      const value = wholeNumber(1, velocityWindowSMax)(text);
      if (!isVelocityWindowS(value)) throw new RangeError(`must be from 1 to ${velocityWindowSMax} seconds`);
      return value;
    },
  }),
  transferCountMax: setting({
    name: 'LEDGER_VELOCITY_MAX_TRANSFERS',
    scope: 'functions',
    description: 'Default number of transfers a debit account may send within its window.',
    defaultText: String(velocityTransferCountMaxDefault),
    parse: (text) => {
      const value = wholeNumber(1, velocityTransferCountMaxBound)(text);
      if (!isVelocityTransferCountMax(value)) {
        throw new RangeError(`must be from 1 to ${velocityTransferCountMaxBound}`);
      }
      return value;
    },
  }),
  amountMax: setting({
    name: 'LEDGER_VELOCITY_MAX_AMOUNT',
    scope: 'functions',
    description: 'Default minor units a debit account may send within its window; unset: no amount limit.',
    defaultText: undefined,
    parse: (text) => {
      const value = minorUnits(text);
      if (!isVelocityAmountMax(value)) throw new RangeError('must be from 1 to 2^63-1 minor units');
      return value;
    },
  }),
};

/** How the queue consumers wait before a failed message's next delivery. */
const consumer = {
  backoffBaseS: setting({
    name: 'LEDGER_CONSUMER_BACKOFF_BASE_S',
    scope: 'functions',
    description:
      'A message that failed for a reason that may pass (the database is down) waits this long before its next delivery, doubling with each delivery.',
    defaultText: String(defaultRedeliveryBackoff.baseS),
    parse: wholeNumber(1, 3_600),
  }),
  backoffCapS: setting({
    name: 'LEDGER_CONSUMER_BACKOFF_CAP_S',
    scope: 'functions',
    description: 'The longest such wait (SQS hides a message for 12 hours at most).',
    defaultText: String(defaultRedeliveryBackoff.capS),
    parse: wholeNumber(1, visibilityTimeoutSMax),
  }),
};

/** Two-phase transfers. */
const pending = {
  timeoutS: setting({
    name: 'LEDGER_PENDING_TIMEOUT_S',
    scope: 'functions',
    description:
      'Default timeout of a pending transfer that gives none (POST /v1/transfers with pending: true): how long it holds its money before it expires.',
    defaultText: String(pendingTimeoutSDefault),
    parse: (text) => {
      const value = wholeNumber(pendingTimeoutSMin, pendingTimeoutSMax)(text);
      if (!isPendingTimeoutS(value)) {
        throw new RangeError(`must be from ${pendingTimeoutSMin} to ${pendingTimeoutSMax} seconds`);
      }
      return value;
    },
  }),
};

/** The fraud model's knobs; defaults from `defaultFraudSettings`. */
const fraud = {
  threshold: setting({
    name: 'LEDGER_FRAUD_THRESHOLD',
    scope: 'functions',
    description: 'A transfer whose score (0 to 1) reaches this is flagged.',
    defaultText: String(defaultFraudSettings.threshold),
    parse: positiveNumber(1),
  }),
  coldStartObservationCountMin: setting({
    name: 'LEDGER_FRAUD_COLD_START_COUNT',
    scope: 'functions',
    description: 'Observations below which an account is in cold start (only the cold-start rules judge it).',
    defaultText: String(defaultFraudSettings.coldStartObservationCountMin),
    parse: wholeNumber(1, 1_000_000),
  }),
  coldStartAmountMax: setting({
    name: 'LEDGER_FRAUD_COLD_START_AMOUNT_MAX',
    scope: 'functions',
    description: 'Cold start: a transfer above this many minor units is unusual.',
    defaultText: String(defaultFraudSettings.coldStartAmountMax),
    parse: minorUnits,
  }),
  deviationZ: setting({
    name: 'LEDGER_FRAUD_DEVIATION_Z',
    scope: 'functions',
    description: 'Standard deviations a feature may stray before it counts as evidence.',
    defaultText: String(defaultFraudSettings.deviationZ),
    parse: positiveNumber(100),
  }),
  velocityHalfLifeS: setting({
    name: 'LEDGER_FRAUD_VELOCITY_HALF_LIFE_S',
    scope: 'functions',
    description: 'Half-life of the recent-volume feature.',
    defaultText: String(defaultFraudSettings.velocityHalfLifeS),
    parse: positiveNumber(365 * 86_400),
  }),
  burstHalfLifeS: setting({
    name: 'LEDGER_FRAUD_BURST_HALF_LIFE_S',
    scope: 'functions',
    description: 'Half-life of the recent-count feature the burst reason reads.',
    defaultText: String(defaultFraudSettings.burstHalfLifeS),
    parse: positiveNumber(365 * 86_400),
  }),
  fanOutWindowS: setting({
    name: 'LEDGER_FRAUD_FAN_OUT_WINDOW_S',
    scope: 'functions',
    description: 'Pattern listener: the window in which counterparties new to the account are counted.',
    defaultText: String(defaultFraudSettings.fanOutWindowS),
    // The listener reads the whole window back at every transfer.
    parse: positiveNumber(fanOutWindowSMax),
  }),
  fanOutNewCounterpartyCountMin: setting({
    name: 'LEDGER_FRAUD_FAN_OUT_NEW_COUNTERPARTIES',
    scope: 'functions',
    description:
      'Pattern listener: this many counterparties first paid within the window is a fan-out (one is the scorer’s new_counterparty).',
    defaultText: String(defaultFraudSettings.fanOutNewCounterpartyCountMin),
    parse: wholeNumber(2, 10_000),
  }),
  structuringLimit: setting({
    name: 'LEDGER_FRAUD_STRUCTURING_LIMIT',
    scope: 'functions',
    description: 'Pattern listener: the limit structuring stays under, in minor units.',
    defaultText: String(defaultFraudSettings.structuringLimit),
    parse: minorUnits,
  }),
  structuringBandPercent: setting({
    name: 'LEDGER_FRAUD_STRUCTURING_BAND_PERCENT',
    scope: 'functions',
    description:
      'Pattern listener: an amount this many percent below the limit, or less, is "just under" it.',
    defaultText: String(defaultFraudSettings.structuringBandPercent),
    parse: (text) => {
      const value = positiveNumber(100)(text);
      if (value >= 100) throw new RangeError('must be below 100');
      return value;
    },
  }),
  structuringWindowS: setting({
    name: 'LEDGER_FRAUD_STRUCTURING_WINDOW_S',
    scope: 'functions',
    description: 'Pattern listener: the window in which just-under amounts are counted.',
    defaultText: String(defaultFraudSettings.structuringWindowS),
    parse: positiveNumber(30 * 86_400),
  }),
  structuringCountMin: setting({
    name: 'LEDGER_FRAUD_STRUCTURING_COUNT',
    scope: 'functions',
    description: 'Pattern listener: this many just-under amounts within the window is structuring.',
    defaultText: String(defaultFraudSettings.structuringCountMin),
    parse: wholeNumber(2, 10_000),
  }),
} satisfies { readonly [Key in keyof FraudSettings]: SettingSpec<FraudSettings[Key]> };

/** The invariant checker's bounds per run (docs/operations.md). */
const checker = {
  entryCountMax: setting({
    name: 'LEDGER_CHECKER_ENTRY_COUNT_MAX',
    scope: 'functions',
    description:
      'Invariant checker: new journal entries one run checks at most; the rest wait for the next run.',
    defaultText: String(invariantCheckDefaults.entryCountMax),
    parse: wholeNumber(1, 100_000_000),
  }),
  stepEntryCountMax: setting({
    name: 'LEDGER_CHECKER_STEP_ENTRY_COUNT_MAX',
    scope: 'functions',
    description: 'Invariant checker: new entries one step (one transaction) checks at most.',
    defaultText: String(invariantCheckDefaults.step.entryCountMax),
    parse: wholeNumber(1, 1_000_000),
  }),
  accountCountMax: setting({
    name: 'LEDGER_CHECKER_ACCOUNT_COUNT_MAX',
    scope: 'functions',
    description:
      'Invariant checker: accounts one step compares with their checked sums, besides the ones its new entries touched.',
    defaultText: String(invariantCheckDefaults.step.accountCountMax),
    parse: wholeNumber(0, 1_000_000),
  }),
  scrubEntryCountMax: setting({
    name: 'LEDGER_CHECKER_SCRUB_ENTRY_COUNT_MAX',
    scope: 'functions',
    description: 'Invariant checker: already-checked entries one step checks again (the scrub).',
    defaultText: String(invariantCheckDefaults.step.scrubEntryCountMax),
    parse: wholeNumber(0, 1_000_000),
  }),
  timeBudgetMs: setting({
    name: 'LEDGER_CHECKER_TIME_BUDGET_MS',
    scope: 'functions',
    description:
      'Invariant checker: no step starts after this much of a run has passed; the step under way finishes.',
    defaultText: String(invariantCheckDefaults.timeBudgetMs),
    parse: wholeNumber(1, 600_000),
  }),
};

/** The physical names of the stateful resources, set by the stack (or the local runtime). */
function resourceSetting(name: string, what: string): SettingSpec<string> {
  return setting({
    name,
    scope: 'functions',
    description: `${what} (set by the stack or the local runtime).`,
    defaultText: undefined,
    parse: nonEmpty,
  });
}

/** `transfersDeadLetter` → `TRANSFERS_DEAD_LETTER`. */
function upperSnake(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

const queueUrls = Object.fromEntries(
  (Object.keys(topology.queues) as QueueKey[]).map((key) => [
    key,
    resourceSetting(`LEDGER_QUEUE_${upperSnake(key)}_URL`, `URL of the ${topology.queues[key].name} queue`),
  ]),
) as Readonly<Record<QueueKey, SettingSpec<string>>>;

const tableNames = Object.fromEntries(
  (Object.keys(topology.tables) as TableKey[]).map((key) => [
    key,
    resourceSetting(`LEDGER_TABLE_${upperSnake(key)}`, `Name of the ${topology.tables[key].name} table`),
  ]),
) as Readonly<Record<TableKey, SettingSpec<string>>>;

const eventBusName = resourceSetting('LEDGER_EVENT_BUS', `Name of the ${topology.eventBus.name} event bus`);

/** The local runtime's own settings (`npm start`), and the tools that talk to it. */
const local = {
  port: setting({
    name: 'PORT',
    scope: 'local',
    description: 'Port of the local front door (npm start).',
    defaultText: '3000',
    parse: port,
  }),
  ledgerUrl: setting({
    name: 'LEDGER_URL',
    scope: 'local',
    description:
      "The LedgerX the tools talk to (npm run load, npm run load:spend); unset: the local runtime's URL from its runtime file.",
    defaultText: undefined,
    parse: url,
  }),
  apiKey: setting({
    name: 'LEDGER_API_KEY',
    scope: 'local',
    description:
      'The API key npm start accepts (a new one is generated when unset); the key npm run load and npm run dlq send.',
    defaultText: undefined,
    parse: nonEmpty,
  }),
  awsEndpoint: setting({
    name: 'AWS_ENDPOINT_URL',
    scope: 'local',
    description:
      'An AWS endpoint to use (LocalStack); unset: npm start and the tests run moto_server of their own.',
    defaultText: undefined,
    parse: url,
  }),
  databaseDirectory: setting({
    name: 'LEDGER_LOCAL_DB_DIR',
    scope: 'local',
    description: "The embedded Postgres' data directory, when DATABASE_URL is not set.",
    defaultText: '.data/postgres',
    parse: nonEmpty,
  }),
  databasePort: setting({
    name: 'LEDGER_LOCAL_DB_PORT',
    scope: 'local',
    description: "The embedded Postgres' port, when DATABASE_URL is not set.",
    defaultText: '54320',
    parse: port,
  }),
  runtimeFile: setting({
    name: 'LEDGER_LOCAL_RUNTIME_FILE',
    scope: 'local',
    description: 'Where npm start writes its URL and resources for the other tools.',
    defaultText: '.data/runtime.json',
    parse: nonEmpty,
  }),
  functionConcurrencyMax: setting({
    name: 'LEDGER_LOCAL_FUNCTION_CONCURRENCY_MAX',
    scope: 'local',
    description:
      "Invocations of one HTTP function at once in the local front door (like a Lambda's reserved concurrency); more wait their turn before their handler's timeout starts.",
    defaultText: '32',
    parse: wholeNumber(1, 10_000),
  }),
  namePrefix: setting({
    name: 'LEDGER_LOCAL_NAME_PREFIX',
    scope: 'local',
    description: "Prefix of the resources' names on the AWS endpoint, so several runtimes can share one.",
    defaultText: '',
    parse: (text) => {
      if (!/^[A-Za-z0-9_-]{0,24}$/.test(text))
        throw new RangeError('must be up to 24 letters, digits, - or _');
      return text;
    },
  }),
};

const deploy = {
  localStackDatabaseUrl: setting({
    name: 'LEDGER_LOCALSTACK_DATABASE_URL',
    scope: 'deploy',
    description: 'The LocalStack flavour of the stacks: the Postgres its functions use (or -c databaseUrl=).',
    defaultText: 'postgres://postgres:postgres@postgres:5432/ledgerx',
    parse: url,
  }),
};

/** Every setting, in the order docs/settings.md lists them. */
export const settingSpecs: readonly SettingSpec<unknown>[] = [
  ...Object.values(database),
  ...Object.values(queueUrls),
  ...Object.values(tableNames),
  eventBusName,
  ...Object.values(consumer),
  ...Object.values(velocity),
  ...Object.values(pending),
  ...Object.values(fraud),
  ...Object.values(checker),
  ...Object.values(local),
  ...Object.values(deploy),
];

// ---------------------------------------------------------------------------------------------
// Reading

/** Reads one setting: its parsed value, its default when unset, or undefined without a default. */
function read<Value>(env: NodeJS.ProcessEnv, spec: SettingSpec<Value>, fallback: Value): Value;
function read<Value>(env: NodeJS.ProcessEnv, spec: SettingSpec<Value>): Value | undefined;
function read<Value>(env: NodeJS.ProcessEnv, spec: SettingSpec<Value>, fallback?: Value): Value | undefined {
  const text = env[spec.name];
  if (text === undefined || text === '') return fallback;
  try {
    return spec.parse(text);
  } catch (error) {
    throw new SettingError(spec.name, error instanceof RangeError ? error.message : 'is not valid');
  }
}

/** A value a setting gives only when set; asking for it unset fails with the setting's name. */
export interface Required<Value> {
  /** The value, or a SettingError naming the setting when it is unset. */
  get(why: string): Value;
  readonly value: Value | undefined;
}

function required<Value>(env: NodeJS.ProcessEnv, spec: SettingSpec<Value>): Required<Value> {
  const value = read(env, spec);
  return {
    value,
    get: (why) => {
      if (value === undefined) throw new SettingError(spec.name, `is not set; ${why}`);
      return value;
    },
  };
}

/** Connection limits for one process's pool. */
export interface PoolSettings {
  readonly connectionCountMax: number;
  readonly connectTimeoutMs: number;
  readonly queryTimeoutMs: number;
  readonly idleTimeoutMs: number;
}

/** What the functions read: where things are and how the ledger behaves. */
export interface FunctionSettings {
  readonly database: {
    readonly url: string | undefined;
    readonly host: Required<string>;
    readonly port: Required<number>;
    readonly name: Required<string>;
    readonly user: Required<string>;
    readonly secretArn: Required<string>;
    /** Where the migration function finds the functions' login: its secret, or a URL. */
    readonly appSecretArn: string | undefined;
    readonly appUrl: string | undefined;
    readonly pool: PoolSettings;
  };
  readonly queueUrls: Readonly<Record<QueueKey, Required<string>>>;
  readonly tableNames: Readonly<Record<TableKey, Required<string>>>;
  readonly eventBusName: Required<string>;
  /** How the queue consumers wait before a failed message's next delivery. */
  readonly backoff: RedeliveryBackoff;
  readonly velocity: VelocityLimits;
  readonly pending: { readonly timeoutSDefault: number };
  readonly fraud: FraudSettings;
  readonly checker: InvariantCheckLimits;
}

/**
 * Settings that no longer set anything, and why. One still set is refused rather than ignored,
 * so a deployment tuned for the old meaning finds out at once.
 */
const retiredSettings: Readonly<Record<string, string>> = {
  LEDGER_FRAUD_FAN_OUT_COUNTERPARTIES:
    'counted every counterparty and is retired; LEDGER_FRAUD_FAN_OUT_NEW_COUNTERPARTIES counts only the ones new to the account',
};

/**
 * Parses every functions' setting in `env`. Throws a SettingError naming the first setting that
 * is set to a value it cannot take, or a retired one; unset settings take their defaults, or stay
 * unset.
 */
export function readFunctionSettings(env: NodeJS.ProcessEnv = process.env): FunctionSettings {
  for (const [name, reason] of Object.entries(retiredSettings)) {
    if (env[name] !== undefined && env[name] !== '') throw new SettingError(name, reason);
  }
  const pool: PoolSettings = {
    connectionCountMax: read(env, database.connectionCountMax, 2),
    connectTimeoutMs: read(env, database.connectTimeoutMs, 5_000),
    queryTimeoutMs: read(env, database.queryTimeoutMs, 10_000),
    idleTimeoutMs: read(env, database.idleTimeoutMs, 60_000),
  };
  const fraudSettings = Object.fromEntries(
    (Object.keys(fraud) as (keyof FraudSettings)[]).map((key) => [
      key,
      read(env, fraud[key] as SettingSpec<unknown>, defaultFraudSettings[key]),
    ]),
  ) as unknown as FraudSettings;
  return {
    database: {
      url: read(env, database.url),
      host: required(env, database.host),
      port: required(env, database.port),
      name: required(env, database.name),
      user: required(env, database.user),
      secretArn: required(env, database.secretArn),
      appSecretArn: read(env, database.appSecretArn),
      appUrl: read(env, database.appUrl),
      pool,
    },
    queueUrls: Object.fromEntries(
      (Object.keys(queueUrls) as QueueKey[]).map((key) => [key, required(env, queueUrls[key])]),
    ) as Record<QueueKey, Required<string>>,
    tableNames: Object.fromEntries(
      (Object.keys(tableNames) as TableKey[]).map((key) => [key, required(env, tableNames[key])]),
    ) as Record<TableKey, Required<string>>,
    eventBusName: required(env, eventBusName),
    backoff: readBackoff(env),
    velocity: {
      windowS: read(env, velocity.windowS, velocityWindowSDefault),
      transferCountMax: read(env, velocity.transferCountMax, velocityTransferCountMaxDefault),
      amountMax: read(env, velocity.amountMax),
    },
    pending: { timeoutSDefault: read(env, pending.timeoutS, pendingTimeoutSDefault) },
    fraud: fraudSettings,
    checker: {
      ...invariantCheckDefaults,
      entryCountMax: read(env, checker.entryCountMax, invariantCheckDefaults.entryCountMax),
      timeBudgetMs: read(env, checker.timeBudgetMs, invariantCheckDefaults.timeBudgetMs),
      step: {
        entryCountMax: read(env, checker.stepEntryCountMax, invariantCheckDefaults.step.entryCountMax),
        accountCountMax: read(env, checker.accountCountMax, invariantCheckDefaults.step.accountCountMax),
        scrubEntryCountMax: read(
          env,
          checker.scrubEntryCountMax,
          invariantCheckDefaults.step.scrubEntryCountMax,
        ),
      },
    },
  };
}

function readBackoff(env: NodeJS.ProcessEnv): RedeliveryBackoff {
  const backoff = {
    baseS: read(env, consumer.backoffBaseS, defaultRedeliveryBackoff.baseS),
    capS: read(env, consumer.backoffCapS, defaultRedeliveryBackoff.capS),
  };
  if (backoff.capS < backoff.baseS) {
    throw new SettingError(
      consumer.backoffCapS.name,
      `must be at least ${consumer.backoffBaseS.name} (${backoff.baseS})`,
    );
  }
  return backoff;
}

/** What the local runtime (`npm start`) reads, besides the functions' settings. */
export interface LocalSettings {
  readonly ledgerUrl: string | undefined;
  readonly port: number;
  readonly apiKey: string | undefined;
  readonly awsEndpoint: string | undefined;
  readonly databaseUrl: string | undefined;
  readonly databaseDirectory: string;
  readonly databasePort: number;
  readonly runtimeFile: string;
  readonly namePrefix: string;
  readonly functionConcurrencyMax: number;
}

/** Parses the local runtime's settings; relative paths stay relative (to the project root). */
export function readLocalSettings(env: NodeJS.ProcessEnv = process.env): LocalSettings {
  return {
    ledgerUrl: read(env, local.ledgerUrl),
    port: read(env, local.port, 3000),
    apiKey: read(env, local.apiKey),
    awsEndpoint: read(env, local.awsEndpoint),
    databaseUrl: read(env, database.url),
    databaseDirectory: read(env, local.databaseDirectory, '.data/postgres'),
    databasePort: read(env, local.databasePort, 54_320),
    runtimeFile: read(env, local.runtimeFile, '.data/runtime.json'),
    namePrefix: read(env, local.namePrefix, ''),
    functionConcurrencyMax: read(env, local.functionConcurrencyMax, 32),
  };
}

/** The CDK app's settings from the environment (the rest come from CDK context). */
export function readDeploySettings(env: NodeJS.ProcessEnv = process.env): {
  readonly localStackDatabaseUrl: string;
} {
  return {
    localStackDatabaseUrl: read(
      env,
      deploy.localStackDatabaseUrl,
      'postgres://postgres:postgres@postgres:5432/ledgerx',
    ),
  };
}

/** The physical names of the stateful resources, as the functions' environment carries them. */
export interface ResourceNames {
  readonly queueUrls: Readonly<Record<QueueKey, string>>;
  readonly tableNames: Readonly<Record<TableKey, string>>;
  readonly eventBusName: string;
}

/** The environment variables that carry `resources` to a function (the stack, the local runtime). */
export function resourceEnvironment(resources: ResourceNames): Record<string, string> {
  return {
    ...Object.fromEntries(
      (Object.keys(queueUrls) as QueueKey[]).map((key) => [queueUrls[key].name, resources.queueUrls[key]]),
    ),
    ...Object.fromEntries(
      (Object.keys(tableNames) as TableKey[]).map((key) => [tableNames[key].name, resources.tableNames[key]]),
    ),
    [eventBusName.name]: resources.eventBusName,
  };
}

/** The environment variables that tell a function where RDS Proxy is (the stack sets them). */
export function proxyEnvironment(proxy: {
  readonly host: string;
  readonly port: number;
  readonly name: string;
  readonly user: string;
  readonly secretArn: string;
}): Record<string, string> {
  return {
    [database.host.name]: proxy.host,
    [database.port.name]: String(proxy.port),
    [database.name.name]: proxy.name,
    [database.user.name]: proxy.user,
    [database.secretArn.name]: proxy.secretArn,
  };
}

/** The names of the settings other modules set for a function (never spelled twice). */
export const settingNames = {
  databaseUrl: database.url.name,
  appSecretArn: database.appSecretArn.name,
  appUrl: database.appUrl.name,
  queryTimeoutMs: database.queryTimeoutMs.name,
} as const;
