import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { AccountId } from '../../domain/ids';
import type { VelocityOverrides, VelocityWindow } from '../../domain/velocity';
import { TransientError } from '../../errors';
import type { VelocityState, VelocityStore, VelocityWrite } from '../../ports/velocity';
import { callDeadline } from './call-deadline';

/** DynamoDB could not be read or written. */
export class VelocityStoreUnavailableError extends TransientError {
  public constructor(options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super('the velocity table is unavailable', options);
    this.name = 'VelocityStoreUnavailableError';
  }
}

/**
 * The velocity table (partition key `pk`): one item per debit account, `limits#<accountId>`,
 * holding both halves of the admission condition, so one conditional write decides it:
 *
 * - the window: `window_start` (ms since the epoch), `transfer_count`, `amount_total`;
 * - the account's own limits: `window_s`, `max_transfers`, `max_amount` (each absent or NULL when
 *   the default applies) and `version`, the account's `velocity_version` in Postgres.
 *
 * The item has no expiry: it lives as long as the account, so a version is never forgotten and
 * restarted, and an older copy of the limits can never replace a newer one. The key keeps the
 * name it had when the item held only the limits, so limits stored before the window moved onto
 * it stay in force. Numbers go to DynamoDB as decimal strings and come back into bigint, never
 * through a JavaScript number where an amount is concerned.
 */
export class DynamoVelocityStore implements VelocityStore {
  public constructor(
    private readonly dynamo: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  public async count(
    accountId: AccountId,
    write: VelocityWrite,
    signal?: AbortSignal,
  ): Promise<{ counted: boolean; state: VelocityState }> {
    if (!Number.isSafeInteger(write.transferCount) || write.transferCount < 1) {
      throw new Error('assertion failed: a velocity write counts at least one transfer');
    }
    const values: Record<string, AttributeValue> = {
      ':count': { N: String(write.transferCount) },
      ':amount': { N: write.amount.toString() },
      // A window that started at or before this instant has closed by `nowMs`.
      ':open_after': { N: String(write.nowMs - write.limits.windowS * 1000) },
    };
    const limitsUnchanged =
      write.limitsVersion === undefined ? 'attribute_not_exists(#version)' : '#version = :version';
    if (write.limitsVersion !== undefined) values[':version'] = { N: write.limitsVersion.toString() };
    let update: string;
    let condition: string;
    if (write.kind === 'count_in_window') {
      update = 'ADD #count :count, #total :amount';
      // Negative when the write counts more than the limit: then nothing fits.
      const fits = ['#start > :open_after', '#count <= :count_room'];
      values[':count_room'] = { N: String(write.limits.transferCountMax - write.transferCount) };
      if (write.limits.amountMax !== undefined) {
        // Negative when the amount alone is over the limit: then nothing fits.
        values[':room'] = { N: (write.limits.amountMax - write.amount).toString() };
        fits.push('#total <= :room');
      }
      condition = `${fits.join(' AND ')} AND ${limitsUnchanged}`;
    } else {
      update = 'SET #start = :now, #count = :count, #total = :amount';
      values[':now'] = { N: String(write.nowMs) };
      condition = `(attribute_not_exists(#start) OR #start <= :open_after) AND ${limitsUnchanged}`;
    }
    try {
      const { Attributes } = await this.dynamo.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: itemKey(accountId),
          UpdateExpression: update,
          ConditionExpression: condition,
          ExpressionAttributeNames: {
            '#start': 'window_start',
            '#count': 'transfer_count',
            '#total': 'amount_total',
            '#version': 'version',
          },
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
        callDeadline(signal),
      );
      return { counted: true, state: parseState(Attributes, accountId) };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        return { counted: false, state: parseState(error.Item, accountId) };
      }
      throw new VelocityStoreUnavailableError({
        cause: error,
        context: { operation: write.kind, accountId },
      });
    }
  }

  public async read(accountId: AccountId, signal?: AbortSignal): Promise<VelocityState> {
    try {
      const { Item } = await this.dynamo.send(
        new GetItemCommand({ TableName: this.tableName, Key: itemKey(accountId), ConsistentRead: true }),
        callDeadline(signal),
      );
      return parseState(Item, accountId);
    } catch (error) {
      throw new VelocityStoreUnavailableError({ cause: error, context: { operation: 'read', accountId } });
    }
  }

  public async release(
    accountId: AccountId,
    slot: { readonly windowStartMs: number; readonly amount: bigint; readonly transferCount: number },
    signal?: AbortSignal,
  ): Promise<VelocityState | undefined> {
    try {
      const { Attributes } = await this.dynamo.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: itemKey(accountId),
          UpdateExpression: 'ADD #count :minus_count, #total :minus_amount',
          // Window starts only grow (a window opens only after the last one closed), so an equal
          // start is the very window the slot was counted in.
          ConditionExpression: '#start = :start AND #count >= :count',
          ExpressionAttributeNames: {
            '#start': 'window_start',
            '#count': 'transfer_count',
            '#total': 'amount_total',
          },
          ExpressionAttributeValues: {
            ':start': { N: String(slot.windowStartMs) },
            ':count': { N: String(slot.transferCount) },
            ':minus_count': { N: String(-slot.transferCount) },
            ':minus_amount': { N: (-slot.amount).toString() },
          },
          ReturnValues: 'ALL_NEW',
        }),
        callDeadline(signal),
      );
      return parseState(Attributes, accountId);
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw new VelocityStoreUnavailableError({ cause: error, context: { operation: 'release', accountId } });
    }
  }

  public async putOverrides(
    accountId: AccountId,
    overrides: VelocityOverrides,
    version: bigint,
  ): Promise<void> {
    const set = ['#version = :version'];
    const remove: string[] = [];
    const values: Record<string, AttributeValue> = { ':version': { N: version.toString() } };
    const fields: [string, string, string | undefined][] = [
      ['#window_s', ':window_s', overrides.windowS === null ? undefined : String(overrides.windowS)],
      [
        '#max_transfers',
        ':max_transfers',
        overrides.transferCountMax === null ? undefined : String(overrides.transferCountMax),
      ],
      [
        '#max_amount',
        ':max_amount',
        overrides.amountMax === null ? undefined : overrides.amountMax.toString(),
      ],
    ];
    for (const [name, value, text] of fields) {
      if (text === undefined) {
        remove.push(name);
      } else {
        set.push(`${name} = ${value}`);
        values[value] = { N: text };
      }
    }
    try {
      await this.dynamo.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: itemKey(accountId),
          UpdateExpression: `SET ${set.join(', ')}${remove.length === 0 ? '' : ` REMOVE ${remove.join(', ')}`}`,
          ConditionExpression: 'attribute_not_exists(#version) OR #version <= :version',
          ExpressionAttributeNames: {
            '#version': 'version',
            '#window_s': 'window_s',
            '#max_transfers': 'max_transfers',
            '#max_amount': 'max_amount',
          },
          ExpressionAttributeValues: values,
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

function itemKey(accountId: AccountId): Record<string, AttributeValue> {
  return { pk: { S: `limits#${accountId}` } };
}

/** The item as the service sees it; an absent item is an account with neither limits nor window. */
function parseState(item: Record<string, AttributeValue> | undefined, accountId: AccountId): VelocityState {
  if (item === undefined) return { limits: undefined, window: undefined };
  const what = `the velocity item of ${accountId}`;
  const version = item.version === undefined ? undefined : wholeNumber(item.version, `${what}: version`);
  let window: VelocityWindow | undefined;
  if (item.window_start !== undefined) {
    window = {
      startMs: safeNumber(item.window_start, `${what}: window_start`),
      transferCount: safeNumber(item.transfer_count, `${what}: transfer_count`),
      amountTotal: wholeNumber(item.amount_total, `${what}: amount_total`),
    };
  }
  return {
    limits:
      version === undefined
        ? undefined
        : {
            version,
            overrides: {
              windowS: optional(item.window_s, (value) => safeNumber(value, `${what}: window_s`)),
              transferCountMax: optional(item.max_transfers, (value) =>
                safeNumber(value, `${what}: max_transfers`),
              ),
              amountMax: optional(item.max_amount, (value) => wholeNumber(value, `${what}: max_amount`)),
            },
          },
    window,
  };
}

/** An attribute that is absent or NULL means "take the default". */
function optional<T>(value: AttributeValue | undefined, parse: (value: AttributeValue) => T): T | null {
  return value === undefined || value.NULL === true ? null : parse(value);
}

/**
 * A whole DynamoDB number (or, as copies of the limits stored `max_amount` before, a string of
 * digits) read exactly into a bigint; DynamoDB keeps up to 38 digits.
 */
function wholeNumber(value: AttributeValue | undefined, what: string): bigint {
  const text = value?.N ?? value?.S;
  if (text === undefined || !/^-?[0-9]{1,38}$/.test(text)) {
    throw new Error(`assertion failed: ${what} is a whole number`);
  }
  return BigInt(text);
}

/** A whole number that fits a JavaScript number exactly: times in ms, counts, seconds. */
function safeNumber(value: AttributeValue | undefined, what: string): number {
  const whole = wholeNumber(value, what);
  if (whole > BigInt(Number.MAX_SAFE_INTEGER) || whole < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new Error(`assertion failed: ${what} is a safe integer`);
  }
  return Number.parseInt(whole.toString(), 10);
}
