/**
 * The local front door given what the HTTP fuzzer found it mishandled: each case here was a 5xx,
 * or an answer that was not a problem+json, before its fix.
 */
import http from 'node:http';
import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import createAccount from '../../functions/create-account';
import getAccount from '../../functions/get-account';
import { type FrontDoor, startFrontDoor } from '../../infra/local/front-door';

const apiKey = 'front-door-garbage-key';
const logger = new Logger({ serviceName: 'test', logLevel: 'SILENT' });
const events: APIGatewayProxyEvent[] = [];
let frontDoor: FrontDoor;

const echo = async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
  events.push(event);
  return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: '{}' };
};

beforeAll(async () => {
  frontDoor = await startFrontDoor({
    port: 0,
    apiKey,
    logger,
    routes: [
      { definition: getAccount, handler: echo },
      { definition: createAccount, handler: echo },
    ],
  });
  frontDoor.setReady(true);
});

afterAll(async () => {
  await frontDoor.stop();
});

/** Sends a request with headers exactly as listed (names, order, duplicates). */
function request(
  method: string,
  target: string,
  headers: readonly string[],
  body?: Buffer,
): Promise<{ status: number; contentType: string; body: string }> {
  const url = new URL(frontDoor.url);
  const all = [
    'Host',
    url.host,
    ...headers,
    ...(body === undefined ? [] : ['Content-Length', String(body.length)]),
  ];
  return new Promise((resolve, reject) => {
    const outgoing = http.request(
      { host: url.hostname, port: url.port, method, path: target, headers: all, agent: false },
      (incoming) => {
        const chunks: Buffer[] = [];
        incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
        incoming.on('end', () =>
          resolve({
            status: incoming.statusCode ?? 0,
            contentType: String(incoming.headers['content-type'] ?? ''),
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

describe('the local front door, given garbage', () => {
  it('passes headers and query parameters named like Object.prototype members to the handler', async () => {
    events.length = 0;
    const names = ['toString', 'valueOf', 'constructor', '__proto__', 'hasOwnProperty'];

    const answer = await request('GET', `/v1/accounts/x?${names.map((name) => `${name}=q`).join('&')}`, [
      'x-api-key',
      apiKey,
      ...names.flatMap((name) => [name, 'h']),
    ]);

    const event = events[0];
    expect(answer.status).toBe(200);
    for (const name of names) {
      expect(Object.hasOwn(event?.headers ?? {}, name)).toBe(true);
      expect(event?.headers[name]).toBe('h');
      expect(event?.multiValueHeaders[name]).toEqual(['h']);
      expect(event?.queryStringParameters?.[name]).toBe('q');
      expect(event?.multiValueQueryStringParameters?.[name]).toEqual(['q']);
    }
  });
});

describe('the local front door, given request targets that are not plain paths', () => {
  it.each([['//'], ['//['], ['//%zz']])(
    'answers the path %s with 404 problem+json, not 500',
    async (target) => {
      const answer = await request('GET', target, ['x-api-key', apiKey]);

      expect(answer.status).toBe(404);
      expect(answer.contentType).toBe('application/problem+json');
    },
  );

  it.each([['http://[::1/v1/accounts'], ['*']])(
    'answers the target %s with 400 problem+json',
    async (target) => {
      const answer = await request('GET', target, ['x-api-key', apiKey]);

      expect(answer.status).toBe(400);
      expect(answer.contentType).toBe('application/problem+json');
      expect(JSON.parse(answer.body)).toMatchObject({
        status: 400,
        type: 'https://ledgerx.dev/problems/bad-request',
      });
    },
  );

  it('reads a target starting with // as a path, never as a host in front of one', async () => {
    events.length = 0;

    const answer = await request(
      'POST',
      '//evil.example/v1/accounts',
      ['x-api-key', apiKey],
      Buffer.from('{}'),
    );

    expect(answer.status).toBe(404);
    expect(events).toEqual([]);
  });
});
