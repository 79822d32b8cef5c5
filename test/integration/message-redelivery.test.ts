import {
  ChangeMessageVisibilityCommand,
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
} from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { toRecord } from '../../infra/local/sqs-poller';
import { SqsMessageRedelivery } from '../../shared/adapters/aws/message-redelivery';
import { type RecordOutcome, sqsBatchHandler } from '../../shared/handlers/sqs';
import { silentLogger } from '../support/api';
import { useTestAws } from '../support/aws';

/** The queue's own visibility timeout: what a failed message waits when it is not postponed. */
const visibilityTimeoutS = 1;
const aws = useTestAws({
  visibilityTimeoutS: { transfers: visibilityTimeoutS, fraudScorer: visibilityTimeoutS },
});

async function send(queueUrl: string, messages: readonly { id: string; group?: string }[]): Promise<void> {
  await aws.clients.sqs.send(
    new SendMessageBatchCommand({
      QueueUrl: queueUrl,
      Entries: messages.map((message) => ({
        Id: message.id,
        MessageBody: message.id,
        ...(message.group === undefined
          ? {}
          : { MessageGroupId: message.group, MessageDeduplicationId: `${message.id}-${Date.now()}` }),
      })),
    }),
  );
}

async function receive(queueUrl: string, countMax: number): Promise<Message[]> {
  const { Messages = [] } = await aws.clients.sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: countMax,
      WaitTimeSeconds: 1,
      MessageSystemAttributeNames: ['All'],
    }),
  );
  return Messages;
}

/** Deletes messages a test is done with, so the next test's receives see only its own. */
async function remove(queueUrl: string, messages: readonly Message[]): Promise<void> {
  if (messages.length === 0) return;
  await aws.clients.sqs.send(
    new DeleteMessageBatchCommand({
      QueueUrl: queueUrl,
      Entries: messages.map((message, index) => ({
        Id: String(index),
        ReceiptHandle: message.ReceiptHandle,
      })),
    }),
  );
}

/** Runs the real wrapper on received messages, with the real adapter, failing the bodies named. */
async function consume(
  queueUrl: string,
  messages: readonly Message[],
  failed: Readonly<Record<string, RecordOutcome>>,
  fifo: boolean,
): Promise<string[]> {
  const handler = sqsBatchHandler({
    name: 'test',
    fifo,
    maxReceiveCount: 20,
    // Longer than the test runs: a postponed message does not come back within it.
    backoff: { baseS: 600, capS: 600 },
    redelivery: new SqsMessageRedelivery(aws.clients.sqs, () => queueUrl),
    logger: silentLogger,
    consumer: { consume: async (records) => records.map((record) => failed[record.body] ?? 'done') },
    random: () => 0,
  });
  const { batchItemFailures } = await handler({
    Records: messages.map((message) =>
      toRecord(message, 'arn:aws:sqs:us-east-1:000000000000:queue', 'us-east-1'),
    ),
  });
  return batchItemFailures.map((failure) => failure.itemIdentifier);
}

/** Waits out the queue's visibility timeout, so what was not postponed is visible again. */
const pastTheVisibilityTimeout = () => new Promise((resolve) => setTimeout(resolve, 2_500));

describe('postponing failed messages on a FIFO queue', () => {
  it('hides a failed group for its backoff, its later messages waiting behind it, while other groups go on', async () => {
    const queueUrl = aws.resources.queueUrls.transfers;
    await send(queueUrl, [
      { id: 'a1', group: 'A' },
      { id: 'a2', group: 'A' },
      { id: 'a3', group: 'A' },
      { id: 'b1', group: 'B' },
    ]);
    const first = await receive(queueUrl, 2);
    expect(first.map((message) => message.Body)).toEqual(['a1', 'a2']);

    await consume(queueUrl, first, { a1: 'transient-failure' }, true);
    await pastTheVisibilityTimeout();
    const next = await receive(queueUrl, 10);

    // a1 is hidden for the backoff; a2 (released) and a3 wait behind it; group B is delivered.
    expect(next.map((message) => message.Body)).toEqual(['b1']);
    await remove(queueUrl, next);
  });

  it('leaves a group that failed for good to the visibility timeout: it comes back first, in order', async () => {
    const queueUrl = aws.resources.queueUrls.transfers;
    await send(queueUrl, [
      { id: 'c1', group: 'C' },
      { id: 'c2', group: 'C' },
    ]);
    const first = await receive(queueUrl, 10);
    expect(first.map((message) => message.Body)).toEqual(['c1', 'c2']);

    await consume(queueUrl, first, { c1: 'permanent-failure' }, true);
    await pastTheVisibilityTimeout();
    const next = await receive(queueUrl, 10);

    expect(next.map((message) => message.Body)).toEqual(['c1', 'c2']);
    await remove(queueUrl, next);
  });
});

describe('the AWS endpoint, as SQS does', () => {
  it('keeps a FIFO group locked behind a message hidden again after it was made visible', async () => {
    // Two batches that hold the same message (the first outlived its visibility timeout) may
    // release and then postpone it, in that order; the group must stay behind it all the same.
    const queueUrl = aws.resources.queueUrls.transfers;
    await send(queueUrl, [
      { id: 'd1', group: 'D' },
      { id: 'd2', group: 'D' },
    ]);
    const [first] = await receive(queueUrl, 1);
    if (first?.ReceiptHandle === undefined) throw new Error('test: nothing received');
    const change = (visibilityTimeoutS: number) =>
      aws.clients.sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: queueUrl,
          ReceiptHandle: first.ReceiptHandle,
          VisibilityTimeout: visibilityTimeoutS,
        }),
      );

    await change(0);
    await change(600);
    const next = await receive(queueUrl, 10);

    expect(first.Body).toBe('d1');
    expect(next.map((message) => message.Body)).toEqual([]);
    await change(0);
    await remove(queueUrl, await receive(queueUrl, 10));
  });
});

describe('postponing failed messages on a standard queue', () => {
  it('hides the failed message only', async () => {
    const queueUrl = aws.resources.queueUrls.fraudScorer;
    await send(queueUrl, [{ id: 'm1' }, { id: 'm2' }]);
    const first = [...(await receive(queueUrl, 10))];
    while (first.length < 2) first.push(...(await receive(queueUrl, 10)));

    const failed = await consume(
      queueUrl,
      first,
      { m1: 'transient-failure', m2: 'permanent-failure' },
      false,
    );
    await pastTheVisibilityTimeout();
    const next = await receive(queueUrl, 10);

    expect(failed.length).toBe(2);
    expect(next.map((message) => message.Body)).toEqual(['m2']);
  });
});
