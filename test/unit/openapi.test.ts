import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { httpFunctions } from '../../functions/index';
import openapi from '../../functions/openapi';
import { openApiDocument } from '../../shared/api/openapi';
import {
  createAccountBodySchema,
  entriesQuerySchema,
  idempotencyKeySchema,
  submitTransferBodySchema,
} from '../../shared/api/schemas';
import { readFunctionSettings } from '../../shared/settings';
import type { Services } from '../../shared/wiring';
import { apiEvent, silentLogger } from '../support/api';

/** The document needs no service: any use of one fails the test. */
const unreachableServices = new Proxy({} as Services, {
  get: (_, name) => {
    throw new Error(`test: the openapi function used the ${String(name)} service`);
  },
});

type Json = { [key: string]: unknown };

const document = openApiDocument(httpFunctions) as Json & {
  paths: Record<string, Record<string, Json>>;
  components: { schemas: Record<string, Json>; securitySchemes: Record<string, Json> };
};

function operationOf(
  path: string,
  method: string,
): Json & { parameters?: Json[]; responses: Record<string, Json> } {
  const operation = document.paths[path]?.[method];
  if (operation === undefined) throw new Error(`test: ${method} ${path} is not documented`);
  return operation as Json & { parameters?: Json[]; responses: Record<string, Json> };
}

/** Every `$ref` anywhere in a JSON value. */
function refsIn(value: unknown, found: string[] = []): string[] {
  if (Array.isArray(value)) for (const item of value) refsIn(item, found);
  else if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      if (key === '$ref' && typeof item === 'string') found.push(item);
      else refsIn(item, found);
    }
  }
  return found;
}

const httpRoutes = httpFunctions;

describe('the OpenAPI document', () => {
  it('is OpenAPI 3.1 with JSON Schema 2020-12 and plain JSON', () => {
    expect(document.openapi).toMatch(/^3\.1\.\d+$/);
    expect(document.jsonSchemaDialect).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(document.info).toMatchObject({ title: expect.any(String), version: expect.any(String) });
    expect(JSON.parse(JSON.stringify(document))).toEqual(document);
  });

  it("documents every HTTP function's route, with the x-api-key scheme where a key is needed", () => {
    expect(document.components.securitySchemes.apiKey).toEqual({
      type: 'apiKey',
      in: 'header',
      name: 'x-api-key',
    });
    const documented = Object.entries(document.paths).flatMap(([path, item]) =>
      Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(documented.sort()).toEqual(httpRoutes.map((route) => `${route.method} ${route.path}`).sort());
    for (const route of httpRoutes) {
      const operation = operationOf(route.path, route.method.toLowerCase());
      expect(operation.security).toEqual(route.apiKeyRequired ? [{ apiKey: [] }] : []);
      expect(operation.operationId).toEqual(expect.any(String));
      for (const response of Object.values(operation.responses))
        expect(response.description).toEqual(expect.any(String));
    }
  });

  it('resolves every $ref to a schema in components', () => {
    const refs = refsIn(document);

    expect(refs).toContain('#/components/schemas/Problem');
    for (const ref of refs) {
      expect(ref).toMatch(/^#\/components\/schemas\//);
      expect(document.components.schemas[ref.split('/').at(-1) ?? '']).toBeDefined();
    }
  });

  it('describes the request bodies and problem responses', () => {
    for (const [path, method, schema] of [
      ['/v1/accounts', 'post', 'CreateAccountRequest'],
      ['/v1/transfers', 'post', 'SubmitTransferRequest'],
    ] as const) {
      expect(operationOf(path, method).requestBody).toEqual({
        required: true,
        content: { 'application/json': { schema: { $ref: `#/components/schemas/${schema}` } } },
      });
      expect(document.components.schemas[schema]).toMatchObject({
        type: 'object',
        additionalProperties: false,
      });
    }
    const submit = operationOf('/v1/transfers', 'post');
    for (const status of ['400', '409', '413', '422', '500', '503']) {
      expect(submit.responses[status]?.content).toEqual({
        'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } },
      });
    }
    expect(submit.responses['202']).toBeDefined();
  });

  it('documents the Idempotency-Key header as required, with the validator bounds', () => {
    const header = operationOf('/v1/transfers', 'post').parameters?.find(
      (item) => item.name === 'Idempotency-Key',
    );

    expect(header).toMatchObject({
      in: 'header',
      required: true,
      schema: { type: 'string', minLength: 1, maxLength: 255 },
    });
    const pattern = new RegExp(String((header?.schema as Json | undefined)?.pattern));
    for (const key of ['abc', 'é', 'a b', 'a\tb']) {
      expect(pattern.test(key)).toBe(idempotencyKeySchema.safeParse(key).success);
    }
  });

  it('documents the path and query parameters, required as the validators require them', () => {
    const list = operationOf('/v1/accounts/{id}/entries', 'get');
    const byName = new Map(list.parameters?.map((item) => [item.name, item]));

    expect(byName.get('id')).toMatchObject({ in: 'path', required: true });
    expect(byName.get('limit')).toMatchObject({ in: 'query', required: false });
    expect(byName.get('cursor')).toMatchObject({ in: 'query', required: false });
    expect(entriesQuerySchema.safeParse({}).success).toBe(true);
  });

  for (const [name, schema, valid, neededBy] of [
    [
      'CreateAccountRequest',
      createAccountBodySchema,
      { currency: 'USD', flags: {}, code: 1, metadata: {}, velocity: {} },
      {},
    ],
    [
      'SubmitTransferRequest',
      submitTransferBodySchema,
      {
        debit_account_id: '0192f6a4-1d2e-4c3b-8a9f-0123456789ab',
        credit_account_id: '0192f6a4-1d2e-4c3b-8a9f-0123456789ac',
        amount: '1',
        currency: 'USD',
        metadata: {},
        pending: true,
        timeout_s: 60,
      },
      // A timeout is only for a pending transfer: without `pending` the body is refused.
      { pending: 'timeout_s' },
    ],
  ] as const) {
    it(`requires in ${name} exactly the fields the validator requires, and refuses others`, () => {
      const component = document.components.schemas[name] as { properties: Json; required: string[] };
      const zodSchema = schema as z.ZodType;
      expect(zodSchema.safeParse(valid).success).toBe(true);
      expect(Object.keys(component.properties).sort()).toEqual(Object.keys(valid).sort());

      for (const field of Object.keys(valid)) {
        const { [field]: _dropped, ...without } = valid as Json;
        const dependent = (neededBy as Readonly<Record<string, string>>)[field];
        expect([field, zodSchema.safeParse(without).success]).toEqual([
          field,
          !component.required.includes(field) && dependent === undefined,
        ]);
        if (dependent !== undefined) {
          const { [dependent]: _alsoDropped, ...withoutEither } = without;
          expect([field, zodSchema.safeParse(withoutEither).success]).toEqual([field, true]);
        }
      }
      expect(zodSchema.safeParse({ ...valid, unknown_field: 1 }).success).toBe(false);
    });
  }

  it('documents amounts with a pattern every valid amount matches', () => {
    const amount = (document.components.schemas.SubmitTransferRequest as { properties: Record<string, Json> })
      .properties.amount as Json;
    const pattern = new RegExp(String(amount.pattern));

    expect(amount.type).toBe('string');
    for (const value of ['1', '1050', '9223372036854775807']) expect(pattern.test(value)).toBe(true);
    for (const value of ['01', '1.5', '-1', '1e3']) expect(pattern.test(value)).toBe(false);
  });

  it('is served by GET /openapi.json without a key', async () => {
    const handler = openapi.build({
      settings: readFunctionSettings({}),
      logger: silentLogger,
      services: unreachableServices,
      assetRoot: '/nonexistent',
      apiDocument: () => openApiDocument(httpFunctions),
      redelivery: () => {
        throw new Error('test: the OpenAPI route reads no queue');
      },
    });

    const response = await handler(apiEvent({ method: 'GET', resource: '/openapi.json', apiKeyId: null }));

    expect(response.statusCode).toBe(200);
    expect(response.headers?.['content-type']).toBe('application/json');
    expect(JSON.parse(response.body)).toEqual(document);
  });
});
