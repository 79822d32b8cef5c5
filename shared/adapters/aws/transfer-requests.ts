import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { parseTransferId, type TransferId } from '../../domain/ids';
import {
  parseTimestamp,
  parseTransferMessage,
  type TransferCommand,
  toTransferMessage,
} from '../../domain/transfer';
import { TransientError } from '../../errors';
import type { QueuedTransfer, QueuedTransferReader } from '../../ports/transfer-status';
import type {
  RequestKey,
  Reservation,
  SubmissionSteps,
  TransferRequestStore,
} from '../../services/transfer-submission';

/**
 * How long request items are kept: a week. Longer than the idempotency window (a day), so a
 * key released after a failure and retried late still finds its transfer id, and longer than
 * the queue keeps a message (four days), so a queued transfer can be answered until it posts.
 */
export const transferRequestRetentionS = 7 * 24 * 3600;

/** DynamoDB could not be read or written. */
export class TransferRequestStoreUnavailableError extends TransientError {
  public constructor(options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super('the transfer requests table is unavailable', options);
    this.name = 'TransferRequestStoreUnavailableError';
  }
}

/**
 * The transfer-requests table (partition key `id`, TTL attribute `expires_at`), two kinds of item:
 *
 * - `key#<apiKeyId>#<idempotencyKey>`: `{transfer_id, accepted_at, request_hash}`, the transfer
 *   id reserved for a request key, written once (a conditional put);
 * - `transfer#<id>`: the transfer as queued, `{debit_account_id, credit_account_id, amount,
 *   currency, metadata (JSON text), accepted_at, idempotency_checked_at, velocity_checked_at,
 *   queued_at}`, read by GET /v1/transfers/{id}
 *   until the ledger has it. Metadata is kept as JSON text because DynamoDB numbers cannot
 *   hold every JSON number.
 */
export class DynamoTransferRequests implements TransferRequestStore, QueuedTransferReader {
  private readonly documents: DynamoDBDocumentClient;

  public constructor(
    dynamo: DynamoDBClient,
    private readonly tableName: string,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.documents = DynamoDBDocumentClient.from(dynamo);
  }

  public async reserve(key: RequestKey, candidate: Reservation): Promise<Reservation> {
    const id = `key#${key.apiKeyId}#${key.idempotencyKey}`;
    const nowS = Math.floor(this.now().getTime() / 1000);
    try {
      await this.documents.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            id,
            transfer_id: candidate.transferId,
            accepted_at: candidate.acceptedAt,
            request_hash: candidate.requestHash,
            expires_at: nowS + transferRequestRetentionS,
          },
          // TTL deletes lazily, so an item past its expiry counts as absent.
          ConditionExpression: 'attribute_not_exists(id) OR expires_at < :now',
          ExpressionAttributeValues: { ':now': nowS },
        }),
      );
      return candidate;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) {
        throw new TransferRequestStoreUnavailableError({ cause: error, context: { operation: 'reserve' } });
      }
    }
    const item = await this.get(id);
    const transferId = parseTransferId(item?.transfer_id);
    const acceptedAt = parseTimestamp(item?.accepted_at);
    const requestHash = item?.request_hash;
    if (transferId === undefined || acceptedAt === undefined || typeof requestHash !== 'string') {
      throw new Error(`assertion failed: the reservation ${id} is whole`);
    }
    return { transferId, acceptedAt, requestHash };
  }

  public async recordQueued(transfer: TransferCommand, steps: SubmissionSteps): Promise<void> {
    const message = toTransferMessage(transfer);
    try {
      await this.documents.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            id: `transfer#${transfer.id}`,
            debit_account_id: message.debit_account_id,
            credit_account_id: message.credit_account_id,
            amount: message.amount,
            currency: message.currency,
            metadata: JSON.stringify(message.metadata),
            accepted_at: message.accepted_at,
            idempotency_checked_at: steps.idempotencyCheckedAt,
            velocity_checked_at: steps.velocityCheckedAt,
            queued_at: steps.queuedAt,
            expires_at: Math.floor(this.now().getTime() / 1000) + transferRequestRetentionS,
          },
          // The first record wins, so a retried submission keeps the time it was first queued.
          ConditionExpression: 'attribute_not_exists(id)',
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return;
      throw new TransferRequestStoreUnavailableError({
        cause: error,
        context: { operation: 'recordQueued', transferId: transfer.id },
      });
    }
  }

  public async findQueued(id: TransferId): Promise<QueuedTransfer | undefined> {
    const item = await this.get(`transfer#${id}`);
    if (item === undefined) return undefined;
    const metadata = typeof item.metadata === 'string' ? (JSON.parse(item.metadata) as unknown) : undefined;
    const parsed = parseTransferMessage(
      JSON.stringify({
        id,
        debit_account_id: item.debit_account_id,
        credit_account_id: item.credit_account_id,
        amount: item.amount,
        currency: item.currency,
        metadata,
        accepted_at: item.accepted_at,
      }),
    );
    const queuedAt = parseTimestamp(item.queued_at);
    if (!parsed.ok || queuedAt === undefined) {
      throw new Error(`assertion failed: the queued transfer ${id} is whole`);
    }
    // Records written before these steps were recorded have neither.
    const idempotencyCheckedAt = parseTimestamp(item.idempotency_checked_at);
    const velocityCheckedAt = parseTimestamp(item.velocity_checked_at);
    return {
      transfer: parsed.value,
      queuedAt,
      ...(idempotencyCheckedAt === undefined ? {} : { idempotencyCheckedAt }),
      ...(velocityCheckedAt === undefined ? {} : { velocityCheckedAt }),
    };
  }

  private async get(id: string): Promise<Record<string, unknown> | undefined> {
    try {
      const result = await this.documents.send(
        new GetCommand({ TableName: this.tableName, Key: { id }, ConsistentRead: true }),
      );
      return result.Item;
    } catch (error) {
      throw new TransferRequestStoreUnavailableError({ cause: error, context: { operation: 'get' } });
    }
  }
}
