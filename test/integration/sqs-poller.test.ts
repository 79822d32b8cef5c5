import { Logger } from '@aws-lambda-powertools/logger';
import {
  GetQueueAttributesCommand,
  SendMessageBatchCommand,
  SetQueueAttributesCommand,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { type SqsPoller, type SqsPollerOptions, startSqsPoller } from '../../infra/local/sqs-poller';
import { useTestAws } from '../support/aws';
import { waitFor } from '../support/runtime';

const aws = useTestAws({ visibilityTimeoutS: { transfers: 1, transferEvents: 1 } });
const logger = new Logger({ serviceName: 'test', logLevel: 'SILENT' });
const pollers: SqsPoller[] = [];

afterEach(async () => {
  for (const poller of pollers.splice(0)) await poller.stop();
});

function poll(handler: SqsPollerOptions['handler'], overrides: Partial<SqsPollerOptions> = {}): SqsPoller {
  const poller = startSqsPoller({
    functionName: 'test-consumer',
    sqs: aws.clients.sqs,
    queueUrl: aws.resources.queueUrls.transfers,
    queueArn: aws.resources.queueArns.transfers,
    region: 'us-east-1',
    handler,
    batchSizeMax: 10,
    concurrencyMax: 1,
    pollWaitS: 1,
    timeoutS: 5,
    memoryMiB: 128,
    stopTimeoutMs: 2_000,
    errorBackoffBaseMs: 50,
    errorBackoffCapMs: 200,
    logger,
    ...overrides,
  });
  pollers.push(poller);
  return poller;
}

async function sendFifo(bodies: readonly { body: string; group: string; id: string }[]): Promise<void> {
  await aws.clients.sqs.send(
    new SendMessageBatchCommand({
      QueueUrl: aws.resources.queueUrls.transfers,
      Entries: bodies.map((message, index) => ({
        Id: String(index),
        MessageBody: message.body,
        MessageGroupId: message.group,
        MessageDeduplicationId: message.id,
      })),
    }),
  );
}

async function depth(): Promise<number> {
  const { Attributes = {} } = await aws.clients.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: aws.resources.queueUrls.transfers,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return (
    Number.parseInt(Attributes.ApproximateNumberOfMessages ?? '0', 10) +
    Number.parseInt(Attributes.ApproximateNumberOfMessagesNotVisible ?? '0', 10)
  );
}

describe('the SQS poller (the local event source mapping)', () => {
  it('hands over real SQS records, deletes what succeeded and redelivers what the handler reported failed', async () => {
    const events: SQSEvent[] = [];
    let failedOnce = false;
    poll(async (event): Promise<SQSBatchResponse> => {
      events.push(event);
      const failing = event.Records.find((record) => record.body === 'b' && !failedOnce);
      if (failing === undefined) return { batchItemFailures: [] };
      failedOnce = true;
      return { batchItemFailures: [{ itemIdentifier: failing.messageId }] };
    });

    await sendFifo([
      { body: 'a', group: 'g1', id: 'a' },
      { body: 'b', group: 'g2', id: 'b' },
      { body: 'c', group: 'g3', id: 'c' },
    ]);
    await waitFor('every message handled and deleted', async () =>
      failedOnce && (await depth()) === 0 ? true : undefined,
    );

    const records = events.flatMap((event) => event.Records);
    const bodies = records.map((record) => record.body);
    expect(bodies.filter((body) => body === 'b')).toHaveLength(2);
    expect(new Set(bodies)).toEqual(new Set(['a', 'b', 'c']));
    expect(records[0]).toMatchObject({
      eventSource: 'aws:sqs',
      eventSourceARN: aws.resources.queueArns.transfers,
      awsRegion: 'us-east-1',
      attributes: {
        ApproximateReceiveCount: '1',
        MessageGroupId: expect.stringMatching(/^g[123]$/),
        MessageDeduplicationId: expect.stringMatching(/^[abc]$/),
        SequenceNumber: expect.any(String),
      },
    });
    expect(
      records.find((record) => record.body === 'b' && record.attributes.ApproximateReceiveCount === '2'),
    ).toBeDefined();
  });

  it('fails the whole batch when the handler throws or names a record not in the batch', async () => {
    let callCount = 0;
    poll(async (): Promise<SQSBatchResponse> => {
      callCount += 1;
      if (callCount === 1) throw new Error('test: the handler crashed');
      if (callCount === 2) return { batchItemFailures: [{ itemIdentifier: 'not-in-this-batch' }] };
      return { batchItemFailures: [] };
    });

    await sendFifo([{ body: 'x', group: 'g1', id: 'x' }]);
    await waitFor('the message handled on the third delivery', async () =>
      callCount >= 3 && (await depth()) === 0 ? true : undefined,
    );

    expect(callCount).toBe(3);
  });

  it('stops without waiting for a batch that outlives the stop bound, and releases its messages', async () => {
    // A visibility timeout far longer than the wait below, so only a release can bring the
    // message back in time.
    await aws.clients.sqs.send(
      new SetQueueAttributesCommand({
        QueueUrl: aws.resources.queueUrls.transfers,
        Attributes: { VisibilityTimeout: '60' },
      }),
    );
    const poller = poll(() => new Promise<SQSBatchResponse>(() => undefined), { stopTimeoutMs: 300 });
    await sendFifo([{ body: 'stuck', group: 'g1', id: 'stuck' }]);
    await waitFor('the batch in flight', async () => (poller.stats().batchCount > 0 ? true : undefined));

    // The handler never answers: the stop returns only because it waits no longer than its bound.
    await poller.stop();
    const next: SQSEvent[] = [];
    poll(async (event) => {
      next.push(event);
      return { batchItemFailures: [] };
    });
    // Released with visibility 0, the message is received again at once, not after the 60 s timeout.
    await waitFor(
      'the released message received again',
      async () => (next.length > 0 ? true : undefined),
      10_000,
    );

    expect(next[0]?.Records.map((record) => record.body)).toEqual(['stuck']);
  });
});
