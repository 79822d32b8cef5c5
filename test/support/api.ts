/**
 * API Gateway REST proxy events as API Gateway builds them, for calling HTTP handlers directly,
 * and the Dependencies a test hands to `createHandler`.
 */
import { randomUUID } from 'node:crypto';
import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import type pg from 'pg';
import { awsClients, type Dependencies, type Resources } from '../../shared/config';

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

/** Resources for handlers that touch no AWS resource (the accounts routes). */
const noResources: Resources = {
  transfersQueueUrl: 'unused',
  transfersDeadLetterQueueUrl: 'unused',
  transferEventsQueueUrl: 'unused',
  transferEventsDeadLetterQueueUrl: 'unused',
  idempotencyTable: 'unused',
  eventBusName: 'unused',
  velocityTable: 'unused',
};

/**
 * Dependencies for a test: its own pool, and AWS clients for `endpoint` (a closed port by
 * default, so a route that should not touch AWS fails loudly if it does).
 */
export function testDependencies(
  pool: pg.Pool,
  options: { readonly endpoint?: string; readonly resources?: Resources } = {},
): Dependencies {
  return {
    pool,
    ...awsClients({
      endpoint: options.endpoint ?? 'http://127.0.0.1:9',
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    }),
    resources: options.resources ?? noResources,
    logger: silentLogger,
  };
}
