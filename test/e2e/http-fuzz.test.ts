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
  fixtureAccounts,
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
  /**
   * Accepted transfers: the account whose velocity window counted each (none for a post or void,
   * nor for a reversal of a transfer that does not exist), and whether a record of it as queued
   * was written (a batch's items have none: the batch's record answers for them).
   */
  transfers: new Map<string, { velocityAccountId: string | undefined; queuedRecord: boolean }>(),
  /** The Idempotency-Keys of the requests whose answers were recorded. */
  requestKeys: new Set<string>(),
  /** Accounts given limits of their own: opened with a limit that is not null, or set by a 200. */
  ownLimits: new Set<string>(),
  /** The 200 answers of freeze, unfreeze and close, by account. */
  accountActions: new Map<string, { freeze: number; unfreeze: number; close: number }>(),
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
  const open = async (count: number): Promise<string[]> => {
    const accounts: string[] = [];
    for (let index = 0; index < count; index += 1) accounts.push(await openAccount(api));
    return accounts;
  };
  const transferAccounts = await open(3);
  const velocityAccounts = await open(2);
  const freezeAccounts = await open(2);
  const closeAccounts = await open(2);
  const [closedAccount = ''] = await open(1);
  const unclosableAccounts = await open(2);
  const [debit = '', credit = ''] = transferAccounts;
  const firstTransfer = await submitTransfer(api, { debit, credit, amount: '100' }, 'fuzz-fixture');
  const hold = await api.post(
    '/v1/transfers',
    { debit_account_id: debit, credit_account_id: credit, amount: '50', currency: 'USD', pending: true },
    { 'Idempotency-Key': 'fuzz-fixture-hold' },
  );
  expect(hold.status).toBe(202);
  const pendingTransfer = (hold.body as { id: string }).id;
  const batch = await api.post(
    '/v1/transfers/batch',
    {
      transfers: [
        { debit_account_id: debit, credit_account_id: credit, amount: '7', currency: 'USD' },
        { debit_account_id: credit, credit_account_id: debit, amount: '3', currency: 'USD' },
      ],
    },
    { 'Idempotency-Key': 'fuzz-fixture-batch' },
  );
  expect(batch.status).toBe(202);
  const batchBody = batch.body as { batch_id: string; items: { id: string }[] };
  const unclosableTransfer = await submitTransfer(
    api,
    { debit: unclosableAccounts[0] ?? '', credit: unclosableAccounts[1] ?? '', amount: '5' },
    'fuzz-fixture-unclosable',
  );
  expect((await api.post(`/v1/accounts/${closedAccount}/close`, {})).status).toBe(200);
  fixtures = {
    apiKey: runtime.apiKey,
    transferAccounts,
    velocityAccounts,
    transferIds: [firstTransfer, pendingTransfer],
    batchIds: [batchBody.batch_id],
    freezeAccounts,
    closeAccounts,
    closedAccount,
    unclosableAccounts,
    assetFiles: await readdir(path.join(projectRoot, 'dashboard/dist/assets')),
  };
  for (const account of fixtureAccounts(fixtures)) made.accounts.add(account);
  made.transfers.set(firstTransfer, { velocityAccountId: debit, queuedRecord: true });
  made.transfers.set(pendingTransfer, { velocityAccountId: debit, queuedRecord: true });
  made.transfers.set(unclosableTransfer, { velocityAccountId: unclosableAccounts[0], queuedRecord: true });
  made.transfers.set(batchBody.items[0]?.id ?? '', { velocityAccountId: debit, queuedRecord: false });
  made.transfers.set(batchBody.items[1]?.id ?? '', { velocityAccountId: credit, queuedRecord: false });
  for (const key of ['fuzz-fixture', 'fuzz-fixture-hold', 'fuzz-fixture-batch', 'fuzz-fixture-unclosable'])
    made.requestKeys.add(key);
  made.accountActions.set(closedAccount, { freeze: 0, unfreeze: 0, close: 1 });
  // The routes' answers depend on these being recorded: the batch's progress, and the balance
  // that keeps the unclosable accounts open.
  await waitForRecorded([...made.transfers.keys()]);
  agent = new http.Agent({ keepAlive: true, maxSockets: httpClientCount });
}, 120_000);

afterAll(async () => {
  agent?.destroy();
  await runtime?.stop();
});

/** Waits until the ledger recorded every one of these transfers. */
async function waitForRecorded(transferIds: readonly string[]): Promise<void> {
  await waitFor(
    `${transferIds.length} accepted transfers recorded`,
    async () => {
      const { rows } = await database.pool.query<{ count: number }>(
        'select count(*)::int as count from ledger.transfers where id = any($1::uuid[])',
        [transferIds],
      );
      return rows[0]?.count === transferIds.length ? true : undefined;
    },
    90_000,
  );
}

/** A request body as JSON, or undefined when it is not (only a batch's is read, after a 202). */
function parsedRequestBody(text: string | undefined): unknown {
  try {
    return text === undefined || text.trim() === '' ? undefined : JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Remembers what a 2xx answer made. */
function recordEffect(
  routeName: string | undefined,
  status: number,
  body: Buffer,
  idempotencyKey: string | undefined,
  requestText: string | undefined,
): void {
  if (
    status === 200 &&
    (routeName === 'freeze-account' || routeName === 'unfreeze-account' || routeName === 'close-account')
  ) {
    const { id } = JSON.parse(body.toString('utf8')) as { id: string };
    const counts = made.accountActions.get(id) ?? { freeze: 0, unfreeze: 0, close: 0 };
    const action =
      routeName === 'freeze-account' ? 'freeze' : routeName === 'unfreeze-account' ? 'unfreeze' : 'close';
    counts[action] += 1;
    made.accountActions.set(id, counts);
  }
  if (
    status === 202 &&
    (routeName === 'post-pending-transfer' ||
      routeName === 'void-pending-transfer' ||
      routeName === 'reverse-transfer')
  ) {
    const command = JSON.parse(body.toString('utf8')) as { id: string; reverses: string | null };
    // A reversal counts in the window of the reversed transfer's credit account, if it exists:
    // every fixture transfer credits `transferAccounts[1]`.
    const reversesKnown = command.reverses !== null && fixtures.transferIds.includes(command.reverses);
    made.transfers.set(command.id, {
      velocityAccountId: reversesKnown ? fixtures.transferAccounts[1] : undefined,
      queuedRecord: true,
    });
    made.requestKeys.add(idempotencyKey ?? '');
  }
  if (status === 202 && routeName === 'submit-transfer-batch') {
    const answer = JSON.parse(body.toString('utf8')) as {
      batch_id: string | null;
      items: { index: number; status: string; id?: string }[];
    };
    const request = parsedRequestBody(requestText) as { transfers: { debit_account_id?: string }[] };
    for (const item of answer.items) {
      if (item.status !== 'queued' || item.id === undefined) continue;
      made.transfers.set(item.id, {
        velocityAccountId: request.transfers[item.index]?.debit_account_id,
        queuedRecord: false,
      });
    }
    // A batch answered without being submitted (no item valid) recorded nothing under its key.
    if (answer.batch_id !== null) made.requestKeys.add(idempotencyKey ?? '');
  }
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
    made.transfers.set(transfer.id, { velocityAccountId: transfer.debit_account_id, queuedRecord: true });
    made.requestKeys.add(idempotencyKey ?? '');
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
  await waitForRecorded(acceptedIds);
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
  const withQueuedRecord = [...made.transfers]
    .filter(([, transfer]) => transfer.queuedRecord)
    .map(([id]) => id);
  // A velocity item exists for each account a transfer was admitted for, and for each account
  // given limits of its own by a 2xx; for no other account.
  const velocityAccounts = velocityItems.map((key) => key.replace(/^limits#/, ''));
  const withVelocity = new Set([
    ...[...made.transfers.values()].flatMap((transfer) =>
      transfer.velocityAccountId === undefined ? [] : [transfer.velocityAccountId],
    ),
    ...made.ownLimits,
  ]);

  expect(new Set(accountIds)).toEqual(made.accounts);
  expect(new Set(transferIds)).toEqual(new Set(acceptedIds));
  expect(queueDepths).toEqual([0, 0]);
  expect(poison).toBe(0);
  expect(new Set(queuedRecords)).toEqual(new Set(withQueuedRecord));
  expect(requestRecords).toHaveLength(made.requestKeys.size);
  expect(velocityAccounts).toHaveLength(new Set(velocityAccounts).size);
  expect(new Set(velocityAccounts)).toEqual(withVelocity);
  expect(await accountStateFaults()).toEqual([]);
}

/**
 * What is wrong with the accounts' states and their recorded changes, given the 200 answers of
 * freeze, unfreeze and close (a refused action, or one that changed nothing, records no change).
 * An account that was both frozen and unfrozen by requests in flight together may end either way:
 * the answers do not show which change took effect last. So for those the check is that the
 * changes alternate from open, that there are no more of each than answers, that there is one
 * if there was an answer, and that the account's state is the last change's.
 */
async function accountStateFaults(): Promise<string[]> {
  const changes = (
    await database.pool.query<{ account_id: string; action: string; status: string }>(
      'select account_id, action, status from ledger.account_changes order by change_number',
    )
  ).rows;
  const statuses = new Map(
    (
      await database.pool.query<{ id: string; status: string }>('select id, status from ledger.accounts')
    ).rows.map((row) => [row.id, row.status]),
  );
  const faults: string[] = [];
  for (const [account, status] of statuses) {
    const history = changes.filter((change) => change.account_id === account);
    const answered = made.accountActions.get(account) ?? { freeze: 0, unfreeze: 0, close: 0 };
    const count = (action: string): number => history.filter((change) => change.action === action).length;
    const expectedLast = history.at(-1)?.status ?? 'open';
    if (status !== expectedLast)
      faults.push(`${account} is ${status}; its last change left it ${expectedLast}`);
    if (count('close') !== (answered.close > 0 ? 1 : 0))
      faults.push(`${account} closed ${count('close')} times after ${answered.close} answers`);
    if (count('freeze') > answered.freeze || answered.freeze > 0 !== count('freeze') > 0)
      faults.push(`${account} frozen ${count('freeze')} times after ${answered.freeze} answers`);
    if (count('unfreeze') > answered.unfreeze)
      faults.push(`${account} unfrozen ${count('unfreeze')} times after ${answered.unfreeze} answers`);
    const alternates = history
      .filter((change) => change.action !== 'close')
      .every((change, index) => change.action === (index % 2 === 0 ? 'freeze' : 'unfreeze'));
    if (!alternates) faults.push(`${account} has changes that do not alternate: ${JSON.stringify(history)}`);
  }
  return faults;
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
          recordEffect(
            request.routeName,
            answer.status,
            answer.body,
            request.idempotencyKey,
            request.body?.toString('utf8'),
          );
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
        if (!(answer instanceof Error)) {
          const { body, isBase64Encoded } = call.event;
          const requestText =
            body === null ? undefined : isBase64Encoded ? Buffer.from(body, 'base64').toString('utf8') : body;
          recordEffect(call.route.name, answer.status, answer.body, call.idempotencyKey, requestText);
        }
      }),
      { seed: 20_261_132, numRuns: directCallCount },
    );

    expect(faultSummary()).toEqual([]);
    await expectOnlyWhatWasAnswered();
  }, 300_000);
});
