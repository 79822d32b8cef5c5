/**
 * The one wrapper every SQS-triggered handler goes through, as the HTTP wrapper is for routes:
 * the records of a batch go to the function's consumer, and only the records that failed are
 * reported back (partial batch failures), so SQS redelivers those and deletes the rest.
 *
 * A failure that may pass (the database is down) postpones the record's next delivery by a
 * backoff that grows with its receive count, so an outage of hours does not use up the queue's
 * maxReceiveCount; a failure that may never pass is redelivered after the queue's visibility
 * timeout and, past maxReceiveCount, rests in the dead-letter queue. On a FIFO queue, once a
 * record fails every later record of its message group is reported failed too, so a group is
 * never processed out of order; those later records are released at once, because SQS delivers
 * no message of a group while an earlier one of it is in flight: they wait behind the failed
 * record however long it is hidden, and come back after it, in order, without taking a receive
 * meanwhile. (moto, which the local runtime uses, hands out a group's later messages first when
 * several of them become visible at once; releasing them early keeps it in order too.) After a
 * batch that finished anything, the consumer's follow-up (the outbox relay) runs, best effort.
 */
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { Logger } from '../ports/logger';
import type { MessageRedelivery, PostponedMessage } from '../ports/redelivery';
import { type RedeliveryBackoff, redeliveryDelayS } from './redelivery';

/** One record as consumers see it, whatever queue delivered it. */
export interface QueueRecord {
  readonly messageId: string;
  /** The FIFO message group; the message id on a standard queue. */
  readonly messageGroupId: string;
  readonly body: string;
  /** How many times SQS has delivered this message, this delivery included. */
  readonly receiveCount: number;
}

/**
 * What became of a record: `done` (SQS deletes it); `transient-failure`, a failure that may
 * pass (its next delivery waits out the backoff); `permanent-failure`, one that may never pass
 * (redelivered after the visibility timeout, dead-lettered past the receive count).
 */
export type RecordOutcome = 'done' | 'transient-failure' | 'permanent-failure';

/** The outcome of a record that failed, by whether the failure may pass. */
export function failureOutcome(transient: boolean): RecordOutcome {
  return transient ? 'transient-failure' : 'permanent-failure';
}

/** What a function does with a batch. */
export interface SqsConsumer {
  /** Processes the records, in order, and says what became of each. */
  consume(records: readonly QueueRecord[], receivedAt: Date): Promise<readonly RecordOutcome[]>;
  /**
   * Runs after a batch that finished at least one record. A failure is logged and never fails the
   * batch: its records are done, and redelivering them would do their work again for nothing.
   */
  readonly afterBatch?: () => Promise<unknown>;
  /**
   * Told of the records that failed their last delivery: SQS moves them to the dead-letter queue
   * when they would next be delivered. Best effort: a failure is logged, never fails the batch.
   */
  readonly beforeDeadLetter?: (records: readonly QueueRecord[]) => Promise<unknown>;
}

export type SqsBatchHandler = (event: SQSEvent) => Promise<SQSBatchResponse>;

export interface SqsBatchOptions {
  /** The function's name, for logs. */
  readonly name: string;
  /** Whether the queue is FIFO (a failure holds back the rest of its message group). */
  readonly fifo: boolean;
  /**
   * The queue's receive count before a message moves to its dead-letter queue, if it has one, as
   * the topology declares it; the queue's own redrive policy is asked first (a test or an operator
   * may have set another), and this is used when it cannot be read.
   */
  readonly maxReceiveCount: number | undefined;
  readonly backoff: RedeliveryBackoff;
  readonly redelivery: MessageRedelivery;
  readonly logger: Logger;
  readonly consumer: SqsConsumer;
  /** The jitter's randomness, in [0, 1); Math.random by default. */
  readonly random?: () => number;
}

export function sqsBatchHandler(options: SqsBatchOptions): SqsBatchHandler {
  const { consumer, logger } = options;
  const random = options.random ?? Math.random;
  return async (event) => {
    const receivedAt = new Date();
    const records = event.Records.map(
      (record): QueueRecord => ({
        messageId: record.messageId,
        messageGroupId: record.attributes.MessageGroupId ?? record.messageId,
        body: record.body,
        receiveCount: receiveCountOf(record.attributes.ApproximateReceiveCount),
      }),
    );
    const outcomes = await consumer.consume(records, receivedAt);
    if (outcomes.length !== records.length) {
      throw new Error(
        `assertion failed: ${options.name} answered ${outcomes.length} outcomes for ${records.length} records`,
      );
    }
    const failedGroups = new Set<string>();
    const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
    const postponed: PostponedMessage[] = [];
    const failed: QueueRecord[] = [];
    records.forEach((record, index) => {
      const heldBack = options.fifo && failedGroups.has(record.messageGroupId);
      const outcome = outcomes[index];
      if (!heldBack && outcome === 'done') return;
      if (options.fifo) failedGroups.add(record.messageGroupId);
      batchItemFailures.push({ itemIdentifier: record.messageId });
      // The first failed record of a group carries the wait (a backoff when the failure may
      // pass, the visibility timeout otherwise); the group's later records wait behind it.
      const delayS = heldBack
        ? 0
        : outcome === 'transient-failure'
          ? redeliveryDelayS(record.receiveCount, options.backoff, random)
          : undefined;
      const receiptHandle = event.Records[index]?.receiptHandle;
      if (delayS !== undefined && receiptHandle !== undefined) postponed.push({ receiptHandle, delayS });
      failed.push(record);
    });
    if (postponed.length > 0) await postpone(options, postponed);
    const lastDeliveries =
      failed.length > 0 && consumer.beforeDeadLetter !== undefined ? await lastOf(options, failed) : [];
    if (lastDeliveries.length > 0 && consumer.beforeDeadLetter !== undefined) {
      logger.error('records failed their last delivery; SQS moves them to the dead-letter queue', {
        function: options.name,
        messageIds: lastDeliveries.map((record) => record.messageId),
      });
      try {
        await consumer.beforeDeadLetter(lastDeliveries);
      } catch (error) {
        logger.warn('dead letters not noted', { function: options.name, error });
      }
    }
    if (consumer.afterBatch !== undefined && batchItemFailures.length < records.length) {
      try {
        await consumer.afterBatch();
      } catch (error) {
        logger.warn('follow-up after the batch failed; the scheduled run will catch up', {
          function: options.name,
          error,
        });
      }
    }
    return { batchItemFailures };
  };
}

/** The failed records that had their last delivery: SQS dead-letters them at their next receive. */
async function lastOf(options: SqsBatchOptions, failed: readonly QueueRecord[]): Promise<QueueRecord[]> {
  let limit = options.maxReceiveCount;
  try {
    limit = await options.redelivery.maxReceiveCount();
  } catch (error) {
    options.logger.warn("the queue's redrive policy is unreadable; going by the topology's", {
      function: options.name,
      error,
    });
  }
  return limit === undefined ? [] : failed.filter((record) => record.receiveCount >= limit);
}

/**
 * Postpones the failed records' next delivery. A failure here costs only time: the records come
 * back after the queue's visibility timeout instead, so it is logged and the batch answered.
 */
async function postpone(options: SqsBatchOptions, messages: readonly PostponedMessage[]): Promise<void> {
  try {
    const { refusedCount } = await options.redelivery.postpone(messages);
    if (refusedCount > 0) {
      options.logger.warn('the queue refused to postpone some records; they come back sooner', {
        function: options.name,
        refusedCount,
      });
    }
  } catch (error) {
    options.logger.warn('records not postponed; they come back after the visibility timeout', {
      function: options.name,
      recordCount: messages.length,
      error,
    });
  }
}

/** SQS counts deliveries from 1; a missing or odd count reads as a first delivery. */
function receiveCountOf(text: string | undefined): number {
  const count = text === undefined ? Number.NaN : Number.parseInt(text, 10);
  return Number.isSafeInteger(count) && count >= 1 ? count : 1;
}
