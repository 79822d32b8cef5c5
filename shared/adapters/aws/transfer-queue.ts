import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { type LedgerCommand, messageGroupOf, toTransferMessage } from '../../domain/transfer';
import {
  TransferNotQueuedError,
  type TransferQueue,
  TransferQueueOutcomeUnknownError,
} from '../../ports/submission';
import { callDeadline } from './call-deadline';

/**
 * The transfers FIFO queue on SQS. The message group is the debit account (of the transfer, or of
 * the transfer a post, void or reversal names: `messageGroupOf`), so one account's transfers are
 * posted in the order they were accepted, and a post after the pending transfer it posts, while
 * different accounts' run in parallel; the deduplication id is the transfer id, so a resend
 * within SQS's five-minute window is dropped (the ledger's unique id covers later ones).
 *
 * A failed send is told apart by what every attempt the SDK made met: when each was refused
 * before the message could be stored (SQS answered a client error such as a missing queue or
 * throttling, or no connection could be made), the transfer is surely not queued
 * (`TransferNotQueuedError`). Anything else (a timeout, a connection reset mid-request, a server
 * error, the submission's deadline while the request was out) leaves it unknown (`TransferQueueOutcomeUnknownError`): the
 * message may have been stored even though its answer never came.
 */
export class SqsTransferQueue implements TransferQueue {
  public constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  public async send(transfer: LedgerCommand, signal?: AbortSignal): Promise<void> {
    const command = new SendMessageCommand({
      QueueUrl: this.queueUrl,
      MessageBody: JSON.stringify(toTransferMessage(transfer)),
      MessageGroupId: messageGroupOf(transfer),
      MessageDeduplicationId: transfer.id,
    });
    // What each attempt met: its error, or `answered` when SQS answered it in full.
    const attempts: unknown[] = [];
    // Inside the SDK's retry loop (which runs at high priority in this step): sees every attempt.
    command.middlewareStack.add(
      (next) => async (args) => {
        try {
          const result = await next(args);
          attempts.push(answered);
          return result;
        } catch (error) {
          attempts.push(error);
          throw error;
        }
      },
      { step: 'finalizeRequest', priority: 'low', name: 'ledgerxRecordSendAttempts' },
    );
    try {
      await this.sqs.send(command, callDeadline(signal));
    } catch (error) {
      const context = { transferId: transfer.id, attemptCount: attempts.length };
      // No attempt at all (refused before any request left) counts as refused too.
      if (attempts.every(isRefusedBeforeStored)) throw new TransferNotQueuedError({ cause: error, context });
      throw new TransferQueueOutcomeUnknownError({ cause: error, context });
    }
  }
}

/** Marks an attempt SQS answered in full: whatever failed after it, the message may be stored. */
const answered = Symbol('answered');

/**
 * Whether an attempt's failure proves the message was not stored: SQS answered with a client
 * error (4xx: the request was refused as a whole), or the connection was refused, so no request
 * was ever sent.
 */
export function isRefusedBeforeStored(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  if ('code' in error && error.code === 'ECONNREFUSED') return true;
  const status =
    '$metadata' in error && typeof error.$metadata === 'object' && error.$metadata !== null
      ? (error.$metadata as { httpStatusCode?: unknown }).httpStatusCode
      : undefined;
  const fault = '$fault' in error ? error.$fault : undefined;
  return fault === 'client' && typeof status === 'number' && status >= 400 && status < 500;
}
