/**
 * The OpenAPI 3.1 document of the HTTP API, generated from the same zod schemas the handlers
 * validate with (`z.toJSONSchema`) and from the routes in the topology, so the document, the
 * validators and the deployed routes cannot disagree. OpenAPI 3.1 uses JSON Schema 2020-12, the
 * dialect zod writes.
 */
import { z } from 'zod';
import { topology } from '../../infra/topology';
import { requestBodyBytesMax } from '../http/handler';
import { problemContentType } from '../http/problem';
import {
  accountPathSchema,
  activityQuerySchema,
  adminTransfersQuerySchema,
  apiSchemas,
  dashboardAssetPathSchema,
  entriesQuerySchema,
  flagsQuerySchema,
  idempotencyKeySchema,
  transferPathSchema,
} from './schemas';

type JsonObject = { [key: string]: unknown };

const jsonSchemaOptions = {
  io: 'input',
  target: 'draft-2020-12',
  // Transforms (a string read into a bigint, an id into a branded id) are described by their input.
  unrepresentable: 'any',
} as const;

/** A schema as OpenAPI embeds it: without the `$schema` and `$id` a standalone document carries. */
function embeddable(schema: JsonObject): JsonObject {
  const { $schema: _dialect, $id: _id, ...rest } = schema;
  return rest;
}

function componentRef(id: string): JsonObject {
  return { $ref: `#/components/schemas/${id}` };
}

interface ParameterSource {
  readonly in: 'path' | 'query' | 'header';
  readonly name: string;
  readonly schema: z.ZodType;
  readonly description?: string;
}

/** The parameters of an object schema (path or query), required when the validator requires them. */
function parametersOf(location: 'path' | 'query', schema: z.ZodObject): ParameterSource[] {
  return Object.entries(schema.shape).map(([name, field]) => ({
    in: location,
    name,
    schema: field as z.ZodType,
  }));
}

function parameter(source: ParameterSource): JsonObject {
  const schema = embeddable(z.toJSONSchema(source.schema, jsonSchemaOptions) as JsonObject);
  const { description, ...rest } = schema;
  return {
    name: source.name,
    in: source.in,
    // A parameter is required exactly when the validator refuses its absence.
    required: source.in === 'path' || !source.schema.safeParse(undefined).success,
    ...(typeof description === 'string' ? { description } : {}),
    schema: rest,
  };
}

/** How each HTTP function's route is described. Every HTTP function of the topology needs one. */
interface OperationSpec {
  readonly operationId: string;
  readonly summary: string;
  readonly requestBody?: string;
  readonly parameters: readonly ParameterSource[];
  readonly success: {
    readonly status: number;
    readonly schema: string;
    readonly description: string;
    /** application/json unless said otherwise (the System Internals page's files). */
    readonly contentType?: string;
  };
  /** The problem statuses the route can answer, besides 500. */
  readonly problems: readonly number[];
}

const idempotencyKeyHeader: ParameterSource = {
  in: 'header',
  name: 'Idempotency-Key',
  schema: idempotencyKeySchema,
};

const operations: Readonly<Record<string, OperationSpec>> = {
  'create-account': {
    operationId: 'createAccount',
    summary: 'Open an account',
    requestBody: 'CreateAccountRequest',
    parameters: [],
    success: { status: 201, schema: 'Account', description: 'The account, opened with zero totals.' },
    problems: [400, 401, 413, 503],
  },
  'get-account': {
    operationId: 'getAccount',
    summary: 'Read an account and its totals',
    parameters: parametersOf('path', accountPathSchema),
    success: { status: 200, schema: 'Account', description: 'The account.' },
    problems: [400, 401, 404, 503],
  },
  'list-account-entries': {
    operationId: 'listAccountEntries',
    summary: "List an account's entries, newest first",
    parameters: [...parametersOf('path', accountPathSchema), ...parametersOf('query', entriesQuerySchema)],
    success: {
      status: 200,
      schema: 'EntryPage',
      description: 'A page of entries and the cursor to the next.',
    },
    problems: [400, 401, 404, 503],
  },
  'submit-transfer': {
    operationId: 'submitTransfer',
    summary: 'Submit a transfer (idempotent per Idempotency-Key)',
    requestBody: 'SubmitTransferRequest',
    parameters: [idempotencyKeyHeader],
    success: {
      status: 202,
      schema: 'TransferAccepted',
      description:
        'The transfer is queued for posting. A repeat of the same request under the same key answers the same.',
    },
    problems: [400, 401, 409, 413, 422, 429, 503],
  },
  'get-transfer': {
    operationId: 'getTransfer',
    summary: 'Read a transfer: queued, posted or rejected, with its timeline and fraud verdict',
    parameters: parametersOf('path', transferPathSchema),
    success: { status: 200, schema: 'Transfer', description: 'The transfer and the steps it went through.' },
    problems: [400, 401, 404, 503],
  },
  'set-account-velocity': {
    operationId: 'setAccountVelocity',
    summary: "Replace an account's own velocity limits (left out or null: the default)",
    requestBody: 'VelocityLimits',
    parameters: parametersOf('path', accountPathSchema),
    success: { status: 200, schema: 'Account', description: 'The account with its new limits.' },
    problems: [400, 401, 404, 413, 503],
  },
  'list-fraud-flags': {
    operationId: 'listFraudFlags',
    summary: 'List flagged transfers, newest flag first',
    parameters: parametersOf('query', flagsQuerySchema),
    success: {
      status: 200,
      schema: 'FraudFlagPage',
      description: 'A page of flagged transfers and the cursor to the next.',
    },
    problems: [400, 401, 503],
  },
  'admin-page': {
    operationId: 'getSystemInternalsPage',
    summary: 'The System Internals page (HTML; its data needs the API key)',
    parameters: [],
    success: { status: 200, schema: 'HtmlPage', description: 'The page.', contentType: 'text/html' },
    problems: [503],
  },
  'admin-assets': {
    operationId: 'getSystemInternalsAsset',
    summary: 'A script or style sheet of the System Internals page',
    parameters: parametersOf('path', dashboardAssetPathSchema),
    success: { status: 200, schema: 'StaticFile', description: 'The file.', contentType: '*/*' },
    problems: [400, 404],
  },
  'admin-activity': {
    operationId: 'listAdminActivity',
    summary: 'Admin: transfers recorded since a cursor (the live feed), each change once',
    parameters: parametersOf('query', activityQuerySchema),
    success: {
      status: 200,
      schema: 'ActivityPage',
      description: 'The changes and the cursor to read on from.',
    },
    problems: [400, 401, 503],
  },
  'admin-gauges': {
    operationId: 'getAdminGauges',
    summary: 'Admin: queue depths, transfers per second, consumer batches, fraud flags',
    parameters: [],
    success: { status: 200, schema: 'Gauges', description: 'The gauges; a source without data yet is null.' },
    problems: [401, 503],
  },
  'admin-invariants': {
    operationId: 'checkAdminInvariants',
    summary: "Admin: run the ledger's invariant check (500 invariants-violated with the violations)",
    parameters: [],
    success: { status: 200, schema: 'InvariantsHold', description: 'Every invariant holds.' },
    problems: [401, 503],
  },
  'admin-transfers': {
    operationId: 'listAdminTransfers',
    summary: 'Admin: recorded transfers, newest first, optionally by status',
    parameters: parametersOf('query', adminTransfersQuerySchema),
    success: {
      status: 200,
      schema: 'AdminTransferPage',
      description: 'A page of transfers and the cursor to the next.',
    },
    problems: [400, 401, 503],
  },
  openapi: {
    operationId: 'getOpenApiDocument',
    summary: 'This document',
    parameters: [],
    success: { status: 200, schema: 'OpenApiDocument', description: 'The OpenAPI 3.1 document.' },
    problems: [],
  },
};

const problemDescriptions: Readonly<Record<number, string>> = {
  400: 'The request is invalid: malformed JSON, or a field (named in `field`) with a bad value.',
  401: 'The x-api-key header is missing or wrong.',
  404: 'No such resource.',
  409: 'A request with the same Idempotency-Key is in progress; retry later.',
  413: `The body is larger than ${requestBodyBytesMax} bytes.`,
  422: 'The Idempotency-Key was used before with a different body.',
  429:
    "velocity_exceeded: the transfer would pass the debit account's velocity limit; nothing was queued " +
    'and the Idempotency-Key is free. Retry-After (seconds) says when the window admits it; without ' +
    'it, the amount alone is over the limit.',
  500: 'An unexpected failure; it has been logged.',
  503: 'A dependency is unavailable; the request may be retried (with the same Idempotency-Key).',
};

function problemResponse(status: number): JsonObject {
  return {
    description: problemDescriptions[status] ?? 'A problem.',
    ...(status === 429
      ? {
          headers: {
            'Retry-After': {
              description: 'Whole seconds until the velocity window admits the transfer.',
              schema: { type: 'integer', minimum: 1 },
            },
          },
        }
      : {}),
    content: { [problemContentType]: { schema: componentRef('Problem') } },
  };
}

function operation(spec: OperationSpec, apiKeyRequired: boolean): JsonObject {
  const responses: JsonObject = {
    [String(spec.success.status)]: {
      description: spec.success.description,
      content: {
        [spec.success.contentType ?? 'application/json']: { schema: componentRef(spec.success.schema) },
      },
    },
  };
  for (const status of [...spec.problems, 500]) responses[String(status)] = problemResponse(status);
  return {
    operationId: spec.operationId,
    summary: spec.summary,
    security: apiKeyRequired ? [{ apiKey: [] }] : [],
    ...(spec.parameters.length === 0 ? {} : { parameters: spec.parameters.map(parameter) }),
    ...(spec.requestBody === undefined
      ? {}
      : {
          requestBody: {
            required: true,
            content: { 'application/json': { schema: componentRef(spec.requestBody) } },
          },
        }),
    responses,
  };
}

/** Builds the document. Throws when an HTTP function of the topology has no description here. */
export function openApiDocument(): JsonObject {
  const registered = z.toJSONSchema(apiSchemas, {
    ...jsonSchemaOptions,
    uri: (id) => `#/components/schemas/${id}`,
  }) as { schemas: Record<string, JsonObject> };
  const schemas: JsonObject = {};
  for (const [id, schema] of Object.entries(registered.schemas)) schemas[id] = embeddable(schema);
  schemas.OpenApiDocument = { type: 'object', description: 'An OpenAPI 3.1 document.' };
  schemas.HtmlPage = { type: 'string', description: 'An HTML page.' };
  schemas.StaticFile = { type: 'string', description: 'A file: a script, a style sheet or an image.' };

  const paths: Record<string, JsonObject> = {};
  for (const spec of Object.values(topology.functions)) {
    if (spec.trigger.kind !== 'http') continue;
    const described = operations[spec.entry];
    if (described === undefined)
      throw new Error(`the HTTP function ${spec.entry} is not in the OpenAPI document`);
    const { method, path, apiKeyRequired } = spec.trigger.route;
    paths[path] = { ...paths[path], [method.toLowerCase()]: operation(described, apiKeyRequired) };
  }

  return {
    openapi: '3.1.0',
    info: {
      title: 'LedgerX',
      version: '1.0.0',
      description:
        'A double-entry ledger. Amounts are decimal strings of integer minor units. Errors are ' +
        'application/problem+json (RFC 9457) with the offending field in `field`.',
    },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    security: [{ apiKey: [] }],
    paths,
    components: {
      schemas,
      securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' } },
    },
  };
}
