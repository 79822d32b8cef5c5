import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import {
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  type SendMessageBatchCommand,
  type SendMessageBatchCommandOutput,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import getTransferBatchFunction from '../../functions/get-transfer-batch';
import submitTransferBatchFunction from '../../functions/submit-transfer-batch';
import { localAwsSettings } from '../../infra/local/aws';
import { SqsTransferBatchQueue } from '../../shared/adapters/aws/transfer-batch-queue';
import { PostgresLedgerStore } from '../../shared/adapters/postgres/ledger-store';
import { transferBatchBodyBytesMax, transferBatchResponseSchema } from '../../shared/api/schemas';
import { parseQueuedPosting } from '../../shared/domain/atomic-set';
import { type AccountId, newAccountId } from '../../shared/domain/ids';
import { parseTransferMessage, type TransferCommand } from '../../shared/domain/transfer';
import type { VelocityLimits } from '../../shared/domain/velocity';
import { TransferBatchNotQueuedError } from '../../shared/ports/batch-submission';
import { PostingService } from '../../shared/services/posting-service';
import { type AwsClients, awsClients, type Wiring } from '../../shared/wiring';
import { apiEvent, type ParsedResponse, parseResponse, silentLogger, testWiring } from '../support/api';
import { useTestAws } from '../support/aws';
import { useTestDatabase } from '../support/database';
import { createAccount, fund, transferFactory } from '../support/factories';

const database = useTestDatabase();
const aws = useTestAws();

const liftedVelocity: VelocityLimits = { windowS: 60, transferCountMax: 1_000, amountMax: undefined };

/** A fresh idempotency key per request the test means to be new. */
const newKey = (): string => `key-${crypto.randomUUID()}`;

interface RecordingClients extends AwsClients {
  /** Every AWS call made through these clients, in order: operation and table. */
  readonly calls: () => string[];
}

/**
 * SDK clients on the test's AWS endpoint that record their calls. `fault` runs before each call
 * is sent and may throw (the call is refused) or return 'lose-answer' (the call is made, and its
 * answer lost on the way back, as a timeout would).
 */
function recordingClients(
  fault: (operation: string, input: Record<string, unknown>) => 'lose-answer' | undefined = () => undefined,
): RecordingClients {
  const clients = awsClients(localAwsSettings(aws.endpoint));
  const calls: string[] = [];
  const tables: Record<string, string> = {
    [aws.resources.tableNames.idempotency]: 'idempotency',
    [aws.resources.tableNames.velocity]: 'velocity',
  };
  const recordCalls = {
    name: 'recordCalls',
    step: 'initialize',
  } as const;
  const record = async <Output>(
    commandName: string | undefined,
    input: Record<string, unknown>,
    proceed: () => Promise<Output>,
  ): Promise<Output> => {
    const operation = (commandName ?? '').replace(/Command$/, '');
    const table = typeof input.TableName === 'string' ? ` ${tables[input.TableName] ?? input.TableName}` : '';
    calls.push(`${operation}${table}`);
    const planned = fault(operation, input);
    const output = await proceed();
    if (planned === 'lose-answer') throw new Error(`test: the answer to ${operation} was lost`);
    return output;
  };
  clients.dynamo.middlewareStack.add(
    (next, context) => (args) =>
      record(context.commandName, args.input as Record<string, unknown>, () => next(args)),
    recordCalls,
  );
  clients.sqs.middlewareStack.add(
    (next, context) => (args) =>
      record(context.commandName, args.input as Record<string, unknown>, () => next(args)),
    recordCalls,
  );
  return { ...clients, calls: () => [...calls] };
}

function handlerWith(clients: AwsClients, velocity: VelocityLimits = liftedVelocity) {
  const wiring: Wiring = testWiring(database.pool, { clients, resources: aws.resources, velocity });
  return submitTransferBatchFunction.build(wiring);
}

async function submitBatch(
  handler: ReturnType<typeof handlerWith>,
  body: unknown,
  idempotencyKey: string,
): Promise<ParsedResponse> {
  return parseResponse(
    await handler(
      apiEvent({
        method: 'POST',
        resource: '/v1/transfers/batch',
        body,
        headers: { 'Idempotency-Key': idempotencyKey },
      }),
    ),
  );
}

function item(debit: string, credit: string, overrides: Record<string, unknown> = {}) {
  return { debit_account_id: debit, credit_account_id: credit, amount: '100', currency: 'USD', ...overrides };
}

async function accounts(count: number): Promise<AccountId[]> {
  return Promise.all(Array.from({ length: count }, () => createAccount(database.pool)));
}

interface QueuedMessage {
  readonly groupId: string | undefined;
  readonly deduplicationId: string | undefined;
  readonly transfer: TransferCommand;
}

/** A message as it sat on the transfers queue: its group, deduplication id and raw body. */
interface RawQueuedMessage {
  readonly groupId: string | undefined;
  readonly deduplicationId: string | undefined;
  readonly body: string;
}

/**
 * Takes every visible message off the transfers queue, in the order SQS hands them out (each
 * message group in its order), and returns those of the given groups, raw. Bounded by
 * `roundCountMax`.
 */
async function drainGroupsRaw(groups: readonly string[], roundCountMax: number): Promise<RawQueuedMessage[]> {
  const wanted = new Set(groups);
  const received: RawQueuedMessage[] = [];
  for (let round = 0; round < roundCountMax; round += 1) {
    const { Messages = [] } = await aws.clients.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: aws.resources.queueUrls.transfers,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
        MessageSystemAttributeNames: ['All'],
      }),
    );
    if (Messages.length === 0) break;
    await aws.clients.sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: aws.resources.queueUrls.transfers,
        Entries: Messages.map((message, index) => ({
          Id: String(index),
          ReceiptHandle: message.ReceiptHandle,
        })),
      }),
    );
    for (const message of Messages) {
      if (!wanted.has(message.Attributes?.MessageGroupId ?? '')) continue;
      received.push({
        groupId: message.Attributes?.MessageGroupId,
        deduplicationId: message.Attributes?.MessageDeduplicationId,
        body: message.Body ?? '',
      });
    }
  }
  return received;
}

/** `drainGroupsRaw`, each message read as a transfer (a message that is none fails the test). */
async function drainGroups(groups: readonly string[], roundCountMax = 400): Promise<QueuedMessage[]> {
  return (await drainGroupsRaw(groups, roundCountMax)).map(({ groupId, deduplicationId, body }) => {
    const parsed = parseTransferMessage(body);
    if (!parsed.ok) throw new Error(`test: the queued message is not a transfer: ${parsed.reason}`);
    return { groupId, deduplicationId, transfer: parsed.value };
  });
}

/** How many transfers, and how much, the debit account's window counts. */
async function window(accountId: string): Promise<{ count: string; total: string } | undefined> {
  const { Item } = await aws.clients.dynamo.send(
    new GetItemCommand({
      TableName: aws.resources.tableNames.velocity,
      Key: { pk: { S: `limits#${accountId}` } },
      ConsistentRead: true,
    }),
  );
  if (Item?.transfer_count?.N === undefined) return undefined;
  return { count: Item.transfer_count.N, total: Item.amount_total?.N ?? '' };
}

function sorted(calls: readonly string[]): string[] {
  return [...calls].sort();
}

describe('POST /v1/transfers/batch', () => {
  it('answers each item in order, queued under its own id or refused with its own problem, and queues ten per call', async () => {
    const [first, second, third, credit] = await accounts(4);
    if (first === undefined || second === undefined || third === undefined || credit === undefined)
      throw new Error('test: four accounts');
    const debits = [
      ...Array.from({ length: 11 }, () => first),
      ...Array.from({ length: 8 }, () => second),
      ...Array.from({ length: 6 }, () => third),
    ];
    const body = {
      transfers: debits.map((debit, index) => {
        if (index === 3) return item(debit, credit, { amount: '12.5' });
        if (index === 12) return item(debit, credit, { colour: 'red' });
        if (index === 20) return 'not a transfer';
        return item(debit, credit, { amount: String(100 + index), metadata: { line: index } });
      }),
    };
    const clients = recordingClients();

    const response = await submitBatch(handlerWith(clients), body, newKey());

    expect(response.status).toBe(202);
    const answer = transferBatchResponseSchema.parse(response.body);
    expect(answer).toMatchObject({ queued_count: 22, refused_count: 3 });
    expect(answer.accepted_at).toMatch(/Z$/);
    expect(answer.items.map((result) => result.index)).toEqual(debits.map((_, index) => index));
    expect(answer.items[3]).toEqual({
      index: 3,
      status: 'refused',
      problem: {
        type: 'https://ledgerx.dev/problems/validation',
        title: 'Invalid request',
        status: 400,
        detail: 'transfers.3.amount: must be a decimal string of minor units, like "1050"',
        field: 'transfers.3.amount',
      },
    });
    expect(answer.items[12]?.problem?.field).toBe('transfers.12.colour');
    expect(answer.items[20]?.problem).toMatchObject({ status: 400, field: 'transfers.20' });
    const queuedIds = answer.items.flatMap((result) => (result.status === 'queued' ? [result.id] : []));
    expect(new Set(queuedIds).size).toBe(22);
    // Time-ordered ids that ascend in item order.
    expect([...queuedIds].sort()).toEqual(queuedIds);

    const messages = await drainGroups([first, second, third]);
    expect(messages).toHaveLength(22);
    for (const message of messages) expect(message.deduplicationId).toBe(message.transfer.id);
    // Each debit account's transfers were queued in their batch order.
    for (const account of [first, second, third]) {
      const expected = answer.items.flatMap((result, index) =>
        result.status === 'queued' && debits[index] === account ? [result.id] : [],
      );
      expect(
        messages.filter((message) => message.groupId === account).map((message) => message.transfer.id),
      ).toEqual(expected);
    }
    const line7 = messages.find((message) => message.transfer.id === answer.items[7]?.id)?.transfer;
    expect(line7).toEqual({
      id: answer.items[7]?.id,
      debitAccountId: first,
      creditAccountId: credit,
      amount: 107n,
      currency: 'USD',
      metadata: { line: 7 },
      acceptedAt: answer.accepted_at,
    });
    // The key held, one write per debit account, the decision recorded, three sends, the completion.
    expect(sorted(clients.calls())).toEqual(
      sorted([
        'UpdateItem idempotency',
        'UpdateItem velocity',
        'UpdateItem velocity',
        'UpdateItem velocity',
        'UpdateItem idempotency',
        'SendMessageBatch',
        'SendMessageBatch',
        'SendMessageBatch',
        'UpdateItem idempotency',
      ]),
    );
    // Items 0 to 10 (100 + index minor units each), but item 3, which was invalid.
    expect(await window(first)).toEqual({ count: '10', total: String(11 * 100 + 55 - 103) });
  });

  it('answers a repeat with the same answer and sends nothing again; another body under the key is 422', async () => {
    const [debit, credit] = await accounts(2);
    if (debit === undefined || credit === undefined) throw new Error('test: two accounts');
    const body = { transfers: [item(debit, credit), item(debit, credit, { amount: '7' })] };
    const key = newKey();
    const first = await submitBatch(handlerWith(recordingClients()), body, key);
    const clients = recordingClients();

    const replay = await submitBatch(handlerWith(clients), body, key);
    const reordered = await submitBatch(
      handlerWith(clients),
      { transfers: [item(debit, credit, { amount: '7' }), item(debit, credit)] },
      key,
    );

    expect(first.status).toBe(202);
    expect(replay.status).toBe(202);
    expect(replay.body).toEqual(first.body);
    expect(clients.calls()).toEqual(['UpdateItem idempotency', 'UpdateItem idempotency']);
    expect(reordered.status).toBe(422);
    expect(reordered.body).toMatchObject({ type: 'https://ledgerx.dev/problems/idempotency-key-reused' });
    expect(await drainGroups([debit])).toHaveLength(2);
  });

  it("counts each item in its debit account's window: items past it are refused with 429 and their retry time, the rest go on", async () => {
    const [limited, other, credit] = await accounts(3);
    if (limited === undefined || other === undefined || credit === undefined)
      throw new Error('test: three accounts');
    const body = {
      transfers: [
        item(limited, credit),
        item(other, credit),
        item(limited, credit),
        item(limited, credit),
        item(limited, credit),
        item(other, credit),
        item(limited, credit),
      ],
    };

    const response = await submitBatch(
      handlerWith(recordingClients(), { windowS: 60, transferCountMax: 3, amountMax: undefined }),
      body,
      newKey(),
    );

    expect(response.status).toBe(202);
    const answer = transferBatchResponseSchema.parse(response.body);
    expect(answer.items.map((result) => result.status)).toEqual([
      'queued',
      'queued',
      'queued',
      'queued',
      'refused',
      'queued',
      'refused',
    ]);
    expect(answer.items[4]).toEqual({
      index: 4,
      status: 'refused',
      problem: {
        type: 'https://ledgerx.dev/problems/velocity_exceeded',
        title: 'Velocity limit exceeded (velocity_exceeded)',
        status: 429,
        detail: expect.stringMatching(
          /^transfers\.4: the debit account may send at most 3 transfers within 60 s; its window admits it in (59|60) s/,
        ),
        field: 'transfers.4.debit_account_id',
      },
      retry_after_s: expect.any(Number),
    });
    expect(await window(limited)).toEqual({ count: '3', total: '300' });
    expect(await window(other)).toEqual({ count: '2', total: '200' });
    const messages = await drainGroups([limited, other]);
    expect(messages.map((message) => message.transfer.id).sort()).toEqual(
      answer.items.flatMap((result) => (result.id === undefined ? [] : [result.id])).sort(),
    );
  });

  it('completes a batch that failed part-way when retried under the same key: each transfer queued and counted once', async () => {
    const debits = await accounts(3);
    const [credit] = await accounts(1);
    if (credit === undefined) throw new Error('test: a credit account');
    const body = {
      transfers: Array.from({ length: 45 }, (_, index) =>
        item(debits[index % 3] ?? '', credit, { amount: String(index + 1) }),
      ),
    };
    const key = newKey();
    let sends = 0;
    // The third send reaches the queue, but its answer is lost; the sends after it are refused.
    const faulty = recordingClients((operation) => {
      if (operation !== 'SendMessageBatch') return undefined;
      sends += 1;
      if (sends === 3) return 'lose-answer';
      if (sends > 3) throw new Error('test: the queue is unreachable');
      return undefined;
    });

    const failed = await submitBatch(handlerWith(faulty), body, key);
    const retried = await submitBatch(handlerWith(recordingClients()), body, key);
    const replay = await submitBatch(handlerWith(recordingClients()), body, key);

    expect(failed.status).toBe(503);
    expect(failed.headers['retry-after']).toBe('1');
    expect(failed.body).toMatchObject({
      type: 'https://ledgerx.dev/problems/submission-outcome-unknown',
      detail: expect.stringContaining('retry with the same Idempotency-Key and body'),
    });
    expect(retried.status).toBe(202);
    expect(replay.body).toEqual(retried.body);
    const answer = transferBatchResponseSchema.parse(retried.body);
    expect(answer.queued_count).toBe(45);
    const messages = await drainGroups(debits);
    // Deduplicated by transfer id: every transfer once, however often it was sent.
    expect(messages.map((message) => message.transfer.id).sort()).toEqual(
      answer.items.map((result) => result.id).sort(),
    );
    // Counted by the first attempt only: the retry reused its recorded decision.
    for (const [position, debit] of debits.entries()) {
      const amounts = Array.from({ length: 15 }, (_, index) => BigInt(index * 3 + position + 1));
      expect(await window(debit)).toEqual({
        count: '15',
        total: amounts.reduce((sum, amount) => sum + amount, 0n).toString(),
      });
    }
  });

  it('sends nothing and gives every counted slot back when a window cannot be written', async () => {
    const [healthy, broken, credit] = await accounts(3);
    if (healthy === undefined || broken === undefined || credit === undefined)
      throw new Error('test: three accounts');
    const body = { transfers: [item(healthy, credit), item(healthy, credit), item(broken, credit)] };
    const key = newKey();
    const faulty = recordingClients((operation, input) => {
      const pk = (input.Key as { pk?: { S?: string } } | undefined)?.pk?.S;
      if (
        operation === 'UpdateItem' &&
        pk === `limits#${broken}` &&
        input.ConditionExpression !== undefined
      ) {
        const expression = String(input.UpdateExpression);
        // Only admissions fail (they add to the window or open one); a give-back subtracts.
        if (!expression.includes(':minus_count')) throw new Error('test: the velocity table is unreachable');
      }
      return undefined;
    });

    const failed = await submitBatch(handlerWith(faulty), body, key);
    const retried = await submitBatch(handlerWith(recordingClients()), body, key);

    expect(failed.status).toBe(503);
    expect(failed.body).toMatchObject({ type: 'https://ledgerx.dev/problems/service-unavailable' });
    expect(faulty.calls()).not.toContain('SendMessageBatch');
    expect(retried.status).toBe(202);
    expect(transferBatchResponseSchema.parse(retried.body).queued_count).toBe(3);
    // The healthy account's first count was given back, so its window holds the retry's two only.
    expect(await window(healthy)).toEqual({ count: '2', total: '200' });
    expect(await drainGroups([healthy, broken])).toHaveLength(3);
  });

  it('answers a batch without a valid item at once and touches nothing', async () => {
    const clients = recordingClients(() => {
      throw new Error('test: nothing may be called');
    });

    const response = await submitBatch(
      handlerWith(clients),
      { transfers: [{ amount: '1' }, item(newAccountId(), newAccountId(), { currency: 'XYZ' })] },
      newKey(),
    );

    expect(response.status).toBe(202);
    expect(response.body).toMatchObject({ accepted_at: null, queued_count: 0, refused_count: 2 });
    expect(clients.calls()).toEqual([]);
  });

  it('refuses a pending item in its place, naming transfers.i.pending, and queues the plain ones as they are', async () => {
    const [debit, credit] = await accounts(2);
    if (debit === undefined || credit === undefined) throw new Error('test: two accounts');

    const response = await submitBatch(
      handlerWith(recordingClients()),
      { transfers: [item(debit, credit), item(debit, credit, { pending: true, timeout_s: 60 })] },
      newKey(),
    );

    expect(response.status).toBe(202);
    expect(response.body).toMatchObject({
      queued_count: 1,
      refused_count: 1,
      items: [
        { index: 0, status: 'queued' },
        { index: 1, status: 'refused', problem: { status: 400, field: 'transfers.1.pending' } },
      ],
    });
    const queued = await drainGroups([debit]);
    expect(queued.map((message) => message.transfer.pending)).toEqual([undefined]);
  });

  it('refuses an item nested 20,000 deep in its place, queues the rest, and answers a repeat the same', async () => {
    const [debit, credit] = await accounts(2);
    if (debit === undefined || credit === undefined) throw new Error('test: two accounts');
    const deep = `${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}`;
    const body = `{"transfers":[${JSON.stringify(item(debit, credit))},${deep}]}`;
    const key = newKey();

    const first = await submitBatch(handlerWith(recordingClients()), body, key);
    const replay = await submitBatch(handlerWith(recordingClients()), body, key);

    expect(first.status).toBe(202);
    expect(first.body).toMatchObject({
      queued_count: 1,
      refused_count: 1,
      items: [
        { index: 0, status: 'queued' },
        { index: 1, status: 'refused', problem: { status: 400, field: 'transfers.1.debit_account_id' } },
      ],
    });
    expect(replay.body).toEqual(first.body);
    expect(await drainGroups([debit])).toHaveLength(1);
  });

  it('queues a batch of 1,000 transfers in 100 calls, and refuses 1,001 or none with 400 naming transfers', async () => {
    const debits = await accounts(4);
    const [credit] = await accounts(1);
    if (credit === undefined) throw new Error('test: a credit account');
    const transfers = Array.from({ length: 1_000 }, (_, index) => item(debits[index % 4] ?? '', credit));
    const clients = recordingClients();
    const handler = handlerWith(clients);

    const full = await submitBatch(handler, { transfers }, newKey());
    const tooMany = await submitBatch(handler, { transfers: [...transfers, transfers[0]] }, newKey());
    const none = await submitBatch(handler, { transfers: [] }, newKey());

    expect(full.status).toBe(202);
    expect(full.body).toMatchObject({ queued_count: 1_000, refused_count: 0 });
    expect(clients.calls().filter((call) => call === 'SendMessageBatch')).toHaveLength(100);
    expect(clients.calls()).not.toContain('SendMessage');
    expect(tooMany.status).toBe(400);
    expect(tooMany.body).toMatchObject({
      field: 'transfers',
      detail: 'transfers: must hold at most 1000 transfers',
    });
    expect(none.status).toBe(400);
    expect(none.body).toMatchObject({ field: 'transfers' });
    expect(await drainGroups(debits)).toHaveLength(1_000);
  });

  it(`takes a body up to ${transferBatchBodyBytesMax} bytes and answers 413 past it, before parsing`, async () => {
    const handler = handlerWith(recordingClients());
    const padding = 'x'.repeat(transferBatchBodyBytesMax);

    const response = await submitBatch(handler, `{"transfers":[],"padding":"${padding}"}`, newKey());

    expect(response.status).toBe(413);
    expect(response.body).toMatchObject({ type: 'https://ledgerx.dev/problems/payload-too-large' });
  });

  it('posts every queued item exactly once, however often the batch is retried', async () => {
    const [debit, credit] = await accounts(2);
    if (debit === undefined || credit === undefined) throw new Error('test: two accounts');
    const body = {
      transfers: Array.from({ length: 12 }, (_, index) => item(debit, credit, { amount: String(index + 1) })),
    };
    const key = newKey();
    await submitBatch(handlerWith(recordingClients()), body, key);
    const answer = transferBatchResponseSchema.parse(
      (await submitBatch(handlerWith(recordingClients()), body, key)).body,
    );
    const messages = await drainGroups([debit]);

    // Delivered twice (as a retry after the queue's deduplication window would): posted once.
    const store = new PostgresLedgerStore(database.pool);
    for (const round of [1, 2]) {
      const { results } = await store.postBatch(
        messages.map((message) => message.transfer),
        [],
      );
      expect(results).toEqual(Array.from({ length: 12 }, () => (round === 1 ? 'posted' : 'exists')));
    }
    const { rows } = await database.pool.query<{ id: string }>(
      'select id from ledger.transfers where debit_account_id = $1 order by id',
      [debit],
    );
    expect(rows.map((row) => row.id)).toEqual(answer.items.map((result) => result.id));
    const account = await database.pool.query<{ debits_posted: string }>(
      'select debits_posted::text from ledger.accounts where id = $1',
      [debit],
    );
    expect(account.rows[0]?.debits_posted).toBe('78');
  });
});

describe('GET /v1/transfers/batch/{id}', () => {
  it("counts the batch's transfers the ledger recorded, by outcome, and 404s an id that names no batch", async () => {
    const payer = await createAccount(database.pool, { debitsMustNotExceedCredits: true });
    const payee = await createAccount(database.pool);
    await fund(database.pool, payer, 25n);
    const body = {
      transfers: Array.from({ length: 5 }, (_, index) => item(payer, payee, { amount: String(10 + index) })),
    };
    const answer = transferBatchResponseSchema.parse(
      (await submitBatch(handlerWith(recordingClients()), body, newKey())).body,
    );
    const wiring = testWiring(database.pool, { clients: recordingClients(), resources: aws.resources });
    const progress = getTransferBatchFunction.build(wiring);
    const read = async (id: string) =>
      parseResponse(
        await progress(
          apiEvent({ method: 'GET', resource: '/v1/transfers/batch/{id}', pathParameters: { id } }),
        ),
      );
    const batchId = answer.batch_id ?? '';
    const before = await read(batchId);

    const messages = await drainGroups([payer]);
    // The first three are delivered: 10 and 11 fit the 25 funded, 12 does not.
    await new PostgresLedgerStore(database.pool).postBatch(
      messages.slice(0, 3).map((message) => message.transfer),
      [],
    );
    const after = await read(batchId);
    const notBatch = await read(answer.items[1]?.id ?? '');

    expect(before).toMatchObject({
      status: 200,
      body: { batch_id: batchId, posted_count: 0, rejected_count: 0, recorded_count: 0 },
    });
    expect(after.body).toEqual({ batch_id: batchId, posted_count: 2, rejected_count: 1, recorded_count: 3 });
    expect(notBatch.status).toBe(404);
  });
});

describe('POST /v1/transfers/batch with "atomic": true', () => {
  /** Takes every visible message of the group off the queue, raw: an atomic set is not a transfer. */
  async function drainRaw(group: string): Promise<{ body: string; deduplicationId: string | undefined }[]> {
    return (await drainGroupsRaw([group], 50)).map(({ body, deduplicationId }) => ({
      body,
      deduplicationId,
    }));
  }

  it("queues the legs as one message in the first debit account's group, and the consumer posts them together", async () => {
    const [buyer, seller, platform, tax] = await accounts(4);
    if (buyer === undefined || seller === undefined || platform === undefined || tax === undefined)
      throw new Error('test: four accounts');
    const body = {
      atomic: true,
      transfers: [
        item(buyer, seller, { amount: '900' }),
        item(buyer, platform, { amount: '70' }),
        item(seller, tax, { amount: '30' }),
      ],
    };
    const clients = recordingClients();

    const response = await submitBatch(handlerWith(clients), body, newKey());

    expect(response.status).toBe(202);
    const answer = transferBatchResponseSchema.parse(response.body);
    expect(answer).toMatchObject({ atomic: true, queued_count: 3, refused_count: 0 });
    expect(answer.batch_id).toBe(answer.items[0]?.id);
    expect(clients.calls().filter((call) => call.startsWith('Send'))).toEqual(['SendMessage']);
    const messages = await drainRaw(buyer);
    expect(messages).toHaveLength(1);
    expect(messages[0]?.deduplicationId).toBe(answer.batch_id);
    const parsed = parseQueuedPosting(messages[0]?.body ?? '');
    if (!parsed.ok || parsed.value.kind !== 'set') throw new Error('test: the message is an atomic set');
    expect(parsed.value.legs.map((leg) => leg.id)).toEqual(answer.items.map((result) => result.id));
    expect(await window(buyer)).toEqual({ count: '2', total: '970' });
    expect(await window(seller)).toEqual({ count: '1', total: '30' });

    const outcomes = await new PostingService(
      new PostgresLedgerStore(database.pool),
      silentLogger,
    ).postRecords([{ messageId: 'set', messageGroupId: buyer, body: messages[0]?.body ?? '' }]);
    expect(outcomes).toEqual([{ kind: 'decided_set', results: ['posted', 'posted', 'posted'] }]);
  });

  it('refuses every item when one is invalid: that one with its problem, the others linked_transfer_failed, nothing touched', async () => {
    const [debit, credit] = await accounts(2);
    if (debit === undefined || credit === undefined) throw new Error('test: two accounts');
    const clients = recordingClients(() => {
      throw new Error('test: nothing may be called');
    });

    const response = await submitBatch(
      handlerWith(clients),
      { atomic: true, transfers: [item(debit, credit), item(debit, credit, { amount: '-1' })] },
      newKey(),
    );

    expect(response.status).toBe(202);
    const answer = transferBatchResponseSchema.parse(response.body);
    expect(answer).toMatchObject({ batch_id: null, atomic: true, queued_count: 0, refused_count: 2 });
    expect(answer.items[0]).toEqual({
      index: 0,
      status: 'refused',
      problem: {
        type: 'https://ledgerx.dev/problems/linked_transfer_failed',
        title: 'Linked transfer failed (linked_transfer_failed)',
        status: 422,
        detail:
          'transfers.0: another transfer of this atomic batch was refused, so this one was too; nothing of the batch was queued',
        field: 'transfers.0',
      },
    });
    expect(answer.items[1]?.problem?.field).toBe('transfers.1.amount');
    expect(clients.calls()).toEqual([]);
  });

  it('refuses every item when a velocity window refuses one, and gives back what the others counted', async () => {
    const [limited, other, credit] = await accounts(3);
    if (limited === undefined || other === undefined || credit === undefined)
      throw new Error('test: three accounts');
    const body = {
      atomic: true,
      transfers: [item(other, credit), item(limited, credit), item(limited, credit)],
    };
    const key = newKey();

    const response = await submitBatch(
      handlerWith(recordingClients(), { windowS: 60, transferCountMax: 1, amountMax: undefined }),
      body,
      key,
    );
    const replay = await submitBatch(
      handlerWith(recordingClients(), { windowS: 60, transferCountMax: 1, amountMax: undefined }),
      body,
      key,
    );

    expect(response.status).toBe(202);
    const answer = transferBatchResponseSchema.parse(response.body);
    expect(answer.items.map((result) => result.problem?.type.split('/').pop())).toEqual([
      'linked_transfer_failed',
      'linked_transfer_failed',
      'velocity_exceeded',
    ]);
    expect(replay.body).toEqual(response.body);
    expect(await window(other)).toEqual({ count: '0', total: '0' });
    expect(await window(limited)).toEqual({ count: '0', total: '0' });
    expect(await drainRaw(limited)).toEqual([]);
    expect(await drainRaw(other)).toEqual([]);
  });

  it('refuses more than 100 items, and a set too large for one message, with 400 naming transfers', async () => {
    const [debit, credit] = await accounts(2);
    if (debit === undefined || credit === undefined) throw new Error('test: two accounts');
    const handler = handlerWith(recordingClients());
    const large = { blob: 'x'.repeat(3_900) };

    const tooMany = await submitBatch(
      handler,
      { atomic: true, transfers: Array.from({ length: 101 }, () => item(debit, credit)) },
      newKey(),
    );
    const tooLarge = await submitBatch(
      handler,
      { atomic: true, transfers: Array.from({ length: 70 }, () => item(debit, credit, { metadata: large })) },
      newKey(),
    );

    expect(tooMany.status).toBe(400);
    expect(tooMany.body).toMatchObject({
      field: 'transfers',
      detail: 'transfers: an atomic batch holds at most 100 transfers',
    });
    expect(tooLarge.status).toBe(400);
    expect(tooLarge.body).toMatchObject({
      field: 'transfers',
      detail: expect.stringMatching(
        /^transfers: an atomic batch travels as one queue message of at most 262144 bytes/,
      ),
    });
    expect(await window(debit)).toBeUndefined();
  });

  it('refuses the same items with and without atomic under one key as two requests (422)', async () => {
    const [debit, credit] = await accounts(2);
    if (debit === undefined || credit === undefined) throw new Error('test: two accounts');
    const key = newKey();
    const transfers = [item(debit, credit)];

    const plain = await submitBatch(handlerWith(recordingClients()), { transfers }, key);
    const atomic = await submitBatch(handlerWith(recordingClients()), { atomic: true, transfers }, key);

    expect(plain.status).toBe(202);
    expect(atomic.status).toBe(422);
    await drainGroups([debit]);
  });
});

describe('sending many transfers with SendMessageBatch', () => {
  /**
   * A client whose SendMessageBatch calls lose the named entries: they are taken out of the
   * request and answered as refused by SQS (`Failed`), while the rest go to the real queue.
   */
  function refusingClient(refuse: (call: number, transfer: TransferCommand) => boolean): {
    readonly sqs: SQSClient;
    readonly sentPerCall: () => number[];
  } {
    const { sqs } = awsClients(localAwsSettings(aws.endpoint));
    const sentPerCall: number[] = [];
    sqs.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== 'SendMessageBatchCommand') return next(args);
        const input = args.input as ConstructorParameters<typeof SendMessageBatchCommand>[0];
        const call = sentPerCall.length + 1;
        const entries = input.Entries ?? [];
        const refused = entries.filter((entry) => {
          const parsed = parseTransferMessage(entry.MessageBody ?? '');
          return parsed.ok && refuse(call, parsed.value);
        });
        sentPerCall.push(entries.length);
        const kept = entries.filter((entry) => !refused.includes(entry));
        const output =
          kept.length === 0
            ? ({ output: { Successful: [], Failed: [], $metadata: {} }, response: {} } as Awaited<
                ReturnType<typeof next>
              >)
            : await next({ ...args, input: { ...input, Entries: kept } });
        const answered = output.output as SendMessageBatchCommandOutput;
        return {
          ...output,
          output: {
            ...answered,
            Failed: refused.map((entry) => ({
              Id: entry.Id,
              SenderFault: false,
              Code: 'InternalError',
              Message: 'test: refused',
            })),
          },
        } as typeof output;
      },
      { step: 'initialize', name: 'refuseEntries' },
    );
    return { sqs, sentPerCall: () => [...sentPerCall] };
  }

  it('sends again, in calls of their own, the entries SQS refused, until each is queued once', async () => {
    const debitAccountId = newAccountId();
    const transfers = Array.from({ length: 10 }, () => transferFactory({ debitAccountId }));
    const refusedOnce = new Set([transfers[2]?.id, transfers[5]?.id]);
    const client = refusingClient((call, transfer) => call === 1 && refusedOnce.has(transfer.id));

    await new SqsTransferBatchQueue(client.sqs, aws.resources.queueUrls.transfers).sendAll(transfers);

    expect(client.sentPerCall()).toEqual([10, 2]);
    const messages = await drainGroups([debitAccountId]);
    expect(messages.map((message) => message.transfer.id).sort()).toEqual(transfers.map((t) => t.id).sort());
  });

  it('gives up after its bound on an entry SQS keeps refusing, naming it, and stops its account there', async () => {
    const debitAccountId = newAccountId();
    const transfers = Array.from({ length: 14 }, () => transferFactory({ debitAccountId }));
    const stubborn = transfers[1]?.id;
    const client = refusingClient((_call, transfer) => transfer.id === stubborn);

    const failure = await new SqsTransferBatchQueue(client.sqs, aws.resources.queueUrls.transfers)
      .sendAll(transfers)
      .catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(TransferBatchNotQueuedError);
    expect((failure as TransferBatchNotQueuedError).cause).toMatchObject({
      context: { refusedCount: 1, codes: ['InternalError'], transferIds: [stubborn] },
    });
    // The first call and three resends of the refused entry; the account's last four never went.
    expect(client.sentPerCall()).toEqual([10, 1, 1, 1]);
    expect(await drainGroups([debitAccountId])).toHaveLength(9);
  });
});
