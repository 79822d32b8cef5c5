import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { type RecordOutcome, type SqsConsumer, sqsBatchHandler } from '../../shared/handlers/sqs';
import type { MessageRedelivery, PostponedMessage } from '../../shared/ports/redelivery';
import { silentLogger } from '../support/api';

/** A record of message group `group`, delivered `receiveCount` times. */
function record(id: string, group: string, receiveCount = 1): SQSRecord {
  return {
    messageId: id,
    receiptHandle: `receipt-${id}`,
    body: `{"id":"${id}"}`,
    attributes: {
      ApproximateReceiveCount: String(receiveCount),
      SentTimestamp: '0',
      SenderId: 'test',
      ApproximateFirstReceiveTimestamp: '0',
      MessageGroupId: group,
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:transfers.fifo',
    awsRegion: 'us-east-1',
  };
}

/** Remembers what it was asked to postpone; fails when told to; its queue dead-letters at 20. */
class RecordedRedelivery implements MessageRedelivery {
  public readonly postponed: PostponedMessage[] = [];
  public failing = false;
  public queueMaxReceiveCount: number | undefined = 20;

  public async maxReceiveCount(): Promise<number | undefined> {
    if (this.failing) throw new Error('test: the queue does not answer');
    return this.queueMaxReceiveCount;
  }

  public async postpone(messages: readonly PostponedMessage[]): Promise<{ refusedCount: number }> {
    if (this.failing) throw new Error('test: the queue does not answer');
    this.postponed.push(...messages);
    return { refusedCount: 0 };
  }
}

function handler(
  outcomes: Record<string, RecordOutcome>,
  options: { fifo?: boolean; redelivery?: MessageRedelivery; deadLettered?: string[][] } = {},
) {
  const consumer: SqsConsumer = {
    consume: async (records) => records.map((each) => outcomes[each.messageId] ?? 'done'),
    beforeDeadLetter: async (records) => {
      options.deadLettered?.push(records.map((each) => each.messageId));
    },
  };
  return sqsBatchHandler({
    name: 'test',
    fifo: options.fifo ?? true,
    maxReceiveCount: 20,
    backoff: { baseS: 30, capS: 900 },
    redelivery: options.redelivery ?? new RecordedRedelivery(),
    logger: silentLogger,
    consumer,
    random: () => 0,
  });
}

const event = (...records: SQSRecord[]): SQSEvent => ({ Records: records });

describe('the SQS wrapper, when a record fails', () => {
  it('postpones a transient failure by the backoff of its receive count; the later records of its group wait behind it', async () => {
    const redelivery = new RecordedRedelivery();
    const consume = handler({ a1: 'transient-failure' }, { redelivery });

    const response = await consume(
      event(
        record('a1', 'A', 3),
        record('b1', 'B'),
        record('a2', 'A', 3),
        record('b2', 'B'),
        record('a3', 'A', 1),
      ),
    );

    expect(response).toEqual({
      batchItemFailures: [{ itemIdentifier: 'a1' }, { itemIdentifier: 'a2' }, { itemIdentifier: 'a3' }],
    });
    // Released at once: SQS delivers none of group A while a1, before them, is hidden.
    expect(redelivery.postponed).toEqual([
      { receiptHandle: 'receipt-a1', delayS: 120 },
      { receiptHandle: 'receipt-a2', delayS: 0 },
      { receiptHandle: 'receipt-a3', delayS: 0 },
    ]);
  });

  it('leaves a failure that may never pass to the visibility timeout, and its group with it', async () => {
    const redelivery = new RecordedRedelivery();
    const consume = handler({ a1: 'permanent-failure' }, { redelivery });

    const response = await consume(event(record('a1', 'A'), record('a2', 'A'), record('b1', 'B')));

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'a1' }, { itemIdentifier: 'a2' }] });
    expect(redelivery.postponed).toEqual([{ receiptHandle: 'receipt-a2', delayS: 0 }]);
  });

  it('holds back nothing but the failed record on a standard queue', async () => {
    const redelivery = new RecordedRedelivery();
    const consume = handler({ m1: 'transient-failure' }, { fifo: false, redelivery });

    const response = await consume(event(record('m1', 'm1', 1), record('m2', 'm2', 1)));

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'm1' }] });
    expect(redelivery.postponed).toEqual([{ receiptHandle: 'receipt-m1', delayS: 30 }]);
  });

  it('tells the consumer which records failed their last delivery, held-back ones included', async () => {
    const deadLettered: string[][] = [];
    const consume = handler({ a1: 'permanent-failure' }, { deadLettered });

    await consume(
      event(record('a1', 'A', 20), record('a2', 'A', 20), record('a3', 'A', 19), record('b1', 'B', 20)),
    );

    expect(deadLettered).toEqual([['a1', 'a2']]);
  });

  it("goes by the queue's own redrive policy, and by the topology's when the queue cannot be asked", async () => {
    const deadLettered: string[][] = [];
    const redelivery = new RecordedRedelivery();
    redelivery.queueMaxReceiveCount = 2;
    const consume = handler({ a1: 'transient-failure' }, { deadLettered, redelivery });

    await consume(event(record('a1', 'A', 2)));
    redelivery.failing = true;
    await consume(event(record('a1', 'A', 2)));
    await consume(event(record('a1', 'A', 20)));

    expect(deadLettered).toEqual([['a1'], ['a1']]);
  });

  it('answers the batch when the queue cannot be told to postpone: the records only come back sooner', async () => {
    const redelivery = new RecordedRedelivery();
    redelivery.failing = true;
    const consume = handler({ a1: 'transient-failure' }, { redelivery });

    const response = await consume(event(record('a1', 'A'), record('b1', 'B')));

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'a1' }] });
  });
});
