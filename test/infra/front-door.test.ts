import { createHash } from 'node:crypto';
import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import createAccount from '../../functions/create-account';
import getAccount from '../../functions/get-account';
import getTransfer from '../../functions/get-transfer';
import listAccountEntries from '../../functions/list-account-entries';
import openapi from '../../functions/openapi';
import { type FrontDoor, type FrontDoorRoute, startFrontDoor } from '../../infra/local/front-door';

const apiKey = 'front-door-test-key';
const logger = new Logger({ serviceName: 'test', logLevel: 'SILENT' });
const events: APIGatewayProxyEvent[] = [];
let frontDoor: FrontDoor;

const echo = async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
  events.push(event);
  return {
    statusCode: 200,
    headers: { 'content-type': 'application/json', 'x-echo': 'yes' },
    multiValueHeaders: { 'set-cookie': ['a=1', 'b=2'] },
    body: JSON.stringify({ path: event.path }),
  };
};

beforeAll(async () => {
  frontDoor = await startFrontDoor({
    port: 0,
    apiKey,
    logger,
    routes: [
      { definition: getAccount, handler: echo },
      { definition: listAccountEntries, handler: echo },
      { definition: createAccount, handler: echo },
      {
        definition: getTransfer,
        handler: async () => {
          throw new Error('test: the handler failed');
        },
      },
      { definition: openapi, handler: echo },
    ],
  });
});

afterAll(async () => {
  await frontDoor.stop();
});

describe('the local front door', () => {
  it('answers /health with 503 until it is ready, then 200', async () => {
    const before = await fetch(`${frontDoor.url}/health`);
    frontDoor.setReady(true);
    const after = await fetch(`${frontDoor.url}/health`);

    expect(before.status).toBe(503);
    expect(after.status).toBe(200);
    expect(await after.json()).toEqual({ status: 'ok' });
  });

  it('builds the API Gateway proxy event: path parameters, query, headers as sent, the API key id', async () => {
    events.length = 0;

    const response = await fetch(`${frontDoor.url}/v1/accounts/abc%20d/entries?limit=5&cursor=x&limit=6`, {
      headers: { 'X-Api-Key': apiKey, 'X-Trace': 'one' },
    });

    const event = events[0];
    expect(response.status).toBe(200);
    expect(response.headers.get('x-echo')).toBe('yes');
    expect(response.headers.get('set-cookie')).toBe('a=1, b=2');
    expect(event).toMatchObject({
      resource: '/v1/accounts/{id}/entries',
      path: '/v1/accounts/abc%20d/entries',
      httpMethod: 'GET',
      pathParameters: { id: 'abc d' },
      queryStringParameters: { limit: '6', cursor: 'x' },
      multiValueQueryStringParameters: { limit: ['5', '6'], cursor: ['x'] },
      body: null,
      isBase64Encoded: false,
      requestContext: {
        resourcePath: '/v1/accounts/{id}/entries',
        identity: { apiKeyId: createHash('sha256').update(apiKey).digest('hex').slice(0, 16) },
      },
    });
    expect(event?.headers['X-Trace']).toBe('one');
  });

  it('needs no key on a route that does not require one, and passes no key id there', async () => {
    events.length = 0;

    const response = await fetch(`${frontDoor.url}/openapi.json`);

    expect(response.status).toBe(200);
    expect(events[0]?.requestContext.identity.apiKeyId).toBeNull();
    expect(events[0]?.pathParameters).toBeNull();
  });

  it.each([
    ['no key', {}, 401],
    ['a wrong key', { 'x-api-key': 'nope' }, 401],
  ])('answers 401 problem+json with %s, before any handler', async (_case, headers, status) => {
    events.length = 0;

    const response = await fetch(`${frontDoor.url}/v1/accounts/123`, { headers });

    expect(response.status).toBe(status);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(await response.json()).toEqual({
      type: 'https://ledgerx.dev/problems/unauthorized',
      title: 'Unauthorized',
      status,
      detail: expect.any(String),
    });
    expect(events).toEqual([]);
  });

  it('answers 413 to a body over 256 KiB without calling the handler, whether declared or streamed', async () => {
    const declared = await fetch(`${frontDoor.url}/v1/accounts`, {
      method: 'POST',
      headers: { 'x-api-key': apiKey },
      body: 'x'.repeat(262_145),
    });
    const streamed = await fetch(`${frontDoor.url}/v1/accounts`, {
      method: 'POST',
      headers: { 'x-api-key': apiKey },
      body: new ReadableStream({
        start(controller) {
          for (let chunk = 0; chunk < 5; chunk += 1) controller.enqueue(new Uint8Array(60_000));
          controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);

    expect(declared.status).toBe(413);
    expect(streamed.status).toBe(413);
    expect((await streamed.json()) as unknown).toMatchObject({ status: 413 });
    expect(events.filter((event) => event.path === '/v1/accounts')).toEqual([]);
  });

  it('answers 502 problem+json for a handler that throws, as API Gateway does for a failed Lambda', async () => {
    const failing = await fetch(`${frontDoor.url}/v1/transfers/1`, { headers: { 'x-api-key': apiKey } });

    expect(failing.status).toBe(502);
    expect(failing.headers.get('content-type')).toBe('application/problem+json');
  });

  it('answers 404 for an unknown path and 405 with Allow for a known path and another method', async () => {
    const unknown = await fetch(`${frontDoor.url}/v1/nothing`, { headers: { 'x-api-key': apiKey } });
    const wrongMethod = await fetch(`${frontDoor.url}/v1/accounts/1`, {
      method: 'DELETE',
      headers: { 'x-api-key': apiKey },
    });

    expect(unknown.status).toBe(404);
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('GET');
  });
});

describe("the front door's bound on invocations of one function", () => {
  /** A handler that holds each invocation until the test lets it go, counting those at once. */
  function gate() {
    const releases: (() => void)[] = [];
    let running = 0;
    let runningMax = 0;
    let started = 0;
    const handler = async (): Promise<APIGatewayProxyResult> => {
      running++;
      started++;
      runningMax = Math.max(runningMax, running);
      await new Promise<void>((resolve) => releases.push(resolve));
      running--;
      return { statusCode: 200, body: '{}' };
    };
    return {
      handler,
      get started() {
        return started;
      },
      get runningMax() {
        return runningMax;
      },
      releaseAll: () => {
        for (const release of releases.splice(0)) release();
      },
    };
  }

  async function startBounded(
    handler: FrontDoorRoute['handler'],
    bounds: { functionConcurrencyMax: number; invocationWaitMsMax: number; waitingCountMax: number },
  ): Promise<FrontDoor> {
    const bounded = await startFrontDoor({
      port: 0,
      apiKey,
      logger,
      routes: [{ definition: openapi, handler }],
      ...bounds,
    });
    bounded.setReady(true);
    return bounded;
  }

  async function waitUntil(what: string, check: () => boolean): Promise<void> {
    for (let attempt = 0; attempt < 500 && !check(); attempt++)
      await new Promise((resolve) => setTimeout(resolve, 10));
    if (!check()) throw new Error(`test: ${what} did not happen`);
  }

  it('runs at most the bound at once; the rest wait their turn and are all answered', async () => {
    const held = gate();
    const bounded = await startBounded(held.handler, {
      functionConcurrencyMax: 2,
      invocationWaitMsMax: 30_000,
      waitingCountMax: 100,
    });
    try {
      const answers = Promise.all(Array.from({ length: 7 }, () => fetch(`${bounded.url}/openapi.json`)));
      await waitUntil('two invocations', () => held.started === 2);
      // The others wait in the front door, not in the handler, until a slot frees.
      while (held.started < 7) {
        held.releaseAll();
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      held.releaseAll();

      expect((await answers).map((answer) => answer.status)).toEqual([200, 200, 200, 200, 200, 200, 200]);
      expect(held.runningMax).toBe(2);
    } finally {
      held.releaseAll();
      await bounded.stop();
    }
  });
});
