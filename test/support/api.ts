/**
 * API Gateway REST proxy events as API Gateway builds them, for calling HTTP handlers directly,
 * and the wiring a test builds a function's handler from (`definition.build(wiring)`).
 */

import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import type pg from 'pg';
import { httpFunctions } from '../../functions/index';
import { openApiDocument } from '../../shared/api/openapi';
import type { FraudSettings } from '../../shared/domain/fraud';
import type { VelocityLimits } from '../../shared/domain/velocity';
import type { InvariantCheckLimits } from '../../shared/services/invariant-checker';
import { type ResourceNames, readFunctionSettings, resourceEnvironment } from '../../shared/settings';
import { type AwsClients, awsClients, createWiring, type Wiring } from '../../shared/wiring';

export const testApiKeyId = 'a1b2c3d4e5f60718';

export interface ApiRequest {
  readonly method: 'GET' | 'POST' | 'PUT';
  /** The resource template, `/v1/accounts/{id}`. */
  readonly resource: string;
  readonly pathParameters?: Record<string, string>;
  readonly query?: Record<string, string>;
  readonly headers?: Record<string, string>;
  /** A value to send as JSON, or a raw string sent as it is. */
  readonly body?: unknown;
  readonly apiKeyId?: string | null;
}

/** Builds the event API Gateway hands a proxy integration for this request. */
export function apiEvent(request: ApiRequest): APIGatewayProxyEvent {
  let path = request.resource;
  for (const [name, value] of Object.entries(request.pathParameters ?? {})) {
    path = path.replace(`{${name}}`, encodeURIComponent(value));
  }
  const body =
    request.body === undefined
      ? null
      : typeof request.body === 'string'
        ? request.body
        : JSON.stringify(request.body);
  const headers = { ...(body === null ? {} : { 'Content-Type': 'application/json' }), ...request.headers };
  const requestId = randomUUID();
  return {
    resource: request.resource,
    path,
    httpMethod: request.method,
    headers,
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, [value]])),
    queryStringParameters: request.query ?? null,
    multiValueQueryStringParameters: request.query
      ? Object.fromEntries(Object.entries(request.query).map(([name, value]) => [name, [value]]))
      : null,
    pathParameters: request.pathParameters ?? null,
    stageVariables: null,
    body,
    isBase64Encoded: false,
    requestContext: {
      accountId: '000000000000',
      apiId: 'ledgerx',
      authorizer: null,
      protocol: 'HTTP/1.1',
      httpMethod: request.method,
      path: `/v1${path}`,
      stage: 'v1',
      requestId,
      requestTimeEpoch: Date.now(),
      resourceId: 'resource',
      resourcePath: request.resource,
      identity: {
        accessKey: null,
        accountId: null,
        apiKey: null,
        apiKeyId: request.apiKeyId === undefined ? testApiKeyId : request.apiKeyId,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: '127.0.0.1',
        user: null,
        userAgent: 'vitest',
        userArn: null,
      },
    },
  };
}

/** A response with its JSON body parsed. */
export interface ParsedResponse {
  readonly status: number;
  readonly headers: Record<string, unknown>;
  readonly body: Record<string, unknown>;
  readonly raw: APIGatewayProxyResult;
}

export function parseResponse(result: APIGatewayProxyResult): ParsedResponse {
  return {
    status: result.statusCode,
    headers: result.headers ?? {},
    body: JSON.parse(result.body) as Record<string, unknown>,
    raw: result,
  };
}

export const silentLogger = new Logger({ serviceName: 'test', logLevel: 'SILENT' });

/** The repository root: where the built dashboard and the migrations are, as on a laptop. */
export const projectRoot = fileURLToPath(new URL('../..', import.meta.url));

export interface TestWiringOptions {
  /** The AWS endpoint (a closed port by default, so a route that should not touch AWS fails loudly). */
  readonly endpoint?: string;
  /** Clients to use instead (a test that counts or faults calls). */
  readonly clients?: AwsClients;
  /** The provisioned resources; without them, a function that needs one fails naming its setting. */
  readonly resources?: ResourceNames;
  readonly velocity?: VelocityLimits;
  readonly fraud?: Partial<FraudSettings>;
  /** The invariant checker's limits, instead of the defaults. */
  readonly checker?: InvariantCheckLimits;
  readonly assetRoot?: string;
  /** The submission path's and the invariant checker's clock. */
  readonly now?: () => Date;
  /** Settings the functions read from their environment (LEDGER_*), besides the resources. */
  readonly environment?: Readonly<Record<string, string>>;
}

/**
 * The wiring a test builds functions from: its own pool (none for a function that needs no
 * database: asking for one then fails, naming DATABASE_URL), the settings the functions would read
 * (the defaults, and the resources when given), and AWS clients for `endpoint`.
 */
export function testWiring(pool: pg.Pool | undefined, options: TestWiringOptions = {}): Wiring {
  const read = readFunctionSettings({
    ...(options.resources === undefined ? {} : resourceEnvironment(options.resources)),
    ...options.environment,
  });
  const aws = {
    endpoint: options.endpoint ?? 'http://127.0.0.1:9',
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  };
  return createWiring({
    settings: {
      ...read,
      ...(options.velocity === undefined ? {} : { velocity: options.velocity }),
      fraud: { ...read.fraud, ...options.fraud },
      ...(options.checker === undefined ? {} : { checker: options.checker }),
    },
    logger: silentLogger,
    assetRoot: options.assetRoot ?? projectRoot,
    apiDocument: () => openApiDocument(httpFunctions),
    ...(options.now === undefined ? {} : { now: options.now }),
    ...(pool === undefined ? {} : { pool }),
    aws,
    clients: options.clients ?? awsClients(aws),
  });
}
