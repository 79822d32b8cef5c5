/**
 * The OpenAPI 3.1 document of the HTTP API, generated from the HTTP functions' definitions: their
 * routes, the same zod schemas their handlers validate with (`z.toJSONSchema`), and their
 * documented problems, so the document, the validators and the deployed routes cannot disagree.
 * OpenAPI 3.1 uses JSON Schema 2020-12, the dialect zod writes.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { HttpFunction, HttpOperation } from '../definitions';
import { requestBodyBytesMax } from '../handlers/http';
import { problemContentType } from '../handlers/problem';
import { apiSchemas } from './schemas';

/**
 * Where the document is shipped beside the `openapi` function's bundle (its `bundledAssets`),
 * relative to the asset root; the CDK app writes it there from the definitions at synth.
 */
export const apiDocumentAssets = '.build/openapi';
export const apiDocumentFile = 'openapi.json';

/** Reads the document shipped beside a function. */
export function readApiDocument(assetRoot: string): unknown {
  return JSON.parse(readFileSync(path.join(assetRoot, apiDocumentAssets, apiDocumentFile), 'utf8'));
}

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

/** The id a schema is registered under in `apiSchemas`, for a `$ref` to it. */
function registeredId(schema: z.ZodType, what: string): string {
  const id = apiSchemas.get(schema)?.id;
  if (id === undefined) throw new Error(`${what}: the schema is not registered in apiSchemas`);
  return id;
}

/** The parameters of a function's request: path, query, then headers. */
function parametersOf(definition: HttpFunction): ParameterSource[] {
  const objectParameters = (location: 'path' | 'query', schema: z.ZodType | undefined): ParameterSource[] => {
    if (schema === undefined) return [];
    if (!(schema instanceof z.ZodObject)) {
      throw new Error(`${definition.name}: the ${location} schema must be an object`);
    }
    return Object.entries(schema.shape).map(([name, field]) => ({
      in: location,
      name,
      schema: field as z.ZodType,
    }));
  };
  return [
    ...objectParameters('path', definition.request.path),
    ...objectParameters('query', definition.request.query),
    ...(definition.request.headers ?? []).map(
      (header): ParameterSource => ({ in: 'header', name: header.name, schema: header.schema }),
    ),
  ];
}

const problemDescriptions: Readonly<Record<number, string>> = {
  400: 'The request is invalid: malformed JSON, or a field (named in `field`) with a bad value.',
  401: 'The x-api-key header is missing or wrong.',
  404: 'No such resource.',
  409: 'A request with the same Idempotency-Key is in progress; retry later.',
  422: 'The Idempotency-Key was used before with a different body.',
  429:
    "velocity_exceeded: the transfer would pass the debit account's velocity limit; nothing was queued " +
    'and the Idempotency-Key is free. Retry-After (seconds) says when the window admits it; without ' +
    'it, the amount alone is over the limit.',
  500: 'An unexpected failure; it has been logged.',
  503:
    'service-unavailable: a dependency is unavailable and nothing was done; the request may be retried ' +
    '(with the same Idempotency-Key). For a transfer, submission-outcome-unknown: it may have been queued; ' +
    'a retry with the same Idempotency-Key and body gives the definite answer (after its Retry-After seconds).',
};

function problemResponse(problem: HttpOperation['problems'][number], definition: HttpFunction): JsonObject {
  const status = typeof problem === 'number' ? problem : problem.status;
  const bodyBytesMax = definition.request.bodyBytesMax ?? requestBodyBytesMax;
  return {
    description:
      typeof problem !== 'number'
        ? problem.description
        : status === 413
          ? `The body is larger than ${bodyBytesMax} bytes.`
          : (problemDescriptions[status] ?? 'A problem.'),
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

function operation(definition: HttpFunction): JsonObject {
  const spec: HttpOperation = definition.operation;
  const successSchema =
    typeof spec.success.schema === 'string'
      ? spec.success.schema
      : registeredId(spec.success.schema, `${definition.name} success`);
  const responses: JsonObject = {
    [String(spec.success.status)]: {
      description: spec.success.description,
      content: {
        [spec.success.contentType ?? 'application/json']: { schema: componentRef(successSchema) },
      },
    },
  };
  for (const problem of [...spec.problems, 500]) {
    responses[String(typeof problem === 'number' ? problem : problem.status)] = problemResponse(
      problem,
      definition,
    );
  }
  const parameters = parametersOf(definition);
  const body = definition.request.body;
  return {
    operationId: spec.operationId,
    summary: spec.summary,
    security: definition.apiKeyRequired ? [{ apiKey: [] }] : [],
    ...(parameters.length === 0 ? {} : { parameters: parameters.map(parameter) }),
    ...(body === undefined
      ? {}
      : {
          requestBody: {
            required: definition.request.bodyOptional !== true,
            content: {
              'application/json': { schema: componentRef(registeredId(body, `${definition.name} body`)) },
            },
          },
        }),
    responses,
  };
}

/** Builds the document of the HTTP functions given (the deployed list). */
export function openApiDocument(functions: readonly HttpFunction[]): JsonObject {
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
  for (const definition of functions) {
    paths[definition.path] = {
      ...paths[definition.path],
      [definition.method.toLowerCase()]: operation(definition),
    };
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
