import { GetItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  DeleteQueueCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import getTransferFunction from '../../functions/get-transfer';
import submitTransferFunction from '../../functions/submit-transfer';
import { localAwsSettings } from '../../infra/local/aws';
import { lambdaContext } from '../../infra/local/lambda-context';
import { PostgresLedgerStore } from '../../shared/adapters/postgres/ledger-store';
import { transferAcceptedResponseSchema, transferResponseSchema } from '../../shared/api/schemas';
import type { AccountId } from '../../shared/domain/ids';
import { parseTransferMessage, type TransferCommand, toTransferMessage } from '../../shared/domain/transfer';
import { requestBodyBytesMax } from '../../shared/handlers/http';
import { type AwsClients, awsClients, type Wiring } from '../../shared/wiring';
import {
  apiEvent,
  type ParsedResponse,
  parseResponse,
  type TestWiringOptions,
  testWiring,
} from '../support/api';
import { useTestAws } from '../support/aws';
import { useTestDatabase } from '../support/database';
import { createAccount } from '../support/factories';
import { startTcpProxy } from '../support/tcp-proxy';

const createGetTransfer = (wiring: Wiring) => getTransferFunction.build(wiring);
const createSubmitTransfer = (wiring: Wiring) => submitTransferFunction.build(wiring);

const database = useTestDatabase();
const aws = useTestAws();

/** A closed port: every call to it is refused at once. */
const closedEndpoint = 'http://127.0.0.1:9';

interface CountingClients extends AwsClients {
  /** SendMessage calls made through this SQS client, whether they succeeded or not. */
  readonly sendCount: () => number;
  /** Every AWS call made through these clients since the last `resetCalls`, in order. */
  readonly calls: () => string[];
  readonly resetCalls: () => void;
}

/**
 * Fresh SDK clients on the test's AWS endpoint whose calls are recorded (one per call, however
 * many attempts the SDK made), and whose SendMessage calls are counted: the count of times the
 * submission's body ran, since the queue's deduplication would hide a second send.
 * `sqsEndpoint` points SQS elsewhere (a closed port) to make the send fail.
 */
function countingClients(options: { readonly sqsEndpoint?: string; readonly loseSendAnswer?: boolean } = {}) {
  const clients = awsClients(localAwsSettings(aws.endpoint));
  const sqs = options.sqsEndpoint ? awsClients(localAwsSettings(options.sqsEndpoint)).sqs : clients.sqs;
  const calls: string[] = [];
  const recordCalls = {
    name: 'recordCalls',
    step: 'initialize',
  } as const;
  clients.dynamo.middlewareStack.add(
    (next, context) => async (args) => {
      calls.push(callName(context.commandName ?? '', args.input as Record<string, unknown>));
      return next(args);
    },
    recordCalls,
  );
  sqs.middlewareStack.add(
    (next, context) => async (args) => {
      calls.push(callName(context.commandName ?? '', args.input as Record<string, unknown>));
      return next(args);
    },
    recordCalls,
  );
  let sends = 0;
  sqs.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== 'SendMessageCommand') return next(args);
      sends += 1;
      const output = await next(args);
      // The message is queued, but the caller never learns it (a timeout on the way back).
      if (options.loseSendAnswer) throw new Error('test: the answer to SendMessage was lost');
      return output;
    },
    { step: 'initialize', name: 'countSends' },
  );
  return {
    ...clients,
    sqs,
    sendCount: () => sends,
    calls: () => [...calls],
    resetCalls: () => {
      calls.length = 0;
    },
  } satisfies CountingClients;
}

/** A call as the tests list it: the operation, and which of the test's tables or queues it touched. */
function callName(commandName: string, input: Record<string, unknown>): string {
  const operation = commandName.replace(/Command$/, '');
  const tables: Record<string, string> = {
    [aws.resources.tableNames.idempotency]: 'idempotency',
    [aws.resources.tableNames.velocity]: 'velocity',
  };
  if (typeof input.TableName === 'string')
    return `${operation} ${tables[input.TableName] ?? input.TableName}`;
  if (Array.isArray(input.TransactItems)) {
    const touched = input.TransactItems.map((item: Record<string, { TableName?: string }>) => {
      const [kind, request] = Object.entries(item)[0] ?? [];
      return `${kind} ${tables[request?.TableName ?? ''] ?? request?.TableName}`;
    });
    return `${operation} [${touched.join(', ')}]`;
  }
  return operation;
}

function dependencies(clients: AwsClients, overrides: TestWiringOptions = {}): Wiring {
  return testWiring(database.pool, { clients, resources: aws.resources, ...overrides });
}

async function submit(
  handler: ReturnType<typeof createSubmitTransfer>,
  body: unknown,
  headers: Record<string, string>,
  apiKeyId?: string | null,
): Promise<ParsedResponse> {
  return parseResponse(
    await handler(
      apiEvent({
        method: 'POST',
        resource: '/v1/transfers',
        body,
        headers,
        ...(apiKeyId === undefined ? {} : { apiKeyId }),
      }),
    ),
  );
}

async function getTransfer(id: string): Promise<ParsedResponse> {
  const handler = createGetTransfer(dependencies(aws.clients));
  return parseResponse(
    await handler(apiEvent({ method: 'GET', resource: '/v1/transfers/{id}', pathParameters: { id } })),
  );
}

/** A fresh idempotency key per request the test means to be new. */
const newKey = (): string => `key-${crypto.randomUUID()}`;

async function accounts(): Promise<{ debit: AccountId; credit: AccountId }> {
  return { debit: await createAccount(database.pool), credit: await createAccount(database.pool) };
}

function transferBody(debit: string, credit: string, overrides: Record<string, unknown> = {}) {
  return {
    debit_account_id: debit,
    credit_account_id: credit,
    amount: '1050',
    currency: 'USD',
    metadata: { invoice: 'INV-1' },
    ...overrides,
  };
}

interface ReceivedMessage {
  readonly groupId: string | undefined;
  readonly deduplicationId: string | undefined;
  readonly transfer: TransferCommand;
}

/**
 * Takes every visible message off the transfers queue and returns those of the given message
 * group (each test uses its own debit account, so its own group). Bounded: the queue holds only
 * what this file sent.
 */
async function drainGroup(sqs: SQSClient, groupId: string): Promise<ReceivedMessage[]> {
  const received: ReceivedMessage[] = [];
  for (let round = 0; round < 20; round += 1) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: aws.resources.queueUrls.transfers,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
        MessageSystemAttributeNames: ['All'],
      }),
    );
    if (Messages.length === 0) break;
    for (const message of Messages) {
      await sqs.send(
        new DeleteMessageCommand({
          QueueUrl: aws.resources.queueUrls.transfers,
          ReceiptHandle: message.ReceiptHandle,
        }),
      );
      if (message.Attributes?.MessageGroupId !== groupId) continue;
      const parsed = parseTransferMessage(message.Body ?? '');
      if (!parsed.ok) throw new Error(`test: the queued message is not a transfer: ${parsed.reason}`);
      received.push({
        groupId: message.Attributes?.MessageGroupId,
        deduplicationId: message.Attributes?.MessageDeduplicationId,
        transfer: parsed.value,
      });
    }
  }
  return received;
}

async function itemCount(table: string): Promise<number> {
  const { Count } = await aws.clients.dynamo.send(new ScanCommand({ TableName: table, Select: 'COUNT' }));
  return Count ?? 0;
}

/** How many transfers the debit account's open window counts (undefined: it never had one). */
async function windowCount(accountId: string): Promise<number | undefined> {
  const { Item } = await aws.clients.dynamo.send(
    new GetItemCommand({
      TableName: aws.resources.tableNames.velocity,
      Key: { pk: { S: `limits#${accountId}` } },
      ConsistentRead: true,
    }),
  );
  const count = Item?.transfer_count?.N;
  return count === undefined ? undefined : Number.parseInt(count, 10);
}

/** The happy path's calls: the key held (and its transfer id reserved), admitted, sent, completed. */
const happyPathCalls = [
  'UpdateItem idempotency',
  'UpdateItem velocity',
  'SendMessage',
  'TransactWriteItems [Update idempotency, Put idempotency]',
];

async function storedCounts(): Promise<{ idempotency: number; velocity: number }> {
  return {
    idempotency: await itemCount(aws.resources.tableNames.idempotency),
    velocity: await itemCount(aws.resources.tableNames.velocity),
  };
}

describe('POST /v1/transfers', () => {
  it('accepts a transfer with 202, queues it once in its debit account group, and records it', async () => {
    const { debit, credit } = await accounts();
    const clients = countingClients();
    const handler = createSubmitTransfer(dependencies(clients));

    const response = await submit(handler, transferBody(debit, credit), { 'Idempotency-Key': newKey() });

    expect(response.status).toBe(202);
    const accepted = transferAcceptedResponseSchema.parse(response.body);
    expect(accepted).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-7/),
      status: 'queued',
      debit_account_id: debit,
      credit_account_id: credit,
      amount: '1050',
      currency: 'USD',
      metadata: { invoice: 'INV-1' },
      accepted_at: expect.stringMatching(/Z$/),
      kind: 'transfer',
      timeout_s: null,
      pending_id: null,
      reverses: null,
    });
    expect(response.headers.location).toBe(`/v1/transfers/${accepted.id}`);
    const messages = await drainGroup(aws.clients.sqs, debit);
    expect(messages).toHaveLength(1);
    expect(messages[0]?.deduplicationId).toBe(accepted.id);
    expect(messages[0]?.transfer).toEqual({
      id: accepted.id,
      debitAccountId: debit,
      creditAccountId: credit,
      amount: 1050n,
      currency: 'USD',
      metadata: { invoice: 'INV-1' },
      acceptedAt: accepted.accepted_at,
    });
    expect(clients.sendCount()).toBe(1);
  });

  it('carries an amount above 2^53 exactly, as a string', async () => {
    const { debit, credit } = await accounts();
    const handler = createSubmitTransfer(dependencies(countingClients()));
    const amount = '9223372036854775807';

    const response = await submit(handler, transferBody(debit, credit, { amount }), {
      'Idempotency-Key': newKey(),
    });

    expect(response.status).toBe(202);
    expect(response.body.amount).toBe(amount);
    const [message] = await drainGroup(aws.clients.sqs, debit);
    expect(message?.transfer.amount).toBe(2n ** 63n - 1n);
  });

  const debitId = '0192f6a4-1d2e-4c3b-8a9f-0123456789ab';
  const creditId = '0192f6a4-1d2e-4c3b-8a9f-0123456789ac';
  const badBodies: readonly { readonly name: string; readonly body: unknown; readonly field: string }[] = [
    {
      name: 'a missing debit account',
      body: transferBody(debitId, creditId, { debit_account_id: undefined }),
      field: 'debit_account_id',
    },
    {
      name: 'a debit account that is not a UUID',
      body: transferBody(debitId, creditId, { debit_account_id: 'acc-1' }),
      field: 'debit_account_id',
    },
    {
      name: 'an upper-case credit account',
      body: transferBody(debitId, creditId, { credit_account_id: creditId.toUpperCase() }),
      field: 'credit_account_id',
    },
    {
      name: 'the nil UUID as credit account',
      body: transferBody(debitId, creditId, { credit_account_id: '00000000-0000-0000-0000-000000000000' }),
      field: 'credit_account_id',
    },
    {
      name: 'the debit account as credit account',
      body: transferBody(debitId, creditId, { credit_account_id: debitId }),
      field: 'credit_account_id',
    },
    {
      name: 'a missing amount',
      body: transferBody(debitId, creditId, { amount: undefined }),
      field: 'amount',
    },
    {
      name: 'an amount as a JSON number',
      body: transferBody(debitId, creditId, { amount: 1050 }),
      field: 'amount',
    },
    { name: 'a zero amount', body: transferBody(debitId, creditId, { amount: '0' }), field: 'amount' },
    { name: 'a negative amount', body: transferBody(debitId, creditId, { amount: '-5' }), field: 'amount' },
    {
      name: 'a fractional amount',
      body: transferBody(debitId, creditId, { amount: '10.50' }),
      field: 'amount',
    },
    {
      name: 'an amount with a leading zero',
      body: transferBody(debitId, creditId, { amount: '01' }),
      field: 'amount',
    },
    {
      name: 'an amount in exponent form',
      body: transferBody(debitId, creditId, { amount: '1e3' }),
      field: 'amount',
    },
    {
      name: 'an amount above 2^63-1',
      body: transferBody(debitId, creditId, { amount: '9223372036854775808' }),
      field: 'amount',
    },
    {
      name: 'an amount of 20 digits',
      body: transferBody(debitId, creditId, { amount: '10000000000000000000' }),
      field: 'amount',
    },
    {
      name: 'a missing currency',
      body: transferBody(debitId, creditId, { currency: undefined }),
      field: 'currency',
    },
    {
      name: 'an unknown currency',
      body: transferBody(debitId, creditId, { currency: 'ABC' }),
      field: 'currency',
    },
    {
      name: 'metadata that is a string',
      body: transferBody(debitId, creditId, { metadata: 'x' }),
      field: 'metadata',
    },
    {
      name: 'metadata over 4096 bytes',
      body: transferBody(debitId, creditId, { metadata: { x: 'y'.repeat(4100) } }),
      field: 'metadata',
    },
    { name: 'an unknown field', body: transferBody(debitId, creditId, { memo: 'rent' }), field: 'memo' },
    {
      name: 'an id chosen by the client',
      body: transferBody(debitId, creditId, { id: debitId }),
      field: 'id',
    },
  ];

  for (const { name, body, field } of badBodies) {
    it(`refuses ${name} with 400 naming ${field}, and stores and sends nothing`, async () => {
      const clients = countingClients();
      const handler = createSubmitTransfer(dependencies(clients));
      const before = await storedCounts();

      const response = await submit(handler, body, { 'Idempotency-Key': newKey() });

      expect(response.status).toBe(400);
      expect(response.headers['content-type']).toBe('application/problem+json');
      expect(response.body).toMatchObject({
        type: 'https://ledgerx.dev/problems/validation',
        status: 400,
        field,
      });
      expect(clients.sendCount()).toBe(0);
      expect(await storedCounts()).toEqual(before);
    });
  }

  it('refuses malformed JSON with 400 "Malformed JSON", and stores nothing', async () => {
    const clients = countingClients();
    const handler = createSubmitTransfer(dependencies(clients));
    const before = await storedCounts();

    const response = await submit(handler, '{"amount": "1"', { 'Idempotency-Key': newKey() });

    expect(response.status).toBe(400);
    expect(response.body).toEqual({
      type: 'https://ledgerx.dev/problems/malformed-json',
      title: 'Malformed JSON',
      status: 400,
      detail: expect.any(String),
    });
    expect(clients.sendCount()).toBe(0);
    expect(await storedCounts()).toEqual(before);
  });

  it('refuses a body over 256 KiB with 413, and stores nothing', async () => {
    const clients = countingClients();
    const handler = createSubmitTransfer(dependencies(clients));
    const before = await storedCounts();
    const body = JSON.stringify(
      transferBody(debitId, creditId, { metadata: { x: 'y'.repeat(requestBodyBytesMax) } }),
    );

    const response = await submit(handler, body, { 'Idempotency-Key': newKey() });

    expect(response.status).toBe(413);
    expect(clients.sendCount()).toBe(0);
    expect(await storedCounts()).toEqual(before);
  });

  it('refuses a request without Idempotency-Key with 400 naming the header', async () => {
    const clients = countingClients();
    const handler = createSubmitTransfer(dependencies(clients));
    const before = await storedCounts();

    const response = await submit(handler, transferBody(debitId, creditId), {});

    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ status: 400, field: 'Idempotency-Key' });
    expect(clients.sendCount()).toBe(0);
    expect(await storedCounts()).toEqual(before);
  });

  for (const [name, key] of [
    ['an empty key', ''],
    ['a key of 256 characters', 'k'.repeat(256)],
    ['a key with a non-ASCII character', 'clé-1'],
    ['a key with a control character', 'key\t1'],
  ] as const) {
    it(`refuses ${name} with 400 naming Idempotency-Key`, async () => {
      const handler = createSubmitTransfer(dependencies(countingClients()));

      const response = await submit(handler, transferBody(debitId, creditId), { 'Idempotency-Key': key });

      expect(response.status).toBe(400);
      expect(response.body.field).toBe('Idempotency-Key');
    });
  }

  it('reads the Idempotency-Key header whatever its case', async () => {
    const { debit, credit } = await accounts();
    const handler = createSubmitTransfer(dependencies(countingClients()));

    const response = await submit(handler, transferBody(debit, credit), { 'idempotency-key': newKey() });

    expect(response.status).toBe(202);
    await drainGroup(aws.clients.sqs, debit);
  });

  it('refuses a request without an API key identity with 401', async () => {
    const handler = createSubmitTransfer(dependencies(countingClients()));

    const response = await submit(
      handler,
      transferBody(debitId, creditId),
      { 'Idempotency-Key': newKey() },
      null,
    );

    expect(response.status).toBe(401);
  });

  it('answers a repeat of the same key and body with the same status and body, running once', async () => {
    const { debit, credit } = await accounts();
    const clients = countingClients();
    const handler = createSubmitTransfer(dependencies(clients));
    const key = newKey();

    const first = await submit(handler, transferBody(debit, credit), { 'Idempotency-Key': key });
    // The same body with its keys in another order is the same request.
    const { metadata, currency, amount, credit_account_id, debit_account_id } = transferBody(debit, credit);
    const second = await submit(
      handler,
      { metadata, currency, amount, credit_account_id, debit_account_id },
      { 'Idempotency-Key': key },
    );

    expect(first.status).toBe(202);
    expect(second.status).toBe(first.status);
    expect(second.body).toEqual(first.body);
    expect(second.raw.body).toBe(first.raw.body);
    expect(clients.sendCount()).toBe(1);
    expect(await drainGroup(aws.clients.sqs, debit)).toHaveLength(1);
  });

  it('keeps keys of different API keys apart', async () => {
    const { debit, credit } = await accounts();
    const handler = createSubmitTransfer(dependencies(countingClients()));
    const key = newKey();

    const first = await submit(
      handler,
      transferBody(debit, credit),
      { 'Idempotency-Key': key },
      'aaaaaaaaaaaaaaaa',
    );
    const second = await submit(
      handler,
      transferBody(debit, credit),
      { 'Idempotency-Key': key },
      'bbbbbbbbbbbbbbbb',
    );

    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    expect(second.body.id).not.toBe(first.body.id);
    expect(await drainGroup(aws.clients.sqs, debit)).toHaveLength(2);
  });

  it('refuses the same key with another body with 422, sending nothing more', async () => {
    const { debit, credit } = await accounts();
    const clients = countingClients();
    const handler = createSubmitTransfer(dependencies(clients));
    const key = newKey();

    const first = await submit(handler, transferBody(debit, credit), { 'Idempotency-Key': key });
    const second = await submit(handler, transferBody(debit, credit, { amount: '1051' }), {
      'Idempotency-Key': key,
    });

    expect(first.status).toBe(202);
    expect(second.status).toBe(422);
    expect(second.body).toMatchObject({
      type: 'https://ledgerx.dev/problems/idempotency-key-reused',
      status: 422,
      field: 'Idempotency-Key',
    });
    expect(clients.sendCount()).toBe(1);
    expect(await drainGroup(aws.clients.sqs, debit)).toHaveLength(1);
  });

  it('runs two racing requests with one key once: one 202 and one 409, or two identical 202s', async () => {
    const { debit, credit } = await accounts();
    const clients = countingClients();
    // Two handlers, as two Lambda instances would be, sharing nothing but AWS.
    const left = createSubmitTransfer(dependencies(clients));
    const right = createSubmitTransfer(dependencies(clients));
    const key = newKey();

    const responses = await Promise.all([
      submit(left, transferBody(debit, credit), { 'Idempotency-Key': key }),
      submit(right, transferBody(debit, credit), { 'Idempotency-Key': key }),
    ]);

    const statuses = responses.map((response) => response.status).sort();
    if (statuses[1] === 409) {
      expect(statuses).toEqual([202, 409]);
      expect(responses.find((response) => response.status === 409)?.body).toMatchObject({
        type: 'https://ledgerx.dev/problems/conflict',
      });
    } else {
      expect(statuses).toEqual([202, 202]);
      expect(responses[0]?.body).toEqual(responses[1]?.body);
    }
    expect(clients.sendCount()).toBe(1);
    expect(await drainGroup(aws.clients.sqs, debit)).toHaveLength(1);
  });

  it('answers 503 when the queue cannot be reached, and frees the key so a retry succeeds once', async () => {
    const { debit, credit } = await accounts();
    const key = newKey();
    const broken = countingClients({ sqsEndpoint: closedEndpoint });
    const working = countingClients();

    const failed = await submit(createSubmitTransfer(dependencies(broken)), transferBody(debit, credit), {
      'Idempotency-Key': key,
    });
    const retried = await submit(createSubmitTransfer(dependencies(working)), transferBody(debit, credit), {
      'Idempotency-Key': key,
    });
    const repeated = await submit(createSubmitTransfer(dependencies(working)), transferBody(debit, credit), {
      'Idempotency-Key': key,
    });

    expect(failed.status).toBe(503);
    expect(failed.body).toMatchObject({
      type: 'https://ledgerx.dev/problems/service-unavailable',
      status: 503,
    });
    expect(JSON.stringify(failed.body)).not.toMatch(/ECONNREFUSED|at .*\.ts/);
    expect(broken.sendCount()).toBe(1);
    // Nothing was queued, so the window's slot was given back: the retry is counted once.
    expect(await windowCount(debit)).toBe(1);
    expect(retried.status).toBe(202);
    expect(repeated.body).toEqual(retried.body);
    expect(working.sendCount()).toBe(1);
    const messages = await drainGroup(aws.clients.sqs, debit);
    expect(messages.map((message) => message.transfer.id)).toEqual([retried.body.id]);
  });

  it('keeps the transfer id when the send succeeded but its answer was lost, so it is queued once', async () => {
    const { debit, credit } = await accounts();
    const key = newKey();
    const lossy = countingClients({ loseSendAnswer: true });

    const failed = await submit(createSubmitTransfer(dependencies(lossy)), transferBody(debit, credit), {
      'Idempotency-Key': key,
    });
    const retried = await submit(
      createSubmitTransfer(dependencies(countingClients())),
      transferBody(debit, credit),
      { 'Idempotency-Key': key },
    );

    expect(failed.status).toBe(503);
    expect(failed.body).toMatchObject({ type: 'https://ledgerx.dev/problems/submission-outcome-unknown' });
    expect(failed.headers['retry-after']).toBe('1');
    expect(retried.status).toBe(202);
    // Both sends carried the same transfer id, and the queue kept one of them.
    const messages = await drainGroup(aws.clients.sqs, debit);
    expect(messages.map((message) => message.transfer.id)).toEqual([retried.body.id]);
  });

  it('makes four AWS calls on the happy path, one for a replay, and three for a velocity refusal', async () => {
    const { debit, credit } = await accounts();
    const clients = countingClients();
    const handler = createSubmitTransfer(
      dependencies(clients, { velocity: { windowS: 60, transferCountMax: 2, amountMax: undefined } }),
    );
    const key = newKey();

    const first = await submit(handler, transferBody(debit, credit), { 'Idempotency-Key': key });
    const firstCalls = clients.calls();
    clients.resetCalls();
    const second = await submit(handler, transferBody(debit, credit), { 'Idempotency-Key': newKey() });
    const secondCalls = clients.calls();
    clients.resetCalls();
    const replay = await submit(handler, transferBody(debit, credit), { 'Idempotency-Key': key });
    const replayCalls = clients.calls();
    clients.resetCalls();
    const refused = await submit(handler, transferBody(debit, credit), { 'Idempotency-Key': newKey() });
    const refusedCalls = clients.calls();

    expect([first.status, second.status, replay.status, refused.status]).toEqual([202, 202, 202, 429]);
    // The account's first transfer opens its window; the second counts in it.
    expect(firstCalls).toEqual(happyPathCalls);
    expect(secondCalls).toEqual(happyPathCalls);
    // A replay is answered from the record the in-progress put found.
    expect(replayCalls).toEqual(['UpdateItem idempotency']);
    // Held, refused by the full window, released.
    expect(refusedCalls).toEqual(['UpdateItem idempotency', 'UpdateItem velocity', 'UpdateItem idempotency']);
    await drainGroup(aws.clients.sqs, debit);
  });

  it('makes five calls when the queue refuses, and so does a retry on a fresh instance, whose first window write learns the window', async () => {
    const { debit, credit } = await accounts();
    const key = newKey();
    const broken = countingClients({ sqsEndpoint: closedEndpoint });
    const working = countingClients();

    const failed = await submit(createSubmitTransfer(dependencies(broken)), transferBody(debit, credit), {
      'Idempotency-Key': key,
    });
    const retried = await submit(createSubmitTransfer(dependencies(working)), transferBody(debit, credit), {
      'Idempotency-Key': key,
    });

    expect([failed.status, retried.status]).toEqual([503, 202]);
    // Held, admitted, refused by the queue, the slot given back, the key released.
    expect(broken.calls()).toEqual([
      'UpdateItem idempotency',
      'UpdateItem velocity',
      'SendMessage',
      'UpdateItem velocity',
      'UpdateItem idempotency',
    ]);
    // This instance had not seen the account: its guess (open a window) fails and tells it the
    // window is open, so it counts in it. An instance that has seen the account makes four.
    expect(working.calls()).toEqual([
      'UpdateItem idempotency',
      'UpdateItem velocity',
      'UpdateItem velocity',
      'SendMessage',
      'TransactWriteItems [Update idempotency, Put idempotency]',
    ]);
    await drainGroup(aws.clients.sqs, debit);
  });

  it('gives the velocity slot back when the queue refuses the send (deleted), and counts the retry once', async () => {
    const { debit, credit } = await accounts();
    const key = newKey();
    const { QueueUrl: goneUrl } = await aws.clients.sqs.send(
      new CreateQueueCommand({
        QueueName: `${aws.namePrefix}gone-${crypto.randomUUID().slice(0, 8)}.fifo`,
        Attributes: { FifoQueue: 'true' },
      }),
    );
    await aws.clients.sqs.send(new DeleteQueueCommand({ QueueUrl: goneUrl }));
    const clients = countingClients();
    const deps = dependencies(clients);

    const failed = await submit(
      createSubmitTransfer(
        dependencies(clients, {
          resources: {
            ...aws.resources,
            queueUrls: { ...aws.resources.queueUrls, transfers: goneUrl ?? '' },
          },
        }),
      ),
      transferBody(debit, credit),
      { 'Idempotency-Key': key },
    );
    const countAfterFailure = await windowCount(debit);
    const retried = await submit(createSubmitTransfer(deps), transferBody(debit, credit), {
      'Idempotency-Key': key,
    });

    expect(failed.status).toBe(503);
    expect(failed.body).toMatchObject({ type: 'https://ledgerx.dev/problems/service-unavailable' });
    expect(countAfterFailure).toBe(0);
    expect(retried.status).toBe(202);
    expect(await windowCount(debit)).toBe(1);
    const messages = await drainGroup(aws.clients.sqs, debit);
    expect(messages.map((message) => message.transfer.id)).toEqual([retried.body.id]);
  });

  it('answers 202 when the idempotency record cannot be completed after the send; a retry meanwhile is told it is in progress', async () => {
    const { debit, credit } = await accounts();
    const moto = new URL(aws.endpoint);
    const proxy = await startTcpProxy(moto.hostname, Number.parseInt(moto.port, 10));
    try {
      const viaProxy = awsClients(localAwsSettings(`http://127.0.0.1:${proxy.port}`));
      const clients = countingClients();
      // Once the send has returned, DynamoDB goes away: the completion cannot be written.
      clients.sqs.middlewareStack.add(
        (next, context) => async (args) => {
          const output = await next(args);
          if (context.commandName === 'SendMessageCommand') await proxy.cut();
          return output;
        },
        { step: 'initialize', name: 'cutDynamoAfterSend' },
      );
      const key = newKey();

      const accepted = await submit(
        createSubmitTransfer(dependencies({ ...clients, dynamo: viaProxy.dynamo })),
        transferBody(debit, credit),
        { 'Idempotency-Key': key },
      );
      const retried = await submit(
        createSubmitTransfer(dependencies(countingClients())),
        transferBody(debit, credit),
        {
          'Idempotency-Key': key,
        },
      );

      expect(accepted.status).toBe(202);
      expect(transferAcceptedResponseSchema.parse(accepted.body)).toMatchObject({
        status: 'queued',
        amount: '1050',
      });
      expect(retried.status).toBe(409);
      const messages = await drainGroup(aws.clients.sqs, debit);
      expect(messages.map((message) => message.transfer.id)).toEqual([accepted.body.id]);
    } finally {
      await proxy.close();
    }
  });

  it('answers a handler timeout with submission-outcome-unknown and Retry-After; a retry under the same key gives the definite answer', async () => {
    const { debit, credit } = await accounts();
    const moto = new URL(aws.endpoint);
    const proxy = await startTcpProxy(moto.hostname, Number.parseInt(moto.port, 10));
    try {
      const slowSqs = awsClients(localAwsSettings(`http://127.0.0.1:${proxy.port}`)).sqs;
      const handler = createSubmitTransfer(dependencies({ ...countingClients(), sqs: slowSqs }));
      const key = newKey();
      const event = apiEvent({
        method: 'POST',
        resource: '/v1/transfers',
        body: transferBody(debit, credit),
        headers: { 'Idempotency-Key': key },
      });
      proxy.hold();

      // An invocation with one second left: the send does not answer within it.
      const timedOut = parseResponse(await handler(event, lambdaContext('submit-transfer', 1, 512)));
      proxy.release();
      const retry = createSubmitTransfer(dependencies(countingClients()));
      let definite = await submit(retry, transferBody(debit, credit), { 'Idempotency-Key': key });
      // The first attempt finishes once its send is answered; until then the key is in progress.
      for (let round = 0; round < 50 && definite.status === 409; round += 1) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        definite = await submit(retry, transferBody(debit, credit), { 'Idempotency-Key': key });
      }

      expect(timedOut.status).toBe(503);
      expect(timedOut.headers['content-type']).toBe('application/problem+json');
      expect(timedOut.body).toMatchObject({
        type: 'https://ledgerx.dev/problems/submission-outcome-unknown',
        status: 503,
        detail: expect.stringMatching(/may have been queued.*same Idempotency-Key/),
      });
      expect(timedOut.headers['retry-after']).toBe('10');
      expect(definite.status).toBe(202);
      const messages = await drainGroup(aws.clients.sqs, debit);
      expect(messages.map((message) => message.transfer.id)).toEqual([definite.body.id]);
    } finally {
      await proxy.close();
    }
  });

  it('refuses a retry with another body after a failure under the same key with 422', async () => {
    const { debit, credit } = await accounts();
    const key = newKey();

    const failed = await submit(
      createSubmitTransfer(dependencies(countingClients({ sqsEndpoint: closedEndpoint }))),
      transferBody(debit, credit),
      { 'Idempotency-Key': key },
    );
    const other = await submit(
      createSubmitTransfer(dependencies(countingClients())),
      transferBody(debit, credit, { amount: '1' }),
      { 'Idempotency-Key': key },
    );

    expect(failed.status).toBe(503);
    expect(other.status).toBe(422);
    expect(await drainGroup(aws.clients.sqs, debit)).toHaveLength(0);
  });
});

describe('GET /v1/transfers/{id}', () => {
  it('shows a transfer queued, then posted with its timeline, then its event published', async () => {
    const { debit, credit } = await accounts();
    const handler = createSubmitTransfer(dependencies(countingClients()));
    const accepted = await submit(handler, transferBody(debit, credit), { 'Idempotency-Key': newKey() });
    const id = String(accepted.body.id);

    const queued = await getTransfer(id);

    expect(queued.status).toBe(200);
    expect(transferResponseSchema.parse(queued.body)).toEqual({
      ...accepted.body,
      status: 'queued',
      reason: null,
      processed_at: null,
      pending: null,
      reversals: [],
      reversed_amount: '0',
      timeline: [
        { step: 'accepted', at: accepted.body.accepted_at },
        { step: 'idempotency_checked', at: accepted.body.accepted_at },
        { step: 'velocity_checked', at: expect.stringMatching(/Z$/) },
        { step: 'queued', at: expect.stringMatching(/Z$/) },
      ],
      fraud: { status: 'pending', score: null, reasons: [] },
      dead_letter: null,
    });

    const [message] = await drainGroup(aws.clients.sqs, debit);
    if (message === undefined) throw new Error('test: the transfer was not queued');
    const receivedAt = new Date();
    const { results } = await new PostgresLedgerStore(database.pool).postBatch(
      [message.transfer],
      [],
      receivedAt,
    );
    expect(results).toEqual(['posted']);

    const posted = transferResponseSchema.parse((await getTransfer(id)).body);

    expect(posted).toMatchObject({ id, status: 'posted', reason: null, amount: '1050' });
    expect(posted.processed_at).toMatch(/Z$/);
    expect(posted.timeline.map((step) => step.step)).toEqual([
      'accepted',
      'idempotency_checked',
      'velocity_checked',
      'queued',
      'picked_up',
      'posted',
      'outbox_written',
    ]);
    expect(posted.timeline[4]?.at).toBe(receivedAt.toISOString());
    expect(posted.timeline[5]?.at).toBe(posted.processed_at);
    // The outbox row is written in the transaction that records the transfer.
    expect(posted.timeline[6]?.at).toBe(posted.processed_at);
    const times = posted.timeline.map((step) => step.at);
    expect(times).toEqual([...times].sort());

    await database.pool.query('update ledger.outbox set published_at = now() where transfer_id = $1', [id]);
    const published = transferResponseSchema.parse((await getTransfer(id)).body);

    expect(published.timeline.map((step) => step.step)).toEqual([
      'accepted',
      'idempotency_checked',
      'velocity_checked',
      'queued',
      'picked_up',
      'posted',
      'outbox_written',
      'event_published',
    ]);
  });

  it('says a queued transfer waits in the dead-letter queue, and stops saying so once the ledger decides it', async () => {
    const { debit, credit } = await accounts();
    const wiring = dependencies(countingClients());
    const accepted = await submit(createSubmitTransfer(wiring), transferBody(debit, credit), {
      'Idempotency-Key': newKey(),
    });
    const id = String(accepted.body.id);
    const [message] = await drainGroup(aws.clients.sqs, debit);
    if (message === undefined) throw new Error('test: the transfer was not queued');

    const noted = await wiring.services.deadLetters.noteRecords([
      {
        messageId: 'test-message',
        body: JSON.stringify(toTransferMessage(message.transfer)),
        receiveCount: 20,
      },
    ]);
    const deadLettered = transferResponseSchema.parse((await getTransfer(id)).body);
    await new PostgresLedgerStore(database.pool).postBatch([message.transfer], []);
    const redriven = transferResponseSchema.parse((await getTransfer(id)).body);

    expect(noted).toEqual({ notedCount: 1 });
    expect(deadLettered.status).toBe('queued');
    expect(deadLettered.dead_letter).toEqual({ at: expect.stringMatching(/Z$/), receive_count: 20 });
    expect(redriven.status).toBe('posted');
    expect(redriven.dead_letter).toBeNull();
  });

  it('shows a rejected transfer with its reason', async () => {
    const debit = await createAccount(database.pool);
    const missingCredit = '0192f6a4-1d2e-4c3b-8a9f-00000000beef';
    const handler = createSubmitTransfer(dependencies(countingClients()));
    const accepted = await submit(handler, transferBody(debit, missingCredit), {
      'Idempotency-Key': newKey(),
    });
    const [message] = await drainGroup(aws.clients.sqs, debit);
    if (message === undefined) throw new Error('test: the transfer was not queued');
    await new PostgresLedgerStore(database.pool).postBatch([message.transfer], []);

    const response = await getTransfer(String(accepted.body.id));

    expect(response.body).toMatchObject({ status: 'rejected', reason: 'credit_account_not_found' });
    expect((response.body.timeline as { step: string }[]).map((step) => step.step)).toEqual([
      'accepted',
      'idempotency_checked',
      'velocity_checked',
      'queued',
      'picked_up',
      'rejected',
      'outbox_written',
    ]);
  });

  it('answers a posted transfer from the ledger when DynamoDB is unreachable, and 503 for a queued one', async () => {
    const { debit, credit } = await accounts();
    const handler = createSubmitTransfer(dependencies(countingClients()));
    const posted = await submit(handler, transferBody(debit, credit), { 'Idempotency-Key': newKey() });
    const [message] = await drainGroup(aws.clients.sqs, debit);
    if (message === undefined) throw new Error('test: the transfer was not queued');
    await new PostgresLedgerStore(database.pool).postBatch([message.transfer], []);
    const queued = await submit(handler, transferBody(credit, debit), { 'Idempotency-Key': newKey() });
    await drainGroup(aws.clients.sqs, credit);
    const working = awsClients(localAwsSettings(aws.endpoint));
    const cutOff = createGetTransfer(
      dependencies({ ...working, dynamo: awsClients(localAwsSettings(closedEndpoint)).dynamo }),
    );
    const read = async (id: unknown) =>
      parseResponse(
        await cutOff(
          apiEvent({ method: 'GET', resource: '/v1/transfers/{id}', pathParameters: { id: String(id) } }),
        ),
      );

    const fromLedger = await read(posted.body.id);
    const unknowable = await read(queued.body.id);

    expect(fromLedger.status).toBe(200);
    expect(fromLedger.body.status).toBe('posted');
    expect((fromLedger.body.timeline as { step: string }[]).map((step) => step.step)).toEqual([
      'accepted',
      'picked_up',
      'posted',
      'outbox_written',
    ]);
    expect(unknowable.status).toBe(503);
  });

  it('answers 404 for a transfer nobody submitted', async () => {
    const response = await getTransfer('0192f6a4-1d2e-7c3b-8a9f-0123456789ab');

    expect(response.status).toBe(404);
    expect(response.body).toMatchObject({ type: 'https://ledgerx.dev/problems/not-found' });
  });

  it('answers 400 naming id for an id that is not a UUID', async () => {
    const response = await getTransfer('12345');

    expect(response.status).toBe(400);
    expect(response.body.field).toBe('id');
  });
});
