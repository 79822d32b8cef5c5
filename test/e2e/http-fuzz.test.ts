/**
 * The HTTP API under fuzzing (fast-check, fixed seeds), against the running local runtime.
 *
 * Where the requests go, and why:
 * - 10,000 generated requests over HTTP, through the front door, eight at a time: every route of
 *   `functions/index.ts` with valid and broken bodies, headers, path and query parameters, sizes
 *   and encodings, plus stray paths and raw request targets. This is the bulk: it is what a
 *   client can send, and it goes through everything a request meets.
 * - Malformed HTTP on raw sockets: what no HTTP client library sends (bad framing, bytes a
 *   header may not hold, request lines no parser takes), so only the front door can answer it.
 * - 2,000 direct calls of the handlers with API Gateway's events: what API Gateway can hand a
 *   Lambda but a client cannot send through the front door (base64 bodies of binary media
 *   types, strings with lone surrogates, headers no HTTP parser passes, no header map at all).
 *
 * Every answer must be a 2xx where the reference model says the request is valid, else a 4xx
 * problem+json naming the field the model says is wrong; never a 5xx. The runtime must still
 * answer /health after every 500 requests, and the ledger, the tables and the queues must hold
 * exactly what the 2xx answers made: nothing for a refused request.
 */

import { readdir } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { type AttributeValue, ScanCommand } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpFunctions } from '../../functions/index';
import { apiKeyIdOf } from '../../infra/local/front-door';
import { projectRoot } from '../../infra/local/postgres';
import type { LocalRuntime } from '../../infra/local/runtime';
import type { ApiHandler } from '../../shared/handlers/http';
import { uniqueNamePrefix } from '../support/aws';
import { useTestDatabase } from '../support/database';
import {
  type Answer,
  answerFault,
  type DirectCall,
  directCalls,
  type Expected,
  type FuzzFixtures,
  routeModels,
  send,
  sendRaw,
  type WireRequest,
  wireRequests,
} from '../support/http-fuzz-requests';
import { client, startTestRuntime, waitFor } from '../support/runtime';
import { openAccount, submitTransfer } from './ledger';

const database = useTestDatabase();
let runtime: LocalRuntime;
let fixtures: FuzzFixtures;
let agent: http.Agent;

/** Requests over HTTP: 20 chunks of 500, eight clients at a time. */
const httpChunkCount = 20;
const httpChunkSize = 500;
const httpClientCount = 8;
const httpSeed = 20_261_130;
const directCallCount = 2_000;
const rawRequestCount = 150;
const rawAnswerTimeoutMs = 5_000;
/** How many failing requests of each kind the failure message shows. */
const examplesPerFaultMax = 3;
/** Pages a table scan reads at most (moto's pages hold 1 MB; the tables hold far less). */
const scanPageCountMax = 100;

/** What the 2xx answers made: the only writes the fuzzing may leave behind. */
const made = {
  accounts: new Set<string>(),
  transfers: new Map<string, { debitAccountId: string; idempotencyKey: string }>(),
  /** Accounts given limits of their own: opened with a limit that is not null, or set by a 200. */
  ownLimits: new Set<string>(),
};

interface Fault {
  readonly kind: string;
  readonly request: string;
  readonly fault: string;
}
const faults: Fault[] = [];

beforeAll(async () => {
  runtime = await startTestRuntime({
    databaseUrl: database.url,
    namePrefix: uniqueNamePrefix(),
    // Submissions spread over a few accounts; the window must not refuse the valid ones.
    velocity: { windowS: 60, transferCountMax: 1_000, amountMax: undefined },
  });
  const api = client(runtime);
  const transferAccounts = [await openAccount(api), await openAccount(api), await openAccount(api)];
  const velocityAccounts = [await openAccount(api), await openAccount(api)];
  const firstTransfer = await submitTransfer(
    api,
    { debit: transferAccounts[0] ?? '', credit: transferAccounts[1] ?? '', amount: '100' },
    'fuzz-fixture',
  );
  fixtures = {
    apiKey: runtime.apiKey,
    transferAccounts,
    velocityAccounts,
    transferIds: [firstTransfer],
    assetFiles: await readdir(path.join(projectRoot, 'dashboard/dist/assets')),
  };
  for (const account of [...transferAccounts, ...velocityAccounts]) made.accounts.add(account);
  made.transfers.set(firstTransfer, {
    debitAccountId: transferAccounts[0] ?? '',
    idempotencyKey: 'fuzz-fixture',
  });
  agent = new http.Agent({ keepAlive: true, maxSockets: httpClientCount });
}, 120_000);

afterAll(async () => {
  agent?.destroy();
  await runtime?.stop();
});

/** Remembers what a 2xx answer made. */
function recordEffect(
  routeName: string | undefined,
  status: number,
  body: Buffer,
  idempotencyKey?: string,
): void {
  if (status === 201 && routeName === 'create-account') {
    const account = JSON.parse(body.toString('utf8')) as { id: string; velocity: Record<string, unknown> };
    made.accounts.add(account.id);
    if (Object.values(account.velocity).some((limit) => limit !== null)) made.ownLimits.add(account.id);
  }
  if (status === 200 && routeName === 'set-account-velocity') {
    made.ownLimits.add((JSON.parse(body.toString('utf8')) as { id: string }).id);
  }
  if (status === 202 && routeName === 'submit-transfer') {
    const transfer = JSON.parse(body.toString('utf8')) as { id: string; debit_account_id: string };
    made.transfers.set(transfer.id, {
      debitAccountId: transfer.debit_account_id,
      idempotencyKey: idempotencyKey ?? '',
    });
  }
}

function describeRequest(request: WireRequest): string {
  const body =
    request.body === undefined
      ? ''
      : ` body(${request.body.byteLength} B)=${JSON.stringify(request.body.subarray(0, 300).toString('latin1'))}`;
  return `${request.method} ${JSON.stringify(request.target.slice(0, 200))} headers=${JSON.stringify(request.headers).slice(0, 400)}${body}`;
}

function check(
  kind: string,
  request: string,
  answer: Answer | Error,
  expected: Expected,
  method: string,
): void {
  const fault =
    answer instanceof Error ? `no answer: ${answer.message}` : answerFault(answer, expected, method);
  if (fault !== undefined) {
    const body = answer instanceof Error ? '' : ` answered ${answer.body.subarray(0, 300).toString('utf8')}`;
    faults.push({ kind, request, fault: `${fault}${body}` });
  }
}

/** The faults, a few of each kind (kind and the fault's first words), for the failure message. */
function faultSummary(): string[] {
  const shown = new Map<string, number>();
  const lines: string[] = [];
  for (const fault of faults) {
    const key = `${fault.kind}: ${fault.fault.split(' ').slice(0, 3).join(' ')}`;
    const count = shown.get(key) ?? 0;
    shown.set(key, count + 1);
    if (count < examplesPerFaultMax) lines.push(`${fault.kind}: ${fault.fault}\n    ${fault.request}`);
  }
  return lines;
}

/** Runs `work` on every item, at most `concurrency` at a time. */
async function inPool<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next] as T;
      next += 1;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

async function healthy(): Promise<boolean> {
  const response = await fetch(`${runtime.url}/health`);
  return response.status === 200;
}

/**
 * Waits until every accepted transfer is recorded, then compares what Postgres, the idempotency
 * and velocity tables and the queues hold with what the 2xx answers made.
 */
async function expectOnlyWhatWasAnswered(): Promise<void> {
  const acceptedIds = [...made.transfers.keys()];
  await waitFor(
    `${acceptedIds.length} accepted transfers recorded`,
    async () => {
      const { rows } = await database.pool.query<{ count: number }>(
        'select count(*)::int as count from ledger.transfers where id = any($1::uuid[])',
        [acceptedIds],
      );
      return rows[0]?.count === acceptedIds.length ? true : undefined;
    },
    90_000,
  );
  const accountIds = (await database.pool.query<{ id: string }>('select id from ledger.accounts')).rows.map(
    (row) => row.id,
  );
  const transferIds = (await database.pool.query<{ id: string }>('select id from ledger.transfers')).rows.map(
    (row) => row.id,
  );
  // Every message was posted and deleted; none was dead-lettered.
  const queueDepths = await waitFor('the transfers queue to empty', async () => {
    const depths = await Promise.all(
      [runtime.resources.queueUrls.transfers, runtime.resources.queueUrls.transfersDeadLetter].map(
        messageCount,
      ),
    );
    return depths[0] === 0 ? depths : undefined;
  });
  const poison = (
    await database.pool.query<{ count: number }>('select count(*)::int as count from ledger.poison_messages')
  ).rows[0]?.count;
  const idempotencyItems = await scanKeys(runtime.resources.tableNames.idempotency, 'id');
  const velocityItems = await scanKeys(runtime.resources.tableNames.velocity, 'pk');
  const queuedRecords = idempotencyItems
    .filter((key) => key.startsWith('transfer#'))
    .map((key) => key.slice(9));
  const requestRecords = idempotencyItems.filter((key) => !key.startsWith('transfer#'));
  const idempotencyKeys = new Set([...made.transfers.values()].map((transfer) => transfer.idempotencyKey));
  // A velocity item exists for each account a transfer was admitted for, and for each account
  // given limits of its own by a 2xx; for no other account.
  const velocityAccounts = velocityItems.map((key) => key.replace(/^limits#/, ''));
  const withVelocity = new Set([
    ...[...made.transfers.values()].map((transfer) => transfer.debitAccountId),
    ...made.ownLimits,
  ]);

  expect(new Set(accountIds)).toEqual(made.accounts);
  expect(new Set(transferIds)).toEqual(new Set(acceptedIds));
  expect(queueDepths).toEqual([0, 0]);
  expect(poison).toBe(0);
  expect(new Set(queuedRecords)).toEqual(new Set(acceptedIds));
  expect(requestRecords).toHaveLength(idempotencyKeys.size);
  expect(velocityAccounts).toHaveLength(new Set(velocityAccounts).size);
  expect(new Set(velocityAccounts)).toEqual(withVelocity);
}

/** Messages in a queue, waiting or in flight. */
async function messageCount(queueUrl: string): Promise<number> {
  const { Attributes = {} } = await runtime.clients.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return (
    Number.parseInt(Attributes.ApproximateNumberOfMessages ?? '0', 10) +
    Number.parseInt(Attributes.ApproximateNumberOfMessagesNotVisible ?? '0', 10)
  );
}

async function scanKeys(tableName: string, keyAttribute: string): Promise<string[]> {
  const keys: string[] = [];
  let start: Record<string, AttributeValue> | undefined;
  for (let page = 0; page < scanPageCountMax; page += 1) {
    const result = await runtime.clients.dynamo.send(
      new ScanCommand({
        TableName: tableName,
        ProjectionExpression: '#key',
        ExpressionAttributeNames: { '#key': keyAttribute },
        ExclusiveStartKey: start,
      }),
    );
    for (const item of result.Items ?? []) keys.push(item[keyAttribute]?.S ?? '');
    start = result.LastEvaluatedKey;
    if (start === undefined) return keys;
  }
  throw new Error(`test: ${tableName} has more pages than the scan reads`);
}

describe('the HTTP API under fuzzing', () => {
  it('has a model of every HTTP route', () => {
    expect(Object.keys(routeModels).sort()).toEqual(
      httpFunctions.map((definition) => definition.name).sort(),
    );
  });

  it('answers 10,000 generated requests over HTTP with the 2xx or the problem the contract names', async () => {
    faults.length = 0;
    const url = new URL(runtime.url);
    const routesSeen = new Set<string>();
    const statuses = new Map<string, number>();
    let sent = 0;
    // Generated a chunk at a time (each from its own fixed seed) and sent by a pool of clients, so
    // one slow request (a submission goes to four AWS calls) holds up no others.
    for (let chunk = 0; chunk < httpChunkCount; chunk += 1) {
      const requests = fc.sample(wireRequests(httpFunctions, fixtures), {
        seed: httpSeed + chunk,
        numRuns: httpChunkSize,
      });
      await inPool(requests, httpClientCount, async (request) => {
        const answer = await send(agent, url, request).catch((error: unknown) => error as Error);
        sent += 1;
        if (request.routeName !== undefined) routesSeen.add(request.routeName);
        check(request.label, describeRequest(request), answer, request.expected, request.method);
        const status = `${request.label} ${answer instanceof Error ? 'no answer' : answer.status}`;
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        if (!(answer instanceof Error)) {
          recordEffect(request.routeName, answer.status, answer.body, request.idempotencyKey);
        }
      });
      if (!(await healthy()))
        faults.push({ kind: 'process', request: '', fault: 'the runtime stopped answering /health' });
    }
    console.info(`HTTP fuzz answers: ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);

    expect(sent).toBe(httpChunkCount * httpChunkSize);
    expect(faultSummary()).toEqual([]);
    expect([...routesSeen].sort()).toEqual(httpFunctions.map((definition) => definition.name).sort());
    await expectOnlyWhatWasAnswered();
  }, 300_000);

  it('answers malformed HTTP on raw sockets with a 4xx problem, or closes a connection it cannot read', async () => {
    faults.length = 0;
    const url = new URL(runtime.url);
    const host = `Host: ${url.host}\r\n`;
    const key = `x-api-key: ${runtime.apiKey}\r\n`;
    const fixed = [
      'GET /v1/fraud/flags HTTP/1.1\r\n\r\n',
      `POST /v1/accounts HTTP/1.1\r\n${host}${key}Content-Length: abc\r\n\r\n`,
      `POST /v1/accounts HTTP/1.1\r\n${host}${key}Content-Length: -1\r\n\r\n`,
      `POST /v1/accounts HTTP/1.1\r\n${host}${key}Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}`,
      `POST /v1/accounts HTTP/1.1\r\n${host}${key}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
      `POST /v1/accounts HTTP/1.1\r\n${host}${key}Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`,
      `GET /v1/fraud/flags HTTP/1.1\r\n${host}x-api-key: a\u0000b\r\n\r\n`,
      `GET /v1/fraud/flags HTTP/1.1\r\n${host}x-api-key: a\rb\r\n\r\n`,
      `GET /v1/fraud/flags HTTP/1.1\r\n${host}X-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      `GET /${'a'.repeat(20_000)} HTTP/1.1\r\n${host}\r\n`,
      `FOO /v1/fraud/flags HTTP/1.1\r\n${host}\r\n`,
      'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
      `GET /health HTTP/9.9\r\n${host}\r\n`,
      `GET  /health HTTP/1.1\r\n${host}\r\n`,
      `GET /health HTTP/1.1\r\n${host}X-A: a\r\n b\r\n\r\n`,
      `GET /health HTTP/1.1\r\nHost : x\r\n\r\n`,
      `GET /health HTTP/1.1\r\n${host}X(A): b\r\n\r\n`,
      `GET /v1/accounts/\u00e9 HTTP/1.1\r\n${host}${key}\r\n`,
      `POST /v1/accounts HTTP/1.1\r\n${host}${key}Expect: 100-continue\r\nContent-Length: 300000\r\n\r\n`,
      '\r\n\r\n',
      'GET\r\n\r\n',
    ].map((text) => Buffer.from(text, 'latin1'));
    const generated = fc.sample(
      fc.oneof(
        fc.uint8Array({ minLength: 1, maxLength: 300 }).map((bytes) => Buffer.from(bytes)),
        fc
          .tuple(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ maxLength: 40 }))
          .map(([name, value]) =>
            Buffer.concat([
              Buffer.from(`GET /v1/fraud/flags HTTP/1.1\r\n${host}${key}`, 'latin1'),
              Buffer.from(name),
              Buffer.from(': '),
              Buffer.from(value),
              Buffer.from('\r\n\r\n'),
            ]),
          ),
        fc
          .uint8Array({ minLength: 1, maxLength: 60 })
          .map((target) =>
            Buffer.concat([
              Buffer.from('GET '),
              Buffer.from(target),
              Buffer.from(` HTTP/1.1\r\n${host}${key}\r\n`, 'latin1'),
            ]),
          ),
      ),
      { seed: 20_261_131, numRuns: rawRequestCount },
    );
    let closedCount = 0;
    for (const bytes of [...fixed, ...generated]) {
      const answer = await sendRaw(url, bytes, rawAnswerTimeoutMs).catch((error: unknown) => error as Error);
      const shown = JSON.stringify(bytes.subarray(0, 200).toString('latin1'));
      if (answer === 'closed') {
        closedCount += 1;
        continue;
      }
      check('raw', shown, answer, { kind: 'not-5xx' }, 'GET');
    }

    expect(faultSummary()).toEqual([]);
    expect(await healthy()).toBe(true);
    // Nearly every malformed request is answered; only bytes that are not HTTP at all may be dropped.
    expect(closedCount).toBeLessThan(generated.length);
  }, 120_000);

  it('answers 2,000 direct handler calls (base64 bodies, raw surrogates, odd headers) as the contract says', async () => {
    faults.length = 0;
    const handlers = new Map<string, ApiHandler>(
      httpFunctions.map((definition) => [definition.name, definition.build(runtime.wiring)]),
    );
    const apiKeyId = apiKeyIdOf(runtime.apiKey);
    await fc.assert(
      fc.asyncProperty(directCalls(httpFunctions, fixtures, apiKeyId), async (call: DirectCall) => {
        const handler = handlers.get(call.route.name);
        if (handler === undefined) throw new Error(`test: no handler for ${call.route.name}`);
        const result = await handler(call.event).catch((error: unknown) => error as Error);
        const answer: Answer | Error =
          result instanceof Error
            ? result
            : {
                status: result.statusCode,
                contentType: String(result.headers?.['content-type'] ?? ''),
                headers: {},
                body: Buffer.from(result.body ?? '', result.isBase64Encoded === true ? 'base64' : 'utf8'),
              };
        const shown = `${call.route.name} ${JSON.stringify(call.event.pathParameters)} ${JSON.stringify(call.event.queryStringParameters)} headers=${JSON.stringify(call.event.headers)} base64=${call.event.isBase64Encoded} body=${JSON.stringify((call.event.body ?? '').slice(0, 300))}`;
        check(`direct ${call.route.name}`, shown, answer, call.expected, call.route.method);
        if (!(answer instanceof Error))
          recordEffect(call.route.name, answer.status, answer.body, call.idempotencyKey);
      }),
      { seed: 20_261_132, numRuns: directCallCount },
    );

    expect(faultSummary()).toEqual([]);
    await expectOnlyWhatWasAnswered();
  }, 300_000);
});
