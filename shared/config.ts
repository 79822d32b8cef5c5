/**
 * What a function needs from the world, made once per Lambda instance (or once per local runtime)
 * and handed to each function's `createHandler`. On AWS it comes from the environment the stack
 * sets; the local runtime builds it from the resources it provisioned.
 */

import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import type pg from 'pg';
import { topology } from '../infra/topology';
import { type SecretReader, secretPassword, secretsManagerReader } from './adapters/aws/database-secret';
import { EventBridgePublisher } from './adapters/aws/eventbridge-publisher';
import { createPool, type DatabaseTarget, poolLimitsFromEnv } from './adapters/postgres/pool';
import { type VelocityLimits, velocityLimitsFromEnv } from './domain/velocity';
import type { Logger } from './ports/logger';

/** The physical names and addresses of the AWS resources the functions use. */
export interface Resources {
  readonly transfersQueueUrl: string;
  readonly transfersDeadLetterQueueUrl: string;
  readonly transferEventsQueueUrl: string;
  readonly transferEventsDeadLetterQueueUrl: string;
  /** Powertools' idempotency records, and the records of queued transfers GET reads. */
  readonly idempotencyTable: string;
  readonly eventBusName: string;
  readonly velocityTable: string;
}

/** Everything a handler may use. A function takes only what it needs from it. */
export interface Dependencies {
  readonly pool: pg.Pool;
  readonly sqs: SQSClient;
  readonly dynamo: DynamoDBClient;
  readonly eventBridge: EventBridgeClient;
  readonly resources: Resources;
  readonly logger: Logger;
  /**
   * The deployment's default velocity limits (LEDGER_VELOCITY_*); read from the environment by
   * the functions that need them when not given.
   */
  readonly velocity?: VelocityLimits;
  /** The clock of the submission path (acceptance times, velocity windows); the system's if unset. */
  readonly now?: () => Date;
}

/** SDK client settings: the endpoint (LocalStack, moto) when there is one, bounded retries. */
export interface AwsClientSettings {
  readonly endpoint?: string;
  readonly region: string;
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

/** How many times the SDK tries one call, the first try included. */
export const awsAttemptCountMax = 3;

export function awsClients(
  settings: AwsClientSettings,
): Pick<Dependencies, 'sqs' | 'dynamo' | 'eventBridge'> {
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

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (value === undefined || value === '') throw new Error(`${name} is not set`);
  return value;
}

/** Reads the resources from the environment the stack (or the local runtime) sets. */
export function resourcesFromEnv(env: NodeJS.ProcessEnv = process.env): Resources {
  return {
    transfersQueueUrl: required(env, 'LEDGER_TRANSFERS_QUEUE_URL'),
    transfersDeadLetterQueueUrl: required(env, 'LEDGER_TRANSFERS_DLQ_URL'),
    transferEventsQueueUrl: required(env, 'LEDGER_TRANSFER_EVENTS_QUEUE_URL'),
    transferEventsDeadLetterQueueUrl: required(env, 'LEDGER_TRANSFER_EVENTS_DLQ_URL'),
    idempotencyTable: required(env, 'LEDGER_IDEMPOTENCY_TABLE'),
    eventBusName: required(env, 'LEDGER_EVENT_BUS_NAME'),
    velocityTable: required(env, 'LEDGER_VELOCITY_TABLE'),
  };
}

/** The environment variables that carry `resources`, for a process that runs the handlers. */
export function resourcesToEnv(resources: Resources): Record<string, string> {
  return {
    LEDGER_TRANSFERS_QUEUE_URL: resources.transfersQueueUrl,
    LEDGER_TRANSFERS_DLQ_URL: resources.transfersDeadLetterQueueUrl,
    LEDGER_TRANSFER_EVENTS_QUEUE_URL: resources.transferEventsQueueUrl,
    LEDGER_TRANSFER_EVENTS_DLQ_URL: resources.transferEventsDeadLetterQueueUrl,
    LEDGER_IDEMPOTENCY_TABLE: resources.idempotencyTable,
    LEDGER_EVENT_BUS_NAME: resources.eventBusName,
    LEDGER_VELOCITY_TABLE: resources.velocityTable,
  };
}

/**
 * Where the database is: `DATABASE_URL` when set (local, LocalStack), otherwise RDS Proxy named
 * by `LEDGER_DATABASE_HOST`, `_PORT`, `_NAME`, `_USER`, with the password read from the secret
 * `LEDGER_DATABASE_SECRET_ARN` when a connection opens (the stack deploys it so).
 */
export function databaseTargetFromEnv(
  env: NodeJS.ProcessEnv,
  readSecret: () => SecretReader,
): DatabaseTarget {
  const url = env.DATABASE_URL;
  if (url !== undefined && url !== '') return url;
  const secretArn = env.LEDGER_DATABASE_SECRET_ARN;
  if (secretArn === undefined || secretArn === '') {
    throw new Error('DATABASE_URL is not set, nor LEDGER_DATABASE_SECRET_ARN');
  }
  const port = required(env, 'LEDGER_DATABASE_PORT');
  if (!/^[1-9]\d{0,4}$/.test(port)) throw new Error(`LEDGER_DATABASE_PORT is not a port: ${port}`);
  return {
    host: required(env, 'LEDGER_DATABASE_HOST'),
    port: Number.parseInt(port, 10),
    database: required(env, 'LEDGER_DATABASE_NAME'),
    user: required(env, 'LEDGER_DATABASE_USER'),
    password: secretPassword(readSecret(), secretArn),
    tls: true,
  };
}

/** Builds the dependencies of a Lambda instance from its environment. */
export function dependenciesFromEnv(serviceName: string, env: NodeJS.ProcessEnv = process.env): Dependencies {
  const region = env.AWS_REGION ?? 'us-east-1';
  const endpoint = env.AWS_ENDPOINT_URL === undefined ? {} : { endpoint: env.AWS_ENDPOINT_URL };
  // The Secrets Manager client is made only for a function that reads its password from a secret.
  const readSecret = (): SecretReader =>
    secretsManagerReader(new SecretsManagerClient({ region, maxAttempts: awsAttemptCountMax, ...endpoint }));
  return {
    pool: createPool(databaseTargetFromEnv(env, readSecret), poolLimitsFromEnv(env)),
    ...awsClients({ region, ...endpoint }),
    resources: resourcesFromEnv(env),
    logger: new PowertoolsLogger({ serviceName }),
    velocity: velocityLimitsFromEnv(env),
  };
}

/**
 * A Lambda entry point that builds its dependencies on the first event and keeps them for the
 * instance's life, so pools and clients are made outside the per-event path.
 */
export function lazyHandler<Event, Result>(
  serviceName: string,
  create: (dependencies: Dependencies) => (event: Event) => Promise<Result>,
): (event: Event) => Promise<Result> {
  let handle: ((event: Event) => Promise<Result>) | undefined;
  return (event) => {
    handle ??= create(dependenciesFromEnv(serviceName));
    return handle(event);
  };
}

/** The publisher of the ledger's events: the deployment's bus, with the topology's source. */
export function ledgerEventPublisher(
  dependencies: Pick<Dependencies, 'eventBridge' | 'resources'>,
): EventBridgePublisher {
  return new EventBridgePublisher(dependencies.eventBridge, {
    eventBusName: dependencies.resources.eventBusName,
    source: topology.eventBus.source,
  });
}
