/**
 * The one wrapper every SQS-triggered handler goes through, as the HTTP wrapper is for routes:
 * the records of a batch go to the function's consumer, and only the records that failed are
 * reported back (partial batch failures), so SQS redelivers those and deletes the rest. On a FIFO
 * queue, once a record fails every later record of its message group is reported failed too, so
 * a group is never processed out of order. After a batch that finished anything, the consumer's
 * follow-up (the outbox relay) runs, best effort.
 */
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { Logger } from '../ports/logger';

/** One record as consumers see it, whatever queue delivered it. */
export interface QueueRecord {
  readonly messageId: string;
  /** The FIFO message group; the message id on a standard queue. */
  readonly messageGroupId: string;
  readonly body: string;
  /** How many times SQS has delivered this message, this delivery included. */
  readonly receiveCount: number;
}

/** What a function does with a batch. */
export interface SqsConsumer {
  /** Processes the records, in order, and says for each whether it is done (false: redeliver it). */
  consume(records: readonly QueueRecord[], receivedAt: Date): Promise<readonly boolean[]>;
  /**
   * Runs after a batch that finished at least one record. A failure is logged and never fails the
   * batch: its records are done, and redelivering them would do their work again for nothing.
   */
  readonly afterBatch?: () => Promise<unknown>;
}

export type SqsBatchHandler = (event: SQSEvent) => Promise<SQSBatchResponse>;

export interface SqsBatchOptions {
  /** The function's name, for logs. */
  readonly name: string;
  /** Whether the queue is FIFO (a failure holds back the rest of its message group). */
  readonly fifo: boolean;
  readonly logger: Logger;
  readonly consumer: SqsConsumer;
}

export function sqsBatchHandler(options: SqsBatchOptions): SqsBatchHandler {
  const { consumer, logger } = options;
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
    const done = await consumer.consume(records, receivedAt);
    if (done.length !== records.length) {
      throw new Error(
        `assertion failed: ${options.name} answered ${done.length} outcomes for ${records.length} records`,
      );
    }
    const failedGroups = new Set<string>();
    const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
    records.forEach((record, index) => {
      const failed = done[index] !== true || (options.fifo && failedGroups.has(record.messageGroupId));
      if (!failed) return;
      if (options.fifo) failedGroups.add(record.messageGroupId);
      batchItemFailures.push({ itemIdentifier: record.messageId });
    });
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

/** SQS counts deliveries from 1; a missing or odd count reads as a first delivery. */
function receiveCountOf(text: string | undefined): number {
  const count = text === undefined ? Number.NaN : Number.parseInt(text, 10);
  return Number.isSafeInteger(count) && count >= 1 ? count : 1;
}
