import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { TransferCommand } from '../../domain/transfer';
import { toTransferMessage } from '../../domain/transfer';
import { TransientError } from '../../errors';
import type { TransferQueue } from '../../services/transfer-submission';

/** SendMessage failed (network, throttling, a missing queue); the transfer may not be queued. */
export class TransferQueueUnavailableError extends TransientError {
  public constructor(options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super('the transfers queue is unavailable', options);
    this.name = 'TransferQueueUnavailableError';
  }
}

/**
 * The transfers FIFO queue on SQS. The message group is the debit account, so one account's
 * transfers are posted in the order they were accepted, while different accounts' run in
 * parallel; the deduplication id is the transfer id, so a resend within SQS's five-minute window
 * is dropped (the ledger's unique id covers later ones).
 */
export class SqsTransferQueue implements TransferQueue {
  public constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  public async send(transfer: TransferCommand): Promise<void> {
    try {
      await this.sqs.send(
        new SendMessageCommand({
          QueueUrl: this.queueUrl,
          MessageBody: JSON.stringify(toTransferMessage(transfer)),
          MessageGroupId: transfer.debitAccountId,
          MessageDeduplicationId: transfer.id,
        }),
      );
    } catch (error) {
      throw new TransferQueueUnavailableError({ cause: error, context: { transferId: transfer.id } });
    }
  }
}
