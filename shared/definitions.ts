/**
 * What a function is: one typed definition per file in `functions/`, carrying its trigger (a
 * route, a queue, a schedule, a deploy), what it may touch, its limits, its request and response
 * schemas and documented problems (HTTP), and how it is built from the wiring. The list of them
 * (`functions/index.ts`) is what the CDK stacks deploy, what the local runtime runs, what the
 * OpenAPI document describes and what the logs are named after; a function's name is spelled in
 * its own definition and nowhere else.
 */
import type { CloudFormationCustomResourceEvent, ScheduledEvent } from 'aws-lambda';
import type { z } from 'zod';
import { type ApiHandler, type HeaderSpec, type HttpRoute, httpHandler } from './handlers/http';
import { type SqsBatchHandler, type SqsConsumer, sqsBatchHandler } from './handlers/sqs';
import { type QueueKey, type TableKey, topology } from './topology';
import type { Wiring } from './wiring';

export type HttpMethod = 'GET' | 'POST' | 'PUT';

/** What a function touches, so each gets only the permissions it needs. */
export type Access =
  /** Postgres as the functions' login: a member of ledgerx_app only. */
  | { readonly kind: 'database' }
  /**
   * Postgres as the tables' owner, for the migration function alone: it migrates, and makes the
   * functions' login from that login's secret (which it may read too).
   */
  | { readonly kind: 'database-admin' }
  | { readonly kind: 'queue-send'; readonly queue: QueueKey }
  | { readonly kind: 'queue-admin'; readonly queue: QueueKey }
  | { readonly kind: 'table-read-write'; readonly table: TableKey }
  | { readonly kind: 'table-read'; readonly table: TableKey }
  | { readonly kind: 'bus-put'; readonly bus: 'events' };

/** A Lambda's size and patience. */
export interface FunctionLimits {
  /** How long one invocation may run. */
  readonly timeoutS: number;
  readonly memoryMiB: number;
}

interface CommonDefinition {
  /** Lower-case words joined by `-`, the name of its file in `functions/`. */
  readonly name: string;
  readonly access: readonly Access[];
  readonly limits: FunctionLimits;
  /**
   * Directories (relative to the project root) the function reads at run time, shipped beside
   * its bundle by the stack and read from the project root by the local runtime.
   */
  readonly bundledAssets?: readonly string[];
}

/** The schemas of the parts of a request a route reads; a part without one is not read. */
export interface RequestSchemas<Body extends z.ZodType, Path extends z.ZodType, Query extends z.ZodType> {
  readonly body?: Body;
  /** Whether the body may be left out (an empty body reads as `{}`); a body is required otherwise. */
  readonly bodyOptional?: boolean;
  readonly path?: Path;
  readonly query?: Query;
  readonly headers?: readonly HeaderSpec[];
  /** The largest body the route reads, in bytes; `requestBodyBytesMax` (256 KiB) when unset. */
  readonly bodyBytesMax?: number;
}

/** The response schemas that are not JSON described by zod. */
export type OpaqueResponse = 'HtmlPage' | 'StaticFile' | 'OpenApiDocument';

/** How the route is described in the OpenAPI document. */
export interface HttpOperation {
  readonly operationId: string;
  readonly summary: string;
  readonly success: {
    readonly status: number;
    readonly description: string;
    /** A schema registered in `apiSchemas`, or one of the opaque kinds. */
    readonly schema: z.ZodType | OpaqueResponse;
    /** application/json unless said otherwise. */
    readonly contentType?: string;
  };
  /**
   * The problem statuses the route can answer, besides 500: a status alone takes the usual
   * description, or the route says what the status means for it.
   */
  readonly problems: readonly (number | { readonly status: number; readonly description: string })[];
}

export interface HttpFunction extends CommonDefinition {
  readonly kind: 'http';
  readonly method: HttpMethod;
  /** The path template, `{name}` for a parameter. */
  readonly path: string;
  /** Whether the route needs the `x-api-key` header (every `/v1` route does). */
  readonly apiKeyRequired: boolean;
  readonly request: RequestSchemas<z.ZodType, z.ZodType, z.ZodType>;
  readonly operation: HttpOperation;
  readonly build: (wiring: Wiring) => ApiHandler;
}

export interface SqsFunction extends CommonDefinition {
  readonly kind: 'sqs';
  readonly queue: QueueKey;
  /** Records per invocation (at most 10). */
  readonly batchSizeMax: number;
  /** Invocations at once for this queue. */
  readonly concurrencyMax: number;
  readonly build: (wiring: Wiring) => SqsBatchHandler;
}

/** What a scheduled function's Lambda is called with and answers. */
export type ScheduledHandler = (event?: ScheduledEvent) => Promise<unknown>;

export interface ScheduledFunction extends CommonDefinition {
  readonly kind: 'schedule';
  /** How often it runs; a whole number of minutes on AWS. */
  readonly rateS: number;
  readonly build: (wiring: Wiring) => ScheduledHandler;
}

/** What a deploy step answers CloudFormation (through the CDK provider framework). */
export interface DeployResponse {
  readonly PhysicalResourceId: string;
  readonly Data: Readonly<Record<string, string>>;
}

/**
 * Runs once on every deploy, after the stateful resources exist (a CloudFormation custom
 * resource). The local runtime does the same work itself at start, so it does not run these.
 */
export interface DeployFunction extends CommonDefinition {
  readonly kind: 'deploy';
  readonly build: (wiring: Wiring) => (event: CloudFormationCustomResourceEvent) => Promise<DeployResponse>;
}

export type FunctionDefinition = HttpFunction | SqsFunction | ScheduledFunction | DeployFunction;

/** The handler Lambda calls for a definition. */
export type LambdaHandlerOf<Definition extends FunctionDefinition> = ReturnType<Definition['build']>;

const namePattern = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

function checked<Definition extends CommonDefinition>(definition: Definition): Definition {
  if (!namePattern.test(definition.name)) {
    throw new Error(`function name ${JSON.stringify(definition.name)} is not lower-case words joined by -`);
  }
  if (!Number.isInteger(definition.limits.timeoutS) || definition.limits.timeoutS < 1) {
    throw new Error(`${definition.name}: timeoutS must be a whole number of seconds`);
  }
  return definition;
}

/** The route's name in logs: `POST /v1/transfers`. */
export function routeName(definition: Pick<HttpFunction, 'method' | 'path'>): string {
  return `${definition.method} ${definition.path}`;
}

/**
 * An HTTP function: `build` returns what the route does with a validated request; the wrapper
 * (`httpHandler`) bounds and parses the body, validates every part with the schemas given here,
 * and answers errors as problems.
 */
export function defineHttpFunction<
  Body extends z.ZodType = z.ZodUndefined,
  Path extends z.ZodType = z.ZodUndefined,
  Query extends z.ZodType = z.ZodUndefined,
>(
  definition: Omit<HttpFunction, 'kind' | 'build' | 'request' | 'apiKeyRequired'> & {
    readonly apiKeyRequired?: boolean;
    readonly request: RequestSchemas<Body, Path, Query>;
    readonly build: (wiring: Wiring) => HttpRoute<z.output<Body>, z.output<Path>, z.output<Query>>;
  },
): HttpFunction {
  const { build, request } = definition;
  return checked({
    ...definition,
    kind: 'http',
    apiKeyRequired: definition.apiKeyRequired ?? true,
    build: (wiring) =>
      httpHandler({
        name: routeName(definition),
        logger: wiring.logger,
        ...(request.body === undefined ? {} : { body: request.body }),
        ...(request.bodyOptional === true ? { bodyOptional: true } : {}),
        ...(request.path === undefined ? {} : { path: request.path }),
        ...(request.query === undefined ? {} : { query: request.query }),
        headers: request.headers ?? [],
        ...(request.bodyBytesMax === undefined ? {} : { bodyBytesMax: request.bodyBytesMax }),
        ...build(wiring),
      }),
  });
}

/**
 * An SQS-triggered function: `build` returns what it does with a batch's records; the wrapper
 * (`sqsBatchHandler`) reports the failed ones back to the queue (with FIFO semantics on a FIFO
 * queue), postpones the next delivery of those that may pass by the backoff of the settings, and
 * relays the outbox after a batch that recorded anything, when asked to.
 */
export function defineSqsFunction(
  definition: Omit<SqsFunction, 'kind' | 'build'> & {
    readonly build: (wiring: Wiring) => SqsConsumer;
  },
): SqsFunction {
  const { build } = definition;
  return checked({
    ...definition,
    kind: 'sqs',
    build: (wiring) =>
      sqsBatchHandler({
        name: definition.name,
        fifo: topology.queues[definition.queue].fifo,
        maxReceiveCount: topology.queues[definition.queue].deadLetter?.maxReceiveCount,
        backoff: wiring.settings.backoff,
        redelivery: wiring.redelivery(definition.queue),
        logger: wiring.logger,
        consumer: build(wiring),
      }),
  });
}

export function defineScheduledFunction(definition: Omit<ScheduledFunction, 'kind'>): ScheduledFunction {
  return checked({ ...definition, kind: 'schedule' });
}

export function defineDeployFunction(definition: Omit<DeployFunction, 'kind'>): DeployFunction {
  return checked({ ...definition, kind: 'deploy' });
}
