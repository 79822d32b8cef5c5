import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { AccountId } from '../../domain/ids';
import { formatMinorUnits, parseMinorUnits } from '../../domain/money';
import type { VelocityEntry, VelocityOverrides } from '../../domain/velocity';
import { TransientError } from '../../errors';
import type { VelocityState, VelocityStore } from '../../services/velocity';

/** DynamoDB could not be read or written. */
export class VelocityStoreUnavailableError extends TransientError {
  public constructor(options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super('the velocity table is unavailable', options);
    this.name = 'VelocityStoreUnavailableError';
  }
}

/**
 * The velocity table (partition key `pk`, TTL attribute `expires_at`), two kinds of item:
 *
 * - `window#<accountId>`: `{entries, version, expires_at}`, the debit account's sliding window.
 *   Each entry is the text `<admitted at, ms>|<amount>|<transfer id>` (about 80 bytes), so a
 *   window of the largest allowed count stays far under DynamoDB's 400 KB item limit. `version`
 *   grows by one with every write, which is conditional on the version read. The item expires
 *   when its newest entry leaves the window.
 * - `limits#<accountId>`: `{window_s, max_transfers, max_amount, version}`, the copy of the
 *   account's own limits the API writes while it holds the account's row in Postgres, so the
 *   submission path reads them here, in the same round trip as the window, without Postgres.
 *   `version` is the account's `velocity_version`; an older copy never replaces a newer one. It
 *   has no `expires_at`: it lives as long as the account.
 */
export class DynamoVelocityStore implements VelocityStore {
  private readonly documents: DynamoDBDocumentClient;

  public constructor(
    dynamo: DynamoDBClient,
    private readonly tableName: string,
  ) {
    this.documents = DynamoDBDocumentClient.from(dynamo);
  }

  public async read(accountId: AccountId): Promise<VelocityState> {
    const windowKey = `window#${accountId}`;
    const limitsKey = `limits#${accountId}`;
    let items: Record<string, unknown>[];
    try {
      const result = await this.documents.send(
        new BatchGetCommand({
          RequestItems: {
            [this.tableName]: { Keys: [{ pk: windowKey }, { pk: limitsKey }], ConsistentRead: true },
          },
        }),
      );
      const unprocessed = result.UnprocessedKeys?.[this.tableName]?.Keys?.length ?? 0;
      // Two small items are never throttled into a partial answer unless the table is overloaded.
      if (unprocessed > 0) throw new Error(`${unprocessed} keys were left unprocessed`);
      items = result.Responses?.[this.tableName] ?? [];
    } catch (error) {
      throw new VelocityStoreUnavailableError({ cause: error, context: { operation: 'read', accountId } });
    }
    const window = items.find((item) => item.pk === windowKey);
    const limits = items.find((item) => item.pk === limitsKey);
    return {
      entries: window === undefined ? [] : parseEntries(window.entries, windowKey),
      version: window === undefined ? undefined : wholeNumber(window.version, `${windowKey} version`),
      overrides: limits === undefined ? undefined : parseOverrides(limits, limitsKey),
    };
  }

  public async write(
    accountId: AccountId,
    window: {
      readonly entries: readonly VelocityEntry[];
      readonly expectedVersion: number | undefined;
      readonly expiresAtS: number;
    },
  ): Promise<'written' | 'conflict'> {
    const condition =
      window.expectedVersion === undefined
        ? { ConditionExpression: 'attribute_not_exists(pk)' }
        : {
            ConditionExpression: '#version = :expected',
            // Attribute names go through placeholders, so no DynamoDB reserved word can clash.
            ExpressionAttributeNames: { '#version': 'version' },
            ExpressionAttributeValues: { ':expected': window.expectedVersion },
          };
    try {
      await this.documents.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            pk: `window#${accountId}`,
            entries: window.entries.map(
              (entry) => `${entry.atMs}|${formatMinorUnits(entry.amount)}|${entry.transferId}`,
            ),
            version: (window.expectedVersion ?? 0) + 1,
            expires_at: window.expiresAtS,
          },
          ...condition,
        }),
      );
      return 'written';
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return 'conflict';
      throw new VelocityStoreUnavailableError({ cause: error, context: { operation: 'write', accountId } });
    }
  }

  public async putOverrides(
    accountId: AccountId,
    overrides: VelocityOverrides,
    version: bigint,
  ): Promise<void> {
    try {
      await this.documents.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            pk: `limits#${accountId}`,
            window_s: overrides.windowS,
            max_transfers: overrides.transferCountMax,
            max_amount: overrides.amountMax === null ? null : formatMinorUnits(overrides.amountMax),
            // A count of changes of one account's limits: far below 2^53.
            version: Number(version),
          },
          ConditionExpression: 'attribute_not_exists(pk) OR #version <= :version',
          ExpressionAttributeNames: { '#version': 'version' },
          ExpressionAttributeValues: { ':version': Number(version) },
        }),
      );
    } catch (error) {
      // A newer copy is there already: it is the one to keep.
      if (error instanceof ConditionalCheckFailedException) return;
      throw new VelocityStoreUnavailableError({
        cause: error,
        context: { operation: 'putOverrides', accountId },
      });
    }
  }
}

function parseEntries(value: unknown, key: string): VelocityEntry[] {
  if (!Array.isArray(value)) throw new Error(`assertion failed: ${key} has a list of entries`);
  return value.map((text: unknown) => {
    const match = typeof text === 'string' ? /^([0-9]{1,15})\|([0-9]{1,19})\|(.+)$/.exec(text) : null;
    const amount = parseMinorUnits(match?.[2]);
    if (match === null || match[1] === undefined || match[3] === undefined || amount === undefined) {
      throw new Error(`assertion failed: ${key} entry ${String(text)} is whole`);
    }
    // The time is milliseconds since the epoch (15 digits at most), exact in a double.
    const atMs = Number.parseInt(match[1], 10);
    return { atMs, amount, transferId: match[3] };
  });
}

function parseOverrides(item: Record<string, unknown>, key: string): VelocityOverrides {
  const maxAmount = item.max_amount;
  const amountMax = maxAmount === null || maxAmount === undefined ? null : parseMinorUnits(maxAmount);
  if (amountMax === undefined) throw new Error(`assertion failed: ${key} max_amount is minor units`);
  return {
    windowS: item.window_s === null || item.window_s === undefined ? null : wholeNumber(item.window_s, key),
    transferCountMax:
      item.max_transfers === null || item.max_transfers === undefined
        ? null
        : wholeNumber(item.max_transfers, key),
    amountMax,
  };
}

function wholeNumber(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new Error(`assertion failed: ${what} is a whole number`);
  }
  return value;
}
