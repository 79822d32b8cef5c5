/**
 * The wiring root: the one module that knows which adapter implements which port. It turns the
 * settings into clients, a pool and services, each made once and only when a function first asks
 * for it (a function without database access never opens a pool), and it is the only module of
 * `shared/` that imports adapters and services together. The local runtime builds one wiring for
 * every function it runs; on Lambda, `lambdaHandler` builds one per instance.
 */
import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import type pg from 'pg';
import { PowertoolsBatchIdempotencyGuard } from './adapters/aws/batch-idempotency-guard';
import {
  type SecretReader,
  secretLogin,
  secretPassword,
  secretsManagerReader,
} from './adapters/aws/database-secret';
import { EventBridgePublisher } from './adapters/aws/eventbridge-publisher';
import { PowertoolsIdempotencyGuard } from './adapters/aws/idempotency-guard';
import { EmbeddedInvariantMetrics } from './adapters/aws/invariant-metrics';
import { SqsMessageRedelivery } from './adapters/aws/message-redelivery';
import { SqsQueueDepths } from './adapters/aws/queue-depths';
import { DynamoQueuedTransfers } from './adapters/aws/queued-transfers';
import { SubmissionRecords } from './adapters/aws/submission-records';
import { SqsTransferBatchQueue } from './adapters/aws/transfer-batch-queue';
import { SqsTransferQueue } from './adapters/aws/transfer-queue';
import { DynamoVelocityStore } from './adapters/aws/velocity-store';
import { PostgresAccountStore } from './adapters/postgres/accounts-store';
import { PostgresAdminReader } from './adapters/postgres/admin-reader';
import { PostgresEventReceiptStore } from './adapters/postgres/event-receipt-store';
import { PostgresFraudStore } from './adapters/postgres/fraud-store';
import type { DatabaseLogin } from './adapters/postgres/function-login';
import { PostgresInvariantCheckStore } from './adapters/postgres/invariant-store';
import { PostgresLedgerChainStore } from './adapters/postgres/ledger-chain-store';
import { PostgresLedgerStore } from './adapters/postgres/ledger-store';
import { DatabaseMigrator } from './adapters/postgres/migrator';
import { PostgresOutboxStore } from './adapters/postgres/outbox-store';
import { createPool, type DatabaseTarget } from './adapters/postgres/pool';
import { PostgresTransferReader } from './adapters/postgres/transfers-reader';
import { readApiDocument } from './api/openapi';
import { entryPaging, flagPaging } from './api/schemas';
import type { FunctionDefinition, LambdaHandlerOf } from './definitions';
import type { Logger } from './ports/logger';
import type { DatabaseMigrations } from './ports/migrations';
import type { MessageRedelivery } from './ports/redelivery';
import { AccountService } from './services/accounts';
import { AdminService } from './services/admin';
import {
  batchSubmissionAnswerMarginMs,
  batchSubmissionTimeoutMs,
  TransferBatchSubmission,
} from './services/batch-submission';
import { DeadLetterService } from './services/dead-letters';
import { EventReceiptService } from './services/event-receipts';
import { FraudFlagService, FraudPatternService, FraudScoringService } from './services/fraud';
import { InvariantChecker } from './services/invariant-checker';
import { LedgerChainService } from './services/ledger-chain';
import { OutboxRelay } from './services/outbox-relay';
import { PendingExpiryService } from './services/pending-expiry';
import { PostingService } from './services/posting-service';
import { TransferStatusService } from './services/transfer-status';
import {
  submissionAnswerMarginMs,
  submissionTimeoutMs,
  TransferSubmission,
} from './services/transfer-submission';
import { VelocityService } from './services/velocity';
import { type FunctionSettings, readFunctionSettings, SettingError, settingNames } from './settings';
import { type QueueKey, topology } from './topology';

/** How many times the SDK tries one call, the first try included. */
export const awsAttemptCountMax = 3;

/**
 * Holds one expiry transaction releases, and transactions per sweep: 2,000 holds per run of the
 * sweeper, each transaction holding its accounts' locks for a page's worth of work only.
 */
export const expiryPageSizeMax = 100;
export const expiryPageCountMax = 20;

/** The SDK clients of the services LedgerX uses. */
export interface AwsClients {
  readonly sqs: SQSClient;
  readonly dynamo: DynamoDBClient;
  readonly eventBridge: EventBridgeClient;
}

/** SDK client settings: the endpoint (LocalStack, moto) when there is one, bounded retries. */
export interface AwsClientSettings {
  readonly endpoint?: string;
  readonly region: string;
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

export function awsClients(settings: AwsClientSettings): AwsClients {
  const config = {
    region: settings.region,
    maxAttempts: awsAttemptCountMax,
    ...(settings.endpoint === undefined ? {} : { endpoint: settings.endpoint }),
    ...(settings.credentials === undefined ? {} : { credentials: settings.credentials }),
  };
  return {
    sqs: new SQSClient(config),
    dynamo: new DynamoDBClient(config),
    eventBridge: new EventBridgeClient(config),
  };
}

/** The services the functions call, each made once per wiring. */
export interface Services {
  readonly accounts: AccountService;
  readonly transferSubmission: TransferSubmission;
  readonly transferBatchSubmission: TransferBatchSubmission;
  readonly transferStatus: TransferStatusService;
  readonly posting: PostingService;
  readonly pendingExpiry: PendingExpiryService;
  readonly outboxRelay: OutboxRelay;
  readonly eventReceipts: EventReceiptService;
  readonly fraudScoring: FraudScoringService;
  readonly fraudPatterns: FraudPatternService;
  readonly fraudFlags: FraudFlagService;
  readonly admin: AdminService;
  readonly invariantChecker: InvariantChecker;
  readonly ledgerChain: LedgerChainService;
  readonly migrator: DatabaseMigrations;
  readonly deadLetters: DeadLetterService;
}

/** What a function's `build` receives. */
export interface Wiring {
  readonly settings: FunctionSettings;
  readonly logger: Logger;
  readonly services: Services;
  /**
   * Where the directories a function ships beside its bundle (`bundledAssets`) are: the task
   * root on Lambda, the project root locally.
   */
  readonly assetRoot: string;
  /** The OpenAPI document of the deployed functions; made by whoever runs them. */
  apiDocument(): unknown;
  /** Postpones the next delivery of a queue's failed messages (the SQS wrapper's backoff). */
  redelivery(queue: QueueKey): MessageRedelivery;
}

export interface WiringOptions {
  readonly settings: FunctionSettings;
  readonly logger: Logger;
  readonly assetRoot: string;
  readonly apiDocument: () => unknown;
  /** A pool to use (the local runtime's, a test's); otherwise one is made from the settings. */
  readonly pool?: pg.Pool;
  /** SDK clients to use; otherwise made for the region (and endpoint) given. */
  readonly clients?: AwsClients;
  readonly aws?: AwsClientSettings;
  /**
   * The clock of the submission path (acceptance times, velocity windows), of the expiry sweep and
   * of the invariant checker (its time budget, when it found a violation); the system's if unset.
   */
  readonly now?: () => Date;
}

/** Builds the wiring. Nothing is connected or made until a function asks for it. */
export function createWiring(options: WiringOptions): Wiring {
  const { settings, logger } = options;
  const now = options.now ?? (() => new Date());
  const aws = options.aws ?? { region: process.env.AWS_REGION ?? 'us-east-1' };
  const once = <Value>(make: () => Value): (() => Value) => {
    let made: { readonly value: Value } | undefined;
    return () => {
      made ??= { value: make() };
      return made.value;
    };
  };
  const clients = once(() => options.clients ?? awsClients(aws));
  const pool = once(() => options.pool ?? createPool(databaseTarget(settings, aws), settings.database.pool));
  const table = (key: keyof typeof topology.tables): string =>
    settings.tableNames[key].get(`the ${topology.tables[key].name} table is needed`);
  const queueUrl = (key: keyof typeof topology.queues): string =>
    settings.queueUrls[key].get(`the ${topology.queues[key].name} queue is needed`);
  const publisher = once(
    () =>
      new EventBridgePublisher(clients().eventBridge, {
        eventBusName: settings.eventBusName.get('the event bus is needed'),
        source: topology.eventBus.source,
      }),
  );
  const velocityStore = once(() => new DynamoVelocityStore(clients().dynamo, table('velocity')));
  const queuedTransfers = once(
    () =>
      new DynamoQueuedTransfers(
        clients().dynamo,
        table('idempotency'),
        topology.tables.idempotency.partitionKey,
      ),
  );
  // One per wiring, shared by single and batch submissions: its cache of each account's window.
  const velocity = once(
    () => new VelocityService({ store: velocityStore(), defaults: settings.velocity, logger, now }),
  );
  // One records instance per guard, never shared: Powertools keeps the key prefix and the
  // in-progress bound on the instance, and a batch's differ from a single transfer's.
  const submissionRecords = (): SubmissionRecords =>
    new SubmissionRecords({
      dynamo: clients().dynamo,
      tableName: table('idempotency'),
      keyAttribute: topology.tables.idempotency.partitionKey,
      expiryAttribute: topology.tables.idempotency.ttlAttribute,
      now,
    });
  const fraudStore = once(() => new PostgresFraudStore(pool()));
  const transferReader = once(() => new PostgresTransferReader(pool()));
  const ledgerStore = once(() => new PostgresLedgerStore(pool()));

  const services = {
    accounts: once(
      () =>
        new AccountService(new PostgresAccountStore(pool()), entryPaging, {
          // Made on first use: reading accounts needs no velocity table.
          putOverrides: (...copy) => velocityStore().putOverrides(...copy),
        }),
    ),
    transferSubmission: once(
      () =>
        new TransferSubmission({
          budgetMs: submissionTimeoutMs - submissionAnswerMarginMs,
          guard: new PowertoolsIdempotencyGuard({
            records: submissionRecords(),
            inProgressMsMax: submissionTimeoutMs,
            logger,
          }),
          velocity: velocity(),
          queue: new SqsTransferQueue(clients().sqs, queueUrl('transfers')),
          // Made on first use: only a post, void or reversal looks a transfer up, so submitting a
          // new transfer needs no database.
          ledgerTransfers: { locate: (id, signal) => transferReader().locate(id, signal) },
          queuedTransfers: { locate: (id, signal) => queuedTransfers().locate(id, signal) },
          pendingTimeoutSDefault: settings.pending.timeoutSDefault,
          logger,
          now,
        }),
    ),
    transferBatchSubmission: once(
      () =>
        new TransferBatchSubmission({
          budgetMs: batchSubmissionTimeoutMs - batchSubmissionAnswerMarginMs,
          guard: new PowertoolsBatchIdempotencyGuard({
            records: submissionRecords(),
            inProgressMsMax: batchSubmissionTimeoutMs,
            logger,
          }),
          velocity: velocity(),
          queue: new SqsTransferBatchQueue(clients().sqs, queueUrl('transfers')),
          logger,
        }),
    ),
    transferStatus: once(
      () => new TransferStatusService(transferReader(), queuedTransfers(), logger, fraudStore()),
    ),
    posting: once(() => new PostingService(ledgerStore(), logger)),
    pendingExpiry: once(
      () =>
        new PendingExpiryService(
          ledgerStore(),
          logger,
          { pageSizeMax: expiryPageSizeMax, pageCountMax: expiryPageCountMax },
          now,
        ),
    ),
    outboxRelay: once(() => new OutboxRelay(new PostgresOutboxStore(pool()), publisher(), logger)),
    eventReceipts: once(() => new EventReceiptService(new PostgresEventReceiptStore(pool()), logger)),
    fraudScoring: once(() => new FraudScoringService(fraudStore(), settings.fraud, logger)),
    fraudPatterns: once(() => new FraudPatternService(fraudStore(), settings.fraud, logger)),
    fraudFlags: once(() => new FraudFlagService(fraudStore(), flagPaging)),
    admin: once(
      () =>
        new AdminService(
          new PostgresAdminReader(pool()),
          new SqsQueueDepths(clients().sqs, {
            transfers: queueUrl('transfers'),
            transfersDeadLetter: queueUrl('transfersDeadLetter'),
          }),
          logger,
        ),
    ),
    invariantChecker: once(
      () =>
        new InvariantChecker(
          new PostgresInvariantCheckStore(pool()),
          publisher(),
          new EmbeddedInvariantMetrics(),
          logger,
          settings.checker,
          () => now().getTime(),
        ),
    ),
    ledgerChain: once(() => new LedgerChainService(new PostgresLedgerChainStore(pool()), logger)),
    migrator: once(() => new DatabaseMigrator(pool(), logger, () => functionLogin(settings, aws))),
    deadLetters: once(() => new DeadLetterService(queuedTransfers(), logger)),
  } satisfies { readonly [Name in keyof Services]: () => Services[Name] };

  return {
    settings,
    logger,
    assetRoot: options.assetRoot,
    apiDocument: options.apiDocument,
    // The client and the queue's URL are asked for on the first failure, not when a consumer is built.
    redelivery: (queue) => {
      const made = once(() => new SqsMessageRedelivery(clients().sqs, () => queueUrl(queue)));
      return {
        postpone: (messages) => made().postpone(messages),
        maxReceiveCount: () => made().maxReceiveCount(),
      };
    },
    services: Object.defineProperties(
      {},
      Object.fromEntries(
        Object.entries(services).map(([name, make]) => [name, { get: make, enumerable: true }]),
      ),
    ) as Services,
  };
}

/**
 * Where the pool connects: `DATABASE_URL` when set (local, LocalStack), otherwise RDS Proxy, with
 * the password read from its secret when a connection opens (never kept in the environment).
 */
export function databaseTarget(
  settings: FunctionSettings,
  aws: AwsClientSettings,
  readSecret?: SecretReader,
): DatabaseTarget {
  const { database } = settings;
  if (database.url !== undefined) return database.url;
  const why = 'DATABASE_URL is not set, so the function reaches the database through RDS Proxy';
  const secretArn = database.secretArn.get(why);
  const target = {
    host: database.host.get(why),
    port: database.port.get(why),
    database: database.name.get(why),
    user: database.user.get(why),
    tls: true,
  };
  // The Secrets Manager client is made only for a function that reads its password from a secret.
  const read = readSecret ?? secretsManagerReader(secretsManagerClient(aws));
  return { ...target, password: secretPassword(read, secretArn) };
}

/**
 * The login the functions connect as, which the migration function makes: from its secret
 * (LEDGER_DB_APP_SECRET_ARN, on AWS) or from a URL (LEDGER_DB_APP_URL, LocalStack).
 */
export async function functionLogin(
  settings: FunctionSettings,
  aws: AwsClientSettings,
  readSecret?: SecretReader,
): Promise<DatabaseLogin> {
  const { appSecretArn, appUrl } = settings.database;
  if (appSecretArn !== undefined) {
    return secretLogin(readSecret ?? secretsManagerReader(secretsManagerClient(aws)), appSecretArn);
  }
  if (appUrl !== undefined) {
    const url = new URL(appUrl);
    return { user: decodeURIComponent(url.username), password: decodeURIComponent(url.password) };
  }
  throw new SettingError(
    settingNames.appSecretArn,
    `is not set (nor ${settingNames.appUrl}); the migration function makes the functions' login from it`,
  );
}

function secretsManagerClient(aws: AwsClientSettings): SecretsManagerClient {
  return new SecretsManagerClient({
    region: aws.region,
    maxAttempts: awsAttemptCountMax,
    ...(aws.endpoint === undefined ? {} : { endpoint: aws.endpoint }),
    ...(aws.credentials === undefined ? {} : { credentials: aws.credentials }),
  });
}

/**
 * A Lambda entry point for a function. The settings are read at once, so a bad one stops the
 * instance at start-up with the setting's name; the wiring and the handler are built on the first
 * event and kept for the instance's life, so pools and clients are made outside the per-event path.
 */
export function lambdaHandler<Definition extends FunctionDefinition>(
  definition: Definition,
  env: NodeJS.ProcessEnv = process.env,
): LambdaHandlerOf<Definition> {
  const settings = readFunctionSettings(env);
  const taskRoot = env.LAMBDA_TASK_ROOT ?? process.cwd();
  let handler: LambdaHandlerOf<Definition> | undefined;
  const entry = (event: never, context: never): Promise<never> => {
    handler ??= definition.build(
      createWiring({
        settings,
        logger: new PowertoolsLogger({ serviceName: definition.name }),
        assetRoot: taskRoot,
        apiDocument: () => readApiDocument(taskRoot),
        aws: {
          region: env.AWS_REGION ?? 'us-east-1',
          ...(env.AWS_ENDPOINT_URL === undefined || env.AWS_ENDPOINT_URL === ''
            ? {}
            : { endpoint: env.AWS_ENDPOINT_URL }),
        },
      }),
    ) as LambdaHandlerOf<Definition>;
    return (handler as unknown as (event: never, context: never) => Promise<never>)(event, context);
  };
  return entry as unknown as LambdaHandlerOf<Definition>;
}
