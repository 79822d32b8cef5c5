import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { QueueDepth, QueueDepthReader } from '../../ports/admin';

/** Queue depths from SQS GetQueueAttributes (approximate counts, as SQS keeps them). */
export class SqsQueueDepths implements QueueDepthReader {
  public constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrls: { readonly transfers: string; readonly transfersDeadLetter: string },
  ) {}

  public async depth(queue: 'transfers' | 'transfersDeadLetter'): Promise<QueueDepth> {
    const { Attributes = {} } = await this.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: this.queueUrls[queue],
        AttributeNames: [
          'ApproximateNumberOfMessages',
          'ApproximateNumberOfMessagesNotVisible',
          'ApproximateNumberOfMessagesDelayed',
        ],
      }),
    );
    return {
      visible: messageCount(Attributes.ApproximateNumberOfMessages),
      inFlight: messageCount(Attributes.ApproximateNumberOfMessagesNotVisible),
      delayed: messageCount(Attributes.ApproximateNumberOfMessagesDelayed),
    };
  }
}

function messageCount(value: string | undefined): number {
  return value !== undefined && /^[0-9]{1,15}$/.test(value) ? Number.parseInt(value, 10) : 0;
}
