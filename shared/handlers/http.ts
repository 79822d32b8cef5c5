/**
 * The one wrapper every API Gateway (REST, proxy integration) handler goes through, built on
 * middy: it bounds and parses the body, validates the body, path and query with zod, hands the
 * handler typed input, and turns every thrown error into a problem response. Handlers stay thin:
 * they call a service and shape its result.
 */
import middy, { type MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { z } from 'zod';
import { isTransient, TransientError } from '../errors';
import type { Logger } from '../ports/logger';
import {
  InternalProblem,
  MalformedJsonProblem,
  PayloadTooLargeProblem,
  ProblemError,
  problemContentType,
  ServiceUnavailableProblem,
  ValidationProblem,
} from './problem';
import { problemFromZodError } from './validation';

/**
 * The largest request body the API reads, in bytes (256 KiB, the SQS message size bound: a
 * transfer must fit one message, and nothing else the API takes needs more), unless the route
 * says otherwise (`bodyBytesMax`: the batch route takes more).
 */
export const requestBodyBytesMax = 262_144;

/** The invocation ran out of time before the handler answered; the work may or may not be done. */
export class HandlerTimeoutError extends TransientError {
  public constructor() {
    super('the handler did not answer before the invocation timed out');
    this.name = 'HandlerTimeoutError';
  }
}

/** What a handler receives: validated, typed input and the caller's identity. */
export interface HttpRequest<Body, Path, Query> {
  readonly body: Body;
  readonly path: Path;
  readonly query: Query;
  /** Request headers by lower-case name (HTTP header names are case-insensitive). */
  readonly headers: Readonly<Record<string, string>>;
  /** The API key's id API Gateway (or the local front door) put in the request context. */
  readonly apiKeyId: string | undefined;
  readonly requestId: string | undefined;
}

/** What a handler returns; the body is sent as JSON. */
export interface HttpResponse {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

/** A response made whole by the handler (a static file), passed through as it is. */
export interface RawHttpResponse {
  readonly raw: APIGatewayProxyResult;
}

/** A request header a route reads, validated before the handler runs. */
export interface HeaderSpec {
  /** As clients spell it (`Idempotency-Key`); matched case-insensitively. */
  readonly name: string;
  readonly schema: z.ZodType<string>;
}

/** What a route does with a validated request, and the errors only it knows. */
export interface HttpRoute<Body, Path, Query> {
  readonly handle: (request: HttpRequest<Body, Path, Query>) => Promise<HttpResponse | RawHttpResponse>;
  /** Turns errors only this route knows (a service's own) into problems; the rest map generically. */
  readonly mapError?: (error: unknown) => ProblemError | undefined;
}

export type ApiHandler = (event: APIGatewayProxyEvent, context?: Context) => Promise<APIGatewayProxyResult>;

export interface RouteOptions<
  BodySchema extends z.ZodType,
  PathSchema extends z.ZodType,
  QuerySchema extends z.ZodType,
> {
  /** The route's name in logs (`POST /v1/transfers`). */
  readonly name: string;
  readonly logger: Logger;
  /** Schemas of the parts the route reads; a part without a schema is not read. */
  readonly body?: BodySchema;
  /** An empty body reads as `{}` (every field of the body is optional). */
  readonly bodyOptional?: boolean;
  readonly path?: PathSchema;
  readonly query?: QuerySchema;
  /** Headers the route reads: each is required and validated, or the request is a 400 naming it. */
  readonly headers?: readonly HeaderSpec[];
  /** The largest body the route reads, in bytes; `requestBodyBytesMax` when unset. */
  readonly bodyBytesMax?: number;
  readonly handle: HttpRoute<z.output<BodySchema>, z.output<PathSchema>, z.output<QuerySchema>>['handle'];
  readonly mapError?: (error: unknown) => ProblemError | undefined;
}

/** The event as it goes through the middlewares: the parsed JSON body is kept beside the raw one. */
type ParsingEvent = APIGatewayProxyEvent & { parsedBody?: unknown };

/** Builds a Lambda handler for one route. */
export function httpHandler<
  BodySchema extends z.ZodType = z.ZodUndefined,
  PathSchema extends z.ZodType = z.ZodUndefined,
  QuerySchema extends z.ZodType = z.ZodUndefined,
>(options: RouteOptions<BodySchema, PathSchema, QuerySchema>): ApiHandler {
  const { logger } = options;
  const core = middy<ParsingEvent, APIGatewayProxyResult>({
    // Just before Lambda would kill the invocation, middy gives up on the handler; answering 503
    // (may be retried) beats Lambda's bare timeout, which API Gateway turns into a 502.
    timeoutEarlyResponse: () => {
      throw new HandlerTimeoutError();
    },
  })
    .use(problemResponses(options))
    .use(bodySizeLimit(options.bodyBytesMax ?? requestBodyBytesMax))
    .use(jsonBody(options.body !== undefined, options.bodyOptional === true))
    .handler(async (event) => {
      const headers = lowerCaseHeaders(event.headers);
      for (const header of options.headers ?? []) {
        headers[header.name.toLowerCase()] = requiredHeader(headers, header.name, header.schema);
      }
      const request = {
        body: parsePart(options.body, event.parsedBody),
        path: parsePart(options.path, event.pathParameters ?? {}),
        query: parsePart(options.query, event.queryStringParameters ?? {}),
        headers,
        apiKeyId: event.requestContext?.identity?.apiKeyId ?? undefined,
        requestId: event.requestContext?.requestId,
      };
      const response = await options.handle(request);
      if ('raw' in response) return response.raw;
      return jsonResponse(response.status, response.body, response.headers);
    });
  return async (event, context) => {
    const startedAtMs = performance.now();
    const response = await core(event, context ?? ({} as Context));
    logger.info('request', {
      route: options.name,
      status: response.statusCode,
      durationMs: Math.round(performance.now() - startedAtMs),
      requestId: event.requestContext?.requestId,
    });
    return response;
  };
}

function parsePart<Schema extends z.ZodType>(schema: Schema | undefined, value: unknown): z.output<Schema> {
  if (schema === undefined) return undefined as z.output<Schema>;
  const result = schema.safeParse(value, { reportInput: true });
  if (!result.success) throw problemFromZodError(result.error);
  return result.data;
}

/** Header names as lower case; API Gateway passes them as the client spelled them. */
export function lowerCaseHeaders(
  headers: APIGatewayProxyEvent['headers'] | null | undefined,
): Record<string, string> {
  const lowered: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value !== undefined) lowered[name.toLowerCase()] = value;
  }
  return lowered;
}

/** A JSON response; bigint never reaches here (amounts are formatted as strings first). */
export function jsonResponse(
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
  contentType = 'application/json',
): APIGatewayProxyResult {
  return {
    statusCode: status,
    headers: { 'content-type': contentType, ...headers },
    body: JSON.stringify(body),
  };
}

/** The body's size in bytes as the client sent it (API Gateway base64-encodes binary bodies). */
function bodyBytes(event: APIGatewayProxyEvent): number {
  if (event.body === null || event.body === undefined) return 0;
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64').byteLength : Buffer.byteLength(event.body);
}

/** Refuses bodies over `bytesMax` before anything parses them. */
function bodySizeLimit(bytesMax: number): MiddlewareObj<ParsingEvent, APIGatewayProxyResult> {
  return {
    name: 'bodySizeLimit',
    before: (request) => {
      const bytes = bodyBytes(request.event);
      if (bytes > bytesMax) throw new PayloadTooLargeProblem(bytes, bytesMax);
    },
  };
}

/**
 * Parses the JSON body of routes that take one; anything that is not JSON is "Malformed JSON". A
 * route whose body is optional reads an empty body as `{}`.
 */
function jsonBody(
  routeTakesBody: boolean,
  bodyOptional: boolean,
): MiddlewareObj<ParsingEvent, APIGatewayProxyResult> {
  return {
    name: 'jsonBody',
    before: (request) => {
      if (!routeTakesBody) return;
      const { event } = request;
      const raw = event.isBase64Encoded
        ? utf8Text(Buffer.from(event.body ?? '', 'base64'))
        : (event.body ?? '');
      if (raw.trim() === '') {
        if (bodyOptional) {
          event.parsedBody = {};
          return;
        }
        throw new MalformedJsonProblem('the request body is empty; a JSON object is expected');
      }
      try {
        event.parsedBody = JSON.parse(raw);
      } catch (error) {
        throw new MalformedJsonProblem('the request body is not valid JSON', { cause: error });
      }
    },
  };
}

/**
 * The text of a body that came as bytes. Bytes that are not UTF-8 are refused rather than read
 * with U+FFFD in place of each bad one, which would accept (and store) text the client never sent.
 * A byte-order mark is kept, so JSON.parse refuses it as it does in a body that came as text.
 */
function utf8Text(bytes: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch (error) {
    throw new MalformedJsonProblem('the request body is not valid UTF-8', { cause: error });
  }
}

/**
 * Answers every error with a problem response. Problems the client caused are logged at info;
 * failures that may pass (a dependency down) become 503 and anything else 500, logged with the
 * error and its stack, which stay in the logs.
 */
function problemResponses<B extends z.ZodType, P extends z.ZodType, Q extends z.ZodType>(
  options: RouteOptions<B, P, Q>,
): MiddlewareObj<ParsingEvent, APIGatewayProxyResult> {
  return {
    name: 'problemResponses',
    onError: (request) => {
      const problem = toProblemError(request.error, options.mapError);
      const context = { route: options.name, requestId: request.event.requestContext?.requestId };
      if (problem.status >= 500) {
        options.logger.error('request failed', { ...context, status: problem.status, error: request.error });
      } else {
        options.logger.info('request refused', {
          ...context,
          status: problem.status,
          problem: problem.slug,
          field: problem.field,
        });
      }
      request.response = jsonResponse(
        problem.status,
        problem.toProblem(),
        problem.headers,
        problemContentType,
      );
    },
  };
}

/** The problem an error is answered with. */
export function toProblemError(
  error: unknown,
  mapError?: (error: unknown) => ProblemError | undefined,
): ProblemError {
  if (error instanceof ProblemError) return error;
  const mapped = mapError?.(error);
  if (mapped !== undefined) return mapped;
  if (error instanceof z.ZodError) return problemFromZodError(error);
  if (isTransient(error)) {
    return new ServiceUnavailableProblem('a dependency is unavailable; retry the request later', {
      cause: error,
    });
  }
  return new InternalProblem({ cause: error });
}

/**
 * Reads and validates one request header; a missing or bad value is a 400 naming the header as
 * the client spells it (`Idempotency-Key`).
 */
export function requiredHeader<Schema extends z.ZodType>(
  headers: Readonly<Record<string, string>>,
  name: string,
  schema: Schema,
): z.output<Schema> {
  const value = headers[name.toLowerCase()];
  if (value === undefined) throw new ValidationProblem(`the ${name} header is required`, name);
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new ValidationProblem(`${name}: ${result.error.issues[0]?.message ?? 'is invalid'}`, name);
  }
  return result.data;
}
