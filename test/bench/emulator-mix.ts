/**
 * `npm run bench:emulator`: how fast the local AWS emulator serves the submission path's call mix,
 * without the API in front of it. A thin SDK driver plays, per transfer, the four calls a
 * submission makes on its happy path, and the consumer's receive and delete:
 *
 * 1. UpdateItem on the idempotency table (the record, in progress, reserving the transfer id),
 *    conditional on the key being new or expired;
 * 2. UpdateItem on the debit account's velocity item, conditional on the window admitting one more;
 * 3. SendMessage to the transfers FIFO queue (group: the debit account; deduplication: the id);
 * 4. TransactWriteItems: the idempotency record completed and the transfer's record, one table;
 * then consumers ReceiveMessage (10, long poll) and DeleteMessageBatch.
 *
 * It starts its own moto (infra/local/moto_server.py) unless AWS_ENDPOINT_URL names an endpoint,
 * runs `--duration-s` with `--workers` submitting at once and `--consumers` receiving, and prints
 * transfers/s, call latency percentiles and CPU ms per transfer of moto and of this process.
 * Usage: npm run bench:emulator -- [--duration-s 20] [--workers 32] [--consumers 4] [--accounts 200] [--json]
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { localAwsSettings, startAwsEndpoint } from '../../infra/local/aws';
import { awsClients } from '../../shared/wiring';
import { cpuBetween, sampleCpu } from '../load/cpu';
import { quantile } from '../load/ledger-api';

/** Velocity: at most this many transfers per debit account per window (lifted, as a load run does). */
const velocityCountMax = 1_000_000;
const velocityWindowS = 60;
/** Share of transfers on the one hot debit account, in percent. */
const hotSharePercent = 10;
const receiveWaitS = 1;

function integer(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!/^[1-9]\d{0,5}$/.test(value)) throw new Error(`--${name} must be a whole number from 1`);
  return Number.parseInt(value, 10);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'duration-s': { type: 'string' },
      workers: { type: 'string' },
      consumers: { type: 'string' },
      accounts: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  const durationS = integer(values['duration-s'], 20, 'duration-s');
  const workerCount = integer(values.workers, 32, 'workers');
  const consumerCount = integer(values.consumers, 4, 'consumers');
  const accountCount = integer(values.accounts, 200, 'accounts');

  const aws = await startAwsEndpoint();
  try {
    const { dynamo, sqs } = awsClients(localAwsSettings(aws.endpoint));
    const prefix = `bench-${randomUUID().slice(0, 8)}`;
    const table = `${prefix}-idempotency`;
    const velocityTable = `${prefix}-velocity`;
    for (const name of [table, velocityTable]) {
      await dynamo.send(
        new CreateTableCommand({
          TableName: name,
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
          KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        }),
      );
    }
    const { QueueUrl: queueUrl } = await sqs.send(
      new CreateQueueCommand({
        QueueName: `${prefix}-transfers.fifo`,
        Attributes: { FifoQueue: 'true', ContentBasedDeduplication: 'false', VisibilityTimeout: '60' },
      }),
    );
    if (queueUrl === undefined) throw new Error('CreateQueue answered without a URL');
    const accounts = Array.from({ length: accountCount }, () => randomUUID());
    const hotAccount = accounts[0] as string;

    const latencies: Record<string, number[]> = { idempotency: [], velocity: [], send: [], complete: [] };
    const timed = async <T>(name: string, call: () => Promise<T>): Promise<T> => {
      const startedAt = performance.now();
      try {
        return await call();
      } finally {
        latencies[name]?.push(performance.now() - startedAt);
      }
    };
    let submitted = 0;
    let received = 0;
    let failures = 0;
    const deadline = Date.now() + durationS * 1000;

    const submitOne = async (): Promise<void> => {
      const key = randomUUID();
      const transferId = randomUUID();
      const debit =
        Math.random() * 100 < hotSharePercent
          ? hotAccount
          : (accounts[Math.floor(Math.random() * accountCount)] as string);
      const nowS = Math.floor(Date.now() / 1000);
      await timed('idempotency', () =>
        dynamo.send(
          new UpdateItemCommand({
            TableName: table,
            Key: { id: { S: `key#${key}` } },
            UpdateExpression:
              'SET #status = :inProgress, #expiration = :expiration, #transferId = :transferId',
            ConditionExpression: 'attribute_not_exists(#id) OR #expiration < :now',
            ExpressionAttributeNames: {
              '#id': 'id',
              '#status': 'status',
              '#expiration': 'expiration',
              '#transferId': 'transfer_id',
            },
            ExpressionAttributeValues: {
              ':inProgress': { S: 'INPROGRESS' },
              ':expiration': { N: String(nowS + 86_400) },
              ':transferId': { S: transferId },
              ':now': { N: String(nowS) },
            },
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        ),
      );
      const windowStart = nowS - (nowS % velocityWindowS);
      await timed('velocity', () =>
        dynamo.send(
          new UpdateItemCommand({
            TableName: velocityTable,
            Key: { id: { S: `velocity#${debit}#${windowStart}` } },
            UpdateExpression: 'ADD #count :one SET #expiresAt = :expiresAt',
            ConditionExpression: 'attribute_not_exists(#count) OR #count < :max',
            ExpressionAttributeNames: { '#count': 'count', '#expiresAt': 'expires_at' },
            ExpressionAttributeValues: {
              ':one': { N: '1' },
              ':max': { N: String(velocityCountMax) },
              ':expiresAt': { N: String(windowStart + 2 * velocityWindowS) },
            },
          }),
        ),
      );
      await timed('send', () =>
        sqs.send(
          new SendMessageCommand({
            QueueUrl: queueUrl,
            MessageBody: JSON.stringify({ id: transferId, debit, amount: '100' }),
            MessageGroupId: debit,
            MessageDeduplicationId: transferId,
          }),
        ),
      );
      await timed('complete', () =>
        dynamo.send(
          new TransactWriteItemsCommand({
            TransactItems: [
              {
                Update: {
                  TableName: table,
                  Key: { id: { S: `key#${key}` } },
                  UpdateExpression: 'SET #status = :completed, #response = :response',
                  ConditionExpression: '#status = :inProgress',
                  ExpressionAttributeNames: { '#status': 'status', '#response': 'response' },
                  ExpressionAttributeValues: {
                    ':completed': { S: 'COMPLETED' },
                    ':inProgress': { S: 'INPROGRESS' },
                    ':response': { S: JSON.stringify({ id: transferId, status: 'queued' }) },
                  },
                },
              },
              {
                Put: {
                  TableName: table,
                  Item: {
                    id: { S: `transfer#${transferId}` },
                    status: { S: 'queued' },
                    expiration: { N: String(nowS + 86_400) },
                  },
                  ConditionExpression: 'attribute_not_exists(id)',
                },
              },
            ],
          }),
        ),
      );
      submitted++;
    };

    const worker = async (): Promise<void> => {
      while (Date.now() < deadline) {
        try {
          await submitOne();
        } catch (error) {
          if (!(error instanceof ConditionalCheckFailedException)) failures++;
        }
      }
    };
    const consumer = async (): Promise<void> => {
      while (Date.now() < deadline + receiveWaitS * 1000) {
        const { Messages = [] } = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: receiveWaitS,
          }),
        );
        if (Messages.length === 0) continue;
        await sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: Messages.map((message, index) => ({
              Id: String(index),
              ReceiptHandle: message.ReceiptHandle,
            })),
          }),
        );
        received += Messages.length;
      }
    };

    const motoPid = aws.pid;
    const cpuBefore = sampleCpu(motoPid);
    const startedAt = performance.now();
    await Promise.all([
      ...Array.from({ length: workerCount }, worker),
      ...Array.from({ length: consumerCount }, consumer),
    ]);
    const elapsedS = (performance.now() - startedAt) / 1000;
    const cpuAfter = sampleCpu(motoPid);
    const cpuMsPerTransfer: Record<string, number> = {};
    if (cpuBefore !== undefined && cpuAfter !== undefined) {
      for (const [label, seconds] of cpuBetween(cpuBefore, cpuAfter))
        cpuMsPerTransfer[label === 'load driver' ? 'driver (node)' : label] =
          Math.round(((seconds * 1000) / Math.max(1, submitted)) * 100) / 100;
    }
    const percentiles = Object.fromEntries(
      Object.entries(latencies).map(([name, values]) => {
        const sorted = [...values].sort((left, right) => left - right);
        return [
          name,
          {
            p50: Math.round(quantile(sorted, 0.5) * 10) / 10,
            p99: Math.round(quantile(sorted, 0.99) * 10) / 10,
          },
        ];
      }),
    );
    const report = {
      endpoint: aws.owned ? 'moto (own)' : aws.endpoint,
      workers: workerCount,
      consumers: consumerCount,
      duration_s: Math.round(elapsedS * 10) / 10,
      transfers_per_s: Math.round((submitted / elapsedS) * 10) / 10,
      calls_per_s: Math.round(((submitted * 4) / elapsedS) * 10) / 10,
      received,
      failures,
      latency_ms: percentiles,
      cpu_ms_per_transfer: cpuMsPerTransfer,
    };
    process.stdout.write(
      values.json === true ? `${JSON.stringify(report)}\n` : `${JSON.stringify(report, null, 2)}\n`,
    );
  } finally {
    await aws.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
