import {
  ChangeMessageVisibilityBatchCommand,
  GetQueueAttributesCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { TransientError } from '../../errors';
import type { MessageRedelivery, PostponedMessage } from '../../ports/redelivery';

/** ChangeMessageVisibilityBatch takes at most 10 entries. */
const entryCountMax = 10;

/** The queue could not be told to postpone its messages. */
export class RedeliveryNotPostponedError extends TransientError {
  public constructor(options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super('the queue could not be told to postpone the messages', options);
    this.name = 'RedeliveryNotPostponedError';
  }
}

/**
 * Postpones messages of one SQS queue by changing their visibility timeout, and reads the
 * queue's redrive policy (once: it changes only with a deploy).
 */
export class SqsMessageRedelivery implements MessageRedelivery {
  private redrivePolicy: Promise<number | undefined> | undefined;

  /** `queueUrl` is asked for on the first postponement, so a consumer that never fails needs none. */
  public constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: () => string,
  ) {}

  public async postpone(messages: readonly PostponedMessage[]): Promise<{ readonly refusedCount: number }> {
    let refusedCount = 0;
    for (let start = 0; start < messages.length; start += entryCountMax) {
      const chunk = messages.slice(start, start + entryCountMax);
      try {
        // Entries refused one by one (an expired receipt handle) come back after the queue's
        // own visibility timeout; nothing more can be done for them.
        const { Failed = [] } = await this.sqs.send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: this.queueUrl(),
            Entries: chunk.map((message, index) => ({
              Id: String(index),
              ReceiptHandle: message.receiptHandle,
              VisibilityTimeout: message.delayS,
            })),
          }),
        );
        refusedCount += Failed.length;
      } catch (error) {
        throw new RedeliveryNotPostponedError({ cause: error, context: { messageCount: chunk.length } });
      }
    }
    return { refusedCount };
  }

  public maxReceiveCount(): Promise<number | undefined> {
    this.redrivePolicy ??= this.readMaxReceiveCount();
    // A failed read is not kept: the next failure asks again.
    this.redrivePolicy.catch(() => {
      this.redrivePolicy = undefined;
    });
    return this.redrivePolicy;
  }

  private async readMaxReceiveCount(): Promise<number | undefined> {
    let policy: string | undefined;
    try {
      const { Attributes } = await this.sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: this.queueUrl(), AttributeNames: ['RedrivePolicy'] }),
      );
      policy = Attributes?.RedrivePolicy;
    } catch (error) {
      throw new RedeliveryNotPostponedError({ cause: error, context: { reading: 'RedrivePolicy' } });
    }
    if (policy === undefined || policy === '') return undefined;
    const count: unknown = (JSON.parse(policy) as { maxReceiveCount?: unknown }).maxReceiveCount;
    const parsed =
      typeof count === 'number' ? count : typeof count === 'string' ? Number.parseInt(count, 10) : Number.NaN;
    return Number.isSafeInteger(parsed) && parsed >= 1 ? parsed : undefined;
  }
}
