import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { TransferId } from '../../domain/ids';
import { parseTimestamp, parseTransferMessage, toTransferMessage } from '../../domain/transfer';
import { TransientError } from '../../errors';
import type { SubmissionAnswer } from '../../ports/submission';
import type {
  DeadLetterNote,
  DeadLetterNotes,
  QueuedTransfer,
  QueuedTransferReader,
} from '../../ports/transfer-status';

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
 * `{id: transfer#<id>, debit_account_id, credit_account_id, amount, currency, metadata (JSON text),
 * accepted_at, idempotency_checked_at, velocity_checked_at, queued_at, <expiry attribute>}`.
 * Metadata is kept as JSON text because DynamoDB numbers cannot hold every JSON number, and the
 * amount as a string of digits.
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
    debit_account_id: { S: message.debit_account_id },
    credit_account_id: { S: message.credit_account_id },
    amount: { S: message.amount },
    currency: { S: message.currency },
    metadata: { S: JSON.stringify(message.metadata) },
    accepted_at: { S: message.accepted_at },
    idempotency_checked_at: { S: answer.steps.idempotencyCheckedAt },
    velocity_checked_at: { S: answer.steps.velocityCheckedAt },
    queued_at: { S: answer.steps.queuedAt },
    [attributes.expiryAttribute]: { N: String(attributes.expiresAtS) },
  };
}

/**
 * Reads the records `queuedTransferItem` writes, from the idempotency table, and notes on them
 * that a transfer's message was dead-lettered (`dead_lettered_at`, `dead_letter_receive_count`).
 */
export class DynamoQueuedTransfers implements QueuedTransferReader, DeadLetterNotes {
  public constructor(
    private readonly dynamo: DynamoDBClient,
    private readonly tableName: string,
    private readonly keyAttribute: string,
  ) {}

  public async findQueued(id: TransferId): Promise<QueuedTransfer | undefined> {
    let item: Record<string, AttributeValue> | undefined;
    try {
      const result = await this.dynamo.send(
        new GetItemCommand({
          TableName: this.tableName,
          Key: { [this.keyAttribute]: { S: queuedTransferKey(id) } },
          ConsistentRead: true,
        }),
      );
      item = result.Item;
    } catch (error) {
      throw new QueuedTransfersUnavailableError({ cause: error, context: { transferId: id } });
    }
    if (item === undefined) return undefined;
    const metadataText = item.metadata?.S;
    const parsed = parseTransferMessage(
      JSON.stringify({
        id,
        debit_account_id: item.debit_account_id?.S,
        credit_account_id: item.credit_account_id?.S,
        amount: item.amount?.S,
        currency: item.currency?.S,
        metadata: metadataText === undefined ? undefined : (JSON.parse(metadataText) as unknown),
        accepted_at: item.accepted_at?.S,
      }),
    );
    const queuedAt = parseTimestamp(item.queued_at?.S);
    const idempotencyCheckedAt = parseTimestamp(item.idempotency_checked_at?.S);
    const velocityCheckedAt = parseTimestamp(item.velocity_checked_at?.S);
    if (
      !parsed.ok ||
      queuedAt === undefined ||
      idempotencyCheckedAt === undefined ||
      velocityCheckedAt === undefined
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
      velocityCheckedAt,
      ...(deadLetter === undefined ? {} : { deadLetter }),
    };
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
