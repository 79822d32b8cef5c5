import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { TransferId } from '../../domain/ids';
import {
  isReferring,
  type LedgerCommand,
  parseLedgerMessage,
  parseTimestamp,
  type ReferencedTransfer,
  toTransferMessage,
} from '../../domain/transfer';
import { TransientError } from '../../errors';
import type { SubmissionAnswer, TransferLocator } from '../../ports/submission';
import type {
  DeadLetterNote,
  DeadLetterNotes,
  QueuedTransfer,
  QueuedTransferReader,
} from '../../ports/transfer-status';
import { callDeadline } from './call-deadline';

/**
 * How long the record of a queued transfer is kept: a week, longer than the queue keeps a message
 * (four days), so a queued transfer can be answered until it posts.
 */
export const queuedTransferRetentionS = 7 * 24 * 3600;

/** DynamoDB could not be read. */
export class QueuedTransfersUnavailableError extends TransientError {
  public constructor(options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super('the record of queued transfers is unavailable', options);
    this.name = 'QueuedTransfersUnavailableError';
  }
}

/** The partition key of a queued transfer's record in the idempotency table. */
export function queuedTransferKey(id: TransferId): string {
  return `transfer#${id}`;
}

/**
 * The record GET /v1/transfers/{id} reads while the ledger does not have the transfer yet,
 * written in the same transaction as the idempotency record's completion:
 * `{id: transfer#<id>, message (the queue message's JSON text), accepted_at,
 * idempotency_checked_at, velocity_checked_at (when the velocity window counted it), queued_at,
 * <expiry attribute>}`. The message is kept as JSON text because DynamoDB numbers cannot hold
 * every JSON number. Records written before pending transfers and reversals have no `message`
 * but `debit_account_id`, `credit_account_id`, `amount`, `currency` and `metadata` (JSON text);
 * they are still read.
 */
export function queuedTransferItem(
  answer: SubmissionAnswer,
  attributes: {
    readonly keyAttribute: string;
    readonly expiryAttribute: string;
    readonly expiresAtS: number;
  },
): Record<string, AttributeValue> {
  const message = toTransferMessage(answer.transfer);
  return {
    [attributes.keyAttribute]: { S: queuedTransferKey(answer.transfer.id) },
    message: { S: JSON.stringify(message) },
    accepted_at: { S: message.accepted_at },
    idempotency_checked_at: { S: answer.steps.idempotencyCheckedAt },
    ...(answer.steps.velocityCheckedAt === undefined
      ? {}
      : { velocity_checked_at: { S: answer.steps.velocityCheckedAt } }),
    queued_at: { S: answer.steps.queuedAt },
    [attributes.expiryAttribute]: { N: String(attributes.expiresAtS) },
  };
}

/**
 * Reads the records `queuedTransferItem` writes, from the idempotency table, and notes on them
 * that a transfer's message was dead-lettered (`dead_lettered_at`, `dead_letter_receive_count`).
 */
export class DynamoQueuedTransfers implements QueuedTransferReader, TransferLocator, DeadLetterNotes {
  public constructor(
    private readonly dynamo: DynamoDBClient,
    private readonly tableName: string,
    private readonly keyAttribute: string,
  ) {}

  public async findQueued(id: TransferId, signal?: AbortSignal): Promise<QueuedTransfer | undefined> {
    let item: Record<string, AttributeValue> | undefined;
    try {
      const result = await this.dynamo.send(
        new GetItemCommand({
          TableName: this.tableName,
          Key: { [this.keyAttribute]: { S: queuedTransferKey(id) } },
          ConsistentRead: true,
        }),
        callDeadline(signal),
      );
      item = result.Item;
    } catch (error) {
      throw new QueuedTransfersUnavailableError({ cause: error, context: { transferId: id } });
    }
    if (item === undefined) return undefined;
    const parsed = parseLedgerMessage(messageText(id, item));
    const queuedAt = parseTimestamp(item.queued_at?.S);
    const idempotencyCheckedAt = parseTimestamp(item.idempotency_checked_at?.S);
    const velocityCheckedAt = parseTimestamp(item.velocity_checked_at?.S);
    if (
      !parsed.ok ||
      parsed.value.id !== id ||
      queuedAt === undefined ||
      idempotencyCheckedAt === undefined ||
      (item.velocity_checked_at !== undefined && velocityCheckedAt === undefined)
    ) {
      throw new Error(`assertion failed: the queued transfer ${id} is whole`);
    }
    const deadLetteredAt = parseTimestamp(item.dead_lettered_at?.S);
    const deadLetterReceiveCount = item.dead_letter_receive_count?.N;
    const deadLetter: DeadLetterNote | undefined =
      deadLetteredAt === undefined
        ? undefined
        : {
            at: deadLetteredAt,
            receiveCount:
              deadLetterReceiveCount !== undefined && /^\d{1,9}$/.test(deadLetterReceiveCount)
                ? Number.parseInt(deadLetterReceiveCount, 10)
                : 0,
          };
    return {
      transfer: parsed.value,
      queuedAt,
      idempotencyCheckedAt,
      ...(velocityCheckedAt === undefined ? {} : { velocityCheckedAt }),
      ...(deadLetter === undefined ? {} : { deadLetter }),
    };
  }

  /** The queued transfer's accounts, amount and currency (see `referencedBy`). */
  public async locate(id: TransferId, signal?: AbortSignal): Promise<ReferencedTransfer | undefined> {
    const queued = await this.findQueued(id, signal);
    return queued === undefined ? undefined : referencedBy(queued.transfer);
  }

  /** One conditional update per transfer (a batch holds at most 10): only records that exist. */
  public async noteDeadLettered(
    notes: readonly (DeadLetterNote & { readonly transferId: TransferId })[],
  ): Promise<{ readonly notedCount: number }> {
    let notedCount = 0;
    for (const note of notes) {
      try {
        await this.dynamo.send(
          new UpdateItemCommand({
            TableName: this.tableName,
            Key: { [this.keyAttribute]: { S: queuedTransferKey(note.transferId) } },
            UpdateExpression: 'SET dead_lettered_at = :at, dead_letter_receive_count = :count',
            ConditionExpression: 'attribute_exists(#key)',
            ExpressionAttributeNames: { '#key': this.keyAttribute },
            ExpressionAttributeValues: { ':at': { S: note.at }, ':count': { N: String(note.receiveCount) } },
          }),
        );
        notedCount += 1;
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) continue;
        throw new QueuedTransfersUnavailableError({ cause: error, context: { transferId: note.transferId } });
      }
    }
    return { notedCount };
  }
}

/**
 * What a queued command amounts to as a transfer another may name: its own accounts, or for a
 * post or void the pending transfer's, for a reversal the reversed transfer's swapped, with the
 * amount it asks for (all of the named one's when it names none); undefined when it names a
 * transfer the API did not find.
 */
export function referencedBy(command: LedgerCommand): ReferencedTransfer | undefined {
  if (!isReferring(command)) {
    const { debitAccountId, creditAccountId, amount, currency } = command;
    return { debitAccountId, creditAccountId, amount, currency };
  }
  const { referenced } = command;
  if (referenced === undefined) return undefined;
  const amount = command.amount ?? referenced.amount;
  return command.kind === 'reversal'
    ? {
        debitAccountId: referenced.creditAccountId,
        creditAccountId: referenced.debitAccountId,
        amount,
        currency: referenced.currency,
      }
    : { ...referenced, amount };
}

/** The queued message's JSON text: as written now, or rebuilt from a record of the older form. */
function messageText(id: TransferId, item: Record<string, AttributeValue>): string {
  const message = item.message?.S;
  if (message !== undefined) return message;
  const metadataText = item.metadata?.S;
  return JSON.stringify({
    id,
    debit_account_id: item.debit_account_id?.S,
    credit_account_id: item.credit_account_id?.S,
    amount: item.amount?.S,
    currency: item.currency?.S,
    metadata: metadataText === undefined ? undefined : (JSON.parse(metadataText) as unknown),
    accepted_at: item.accepted_at?.S,
  });
}
