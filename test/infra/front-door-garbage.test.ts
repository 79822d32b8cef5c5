/**
 * The local front door given what the HTTP fuzzer found it mishandled: each case here was a 5xx,
 * or an answer that was not a problem+json, before its fix.
 */
import http from 'node:http';
import net from 'node:net';
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

describe('the local front door, given a body that is not UTF-8', () => {
  it('hands the handler the exact bytes, base64-encoded, so it can refuse them', async () => {
    events.length = 0;
    const body = Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc0, 0xaf, 0xff, 0x22, 0x7d]);

    const answer = await request('POST', '/v1/accounts', ['x-api-key', apiKey], body);

    const event = events[0];
    expect(answer.status).toBe(200);
    expect(event?.isBase64Encoded).toBe(true);
    expect(Buffer.from(event?.body ?? '', 'base64')).toEqual(body);
  });

  it('hands UTF-8 over as text', async () => {
    events.length = 0;

    await request('POST', '/v1/accounts', ['x-api-key', apiKey], Buffer.from('{"a":"é 😀"}'));

    expect(events[0]).toMatchObject({ isBase64Encoded: false, body: '{"a":"é 😀"}' });
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

/** Writes raw bytes, half-closes, and returns what came back before the server closed. */
function rawExchange(bytes: string): Promise<string> {
  const url = new URL(frontDoor.url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(url.port), url.hostname);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.end(Buffer.from(bytes, 'latin1'));
  });
}

describe('the local front door, given malformed HTTP', () => {
  it.each([
    ['no Host header', 'GET /health HTTP/1.1\r\n\r\n', 400],
    [
      'a Content-Length that is no number',
      'POST /v1/accounts HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n',
      400,
    ],
    ['a NUL in a header', 'GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\u0000b\r\n\r\n', 400],
    ['an unknown method', 'FOO /health HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    ['headers over 16 KiB', `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431],
  ])('answers %s with a problem+json', async (_case, bytes, status) => {
    const answer = await rawExchange(bytes);

    const [head = '', body = ''] = answer.split('\r\n\r\n');
    expect(head.split('\r\n')[0]).toBe(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}`);
    expect(head.toLowerCase()).toContain('content-type: application/problem+json');
    expect(JSON.parse(body)).toMatchObject({
      status,
      type: expect.stringMatching(/^https:\/\/ledgerx\.dev\/problems\//),
    });
  });
});
