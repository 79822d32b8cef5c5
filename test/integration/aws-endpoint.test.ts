import { request } from 'node:http';
import {
  GetItemCommand,
  PutItemCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  DeleteQueueCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { afterAll, describe, expect, it } from 'vitest';
import { useTestAws } from '../support/aws';

/**
 * The suite's AWS endpoint behaves as SQS does under the concurrency the local runtime puts on
 * it (infra/local/moto_server.py fixes moto where it did not), and keeps connections open.
 */
const aws = useTestAws();
const createdQueueUrls: string[] = [];

afterAll(async () => {
  for (const queueUrl of createdQueueUrls)
    await aws.clients.sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl }));
});

async function fifoQueue(name: string): Promise<string> {
  const { QueueUrl } = await aws.clients.sqs.send(
    new CreateQueueCommand({
      QueueName: `${aws.namePrefix}${name}.fifo`,
      Attributes: { FifoQueue: 'true', ContentBasedDeduplication: 'false', VisibilityTimeout: '60' },
    }),
  );
  if (QueueUrl === undefined) throw new Error('test: CreateQueue answered without a URL');
  createdQueueUrls.push(QueueUrl);
  return QueueUrl;
}

async function sendAll(
  queueUrl: string,
  messages: readonly { body: string; group: string }[],
): Promise<void> {
  for (let start = 0; start < messages.length; start += 10) {
    await aws.clients.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: messages.slice(start, start + 10).map((message, index) => ({
          Id: String(index),
          MessageBody: message.body,
          MessageGroupId: message.group,
          MessageDeduplicationId: message.body,
        })),
      }),
    );
  }
}

describe('the AWS endpoint under concurrency', () => {
  it('hands each FIFO message to one receiver only when receivers race', async () => {
    const queueUrl = await fifoQueue('race');
    const messages = Array.from({ length: 300 }, (_, index) => ({ body: `m${index}`, group: `g${index}` }));
    await sendAll(queueUrl, messages);

    // Thirty receivers of up to 10 messages race for the 300 messages, in two rounds.
    const received: string[] = [];
    for (let round = 0; round < 2; round++) {
      const answers = await Promise.all(
        Array.from({ length: 30 }, () =>
          aws.clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10 })),
        ),
      );
      for (const answer of answers)
        for (const message of answer.Messages ?? []) received.push(message.Body ?? '');
    }

    expect(new Set(received).size).toBe(received.length);
    expect(received.sort()).toEqual(messages.map((message) => message.body).sort());
  });

  it("holds a FIFO group while its message is in flight, and a long poll gets the group's next one once it is deleted", async () => {
    const queueUrl = await fifoQueue('group');
    await sendAll(queueUrl, [
      { body: 'first', group: 'account' },
      { body: 'second', group: 'account' },
    ]);
    const first = await aws.clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 1 }),
    );
    expect(first.Messages?.map((message) => message.Body)).toEqual(['first']);

    const held = await aws.clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10 }),
    );
    const polling = aws.clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 10 }),
    );
    await aws.clients.sqs.send(
      new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: first.Messages?.[0]?.ReceiptHandle }),
    );
    const next = await polling;

    expect(held.Messages ?? []).toEqual([]);
    expect(next.Messages?.map((message) => message.Body)).toEqual(['second']);
  });

  it('drops a FIFO message sent again with the same deduplication id', async () => {
    const queueUrl = await fifoQueue('dedup');
    for (let attempt = 0; attempt < 3; attempt++) {
      await aws.clients.sqs.send(
        new SendMessageCommand({
          QueueUrl: queueUrl,
          MessageBody: 'transfer',
          MessageGroupId: 'account',
          MessageDeduplicationId: 'transfer-id',
        }),
      );
    }

    const answer = await aws.clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10 }),
    );

    expect(answer.Messages?.map((message) => message.Body)).toEqual(['transfer']);
  });

  it('cancels a TransactWriteItems whole when one condition fails, writing none of its items', async () => {
    const table = aws.resources.tableNames.idempotency;
    const id = (name: string) => ({ id: { S: `${aws.namePrefix}transact-${name}` } });
    await aws.clients.dynamo.send(
      new PutItemCommand({ TableName: table, Item: { ...id('held'), version: { N: '1' } } }),
    );
    await aws.clients.dynamo.send(
      new PutItemCommand({ TableName: table, Item: { ...id('taken'), version: { N: '1' } } }),
    );

    const cancelled = await aws.clients.dynamo
      .send(
        new TransactWriteItemsCommand({
          TransactItems: [
            {
              Update: {
                TableName: table,
                Key: id('held'),
                UpdateExpression: 'SET version = :two',
                ExpressionAttributeValues: { ':two': { N: '2' } },
              },
            },
            { Put: { TableName: table, Item: { ...id('new'), version: { N: '1' } } } },
            {
              Put: {
                TableName: table,
                Item: { ...id('taken'), version: { N: '9' } },
                ConditionExpression: 'attribute_not_exists(id)',
              },
            },
          ],
        }),
      )
      .catch((error: unknown) => error);
    const read = async (name: string) =>
      (
        await aws.clients.dynamo.send(
          new GetItemCommand({ TableName: table, Key: id(name), ConsistentRead: true }),
        )
      ).Item;

    expect(cancelled).toBeInstanceOf(TransactionCanceledException);
    expect(
      (cancelled as TransactionCanceledException).CancellationReasons?.map((reason) => reason.Code),
    ).toEqual(['None', 'None', 'ConditionalCheckFailed']);
    expect((await read('held'))?.version).toEqual({ N: '1' });
    expect(await read('new')).toBeUndefined();
    expect((await read('taken'))?.version).toEqual({ N: '1' });
  });

  it('keeps the connection open between calls, as AWS endpoints do', async () => {
    // Two calls on one socket: a server that answers `Connection: close` makes the SDK open a new
    // connection (and moto a new thread) for every call.
    const endpoint = new URL(aws.endpoint);
    const answer = await new Promise<{ connection: string | undefined; status: number }>(
      (resolve, reject) => {
        const call = request(
          {
            host: endpoint.hostname,
            port: endpoint.port,
            method: 'GET',
            path: '/',
            headers: { connection: 'keep-alive' },
          },
          (response) => {
            response.resume();
            response.on('end', () =>
              resolve({ connection: response.headers.connection, status: response.statusCode ?? 0 }),
            );
          },
        );
        call.on('error', reject);
        call.end();
      },
    );

    expect(answer.connection).not.toBe('close');
  });
});
