/**
 * Powertools' DynamoDB persistence layer, taught to reserve the transfer id in the same writes it
 * makes anyway, so a submission's idempotency costs two calls (in progress, completed) and
 * reserving the id, keeping it across failures and recording the queued transfer for GET cost none.
 *
 * - `_putRecord` (the in-progress put) is one UpdateItem that sets Powertools' fields and, only if
 *   the key holds none yet, `transfer_id` and `accepted_at`, and answers the item as written. It
 *   succeeds when the key is new; when the key's record is past its expiry (the key is new again:
 *   a fresh transfer id is written, never the old one, which the ledger may already hold); or
 *   when the record is in progress past its in-progress expiry (an attempt that crashed, or one
 *   that failed and was released) and carries the same payload hash, so a kept transfer id never
 *   carries another body. Otherwise Powertools gets the record as it is, and answers it: the
 *   stored answer, 409 while in progress, 422 for another body.
 * - `_deleteRecord`, which Powertools calls when the submission throws, does not delete: it
 *   releases the record (its in-progress expiry set to now), keeping the transfer id, the
 *   acceptance time and the payload hash for `releasedRetentionS`, so a retry under the same key
 *   sends the same transfer id and a retry with another body is refused. It only releases the
 *   attempt that holds the record, never one that took it over since.
 * - `_updateRecord` (the completion) is one TransactWriteItems: Powertools' completion, and the
 *   record of the queued transfer that GET /v1/transfers/{id} reads until the ledger has it.
 *
 * A batch of transfers (`POST /v1/transfers/batch`) uses the same records under its own key
 * prefix, with two differences: an attempt may record its progress (`recordProgress`: which
 * items the velocity windows admitted, written before anything is sent), which a later attempt
 * under the key reads back with its reservation and which a key new again (past its expiry) loses;
 * and its completion writes no queued-transfer record (a thousand would not fit one transaction).
 *
 * A released record keeps Powertools' `INPROGRESS` status (with its in-progress expiry passed)
 * rather than a status of its own, so every record Powertools may read back is one it knows.
 *
 * The hooks learn which call of the guard they serve from `withAttempt` (async local storage):
 * Powertools hands them only the record, and one process may serve many calls at once.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import {
  IdempotencyItemAlreadyExistsError,
  IdempotencyRecordStatus,
} from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { IdempotencyRecord } from '@aws-lambda-powertools/idempotency/persistence';
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { newTransferId, parseTransferId, type TransferId } from '../../domain/ids';
import { parseTimestamp } from '../../domain/transfer';
import { ProgressNotRecordedError } from '../../ports/batch-submission';
import { cleanupCallTimeoutMs, type Reservation, type SubmissionAnswer } from '../../ports/submission';
import { callDeadline } from './call-deadline';
import { queuedTransferItem, queuedTransferRetentionS } from './queued-transfers';

/**
 * How long a released record keeps its transfer id: a week. A released attempt may have sent its
 * transfer (its outcome unknown), and the queue keeps a message four days: a retry under the same
 * key within the week sends the same id, which the queue or the ledger recognises.
 */
export const releasedRetentionS = 7 * 24 * 3600;

/** One call of the guard, as the hooks of the persistence layer see it. */
export interface SubmissionAttempt {
  /** A single transfer's submission, or a batch's. */
  readonly kind: 'transfer' | 'batch';
  /** Tells this attempt's hold on a record apart from an attempt that took the record over. */
  readonly attemptId: string;
  /** What the attempt reserves when the key holds no transfer id yet. */
  readonly candidate: { readonly transferId: TransferId; readonly acceptedAt: string };
  /** The submission's budget: bounds the in-progress put and the completion. */
  readonly signal: AbortSignal | undefined;
  /** The reservation the key holds, set by the in-progress put. */
  reservation?: Reservation;
  /** The record's key (Powertools' hash of the request key), set by the in-progress put. */
  idempotencyKey?: string;
  /** The submission's answer, set before Powertools stores the completion. */
  answer?: SubmissionAnswer;
}

export interface SubmissionRecordsOptions {
  readonly dynamo: DynamoDBClient;
  readonly tableName: string;
  /** The table's partition key and TTL attribute (the topology's). */
  readonly keyAttribute: string;
  readonly expiryAttribute: string;
  /** The clock for acceptance times; Powertools' expiries use the system clock. */
  readonly now?: () => Date;
}

/** Attribute names: Powertools' defaults, and ours beside them. */
const attribute = {
  status: 'status',
  inProgressExpiry: 'in_progress_expiration',
  data: 'data',
  validation: 'validation',
  transferId: 'transfer_id',
  acceptedAt: 'accepted_at',
  attemptId: 'attempt_id',
  releasedAt: 'released_at',
  progress: 'progress',
} as const;

export class SubmissionRecords extends DynamoDBPersistenceLayer {
  private readonly attempts = new AsyncLocalStorage<SubmissionAttempt>();
  private readonly dynamo: DynamoDBClient;
  private readonly table: string;
  private readonly keyAttribute: string;
  private readonly expiryAttribute: string;
  private readonly now: () => Date;

  public constructor(options: SubmissionRecordsOptions) {
    super({
      tableName: options.tableName,
      keyAttr: options.keyAttribute,
      expiryAttr: options.expiryAttribute,
      statusAttr: attribute.status,
      inProgressExpiryAttr: attribute.inProgressExpiry,
      dataAttr: attribute.data,
      validationKeyAttr: attribute.validation,
      awsSdkV3Client: options.dynamo,
    });
    this.dynamo = options.dynamo;
    this.table = options.tableName;
    this.keyAttribute = options.keyAttribute;
    this.expiryAttribute = options.expiryAttribute;
    this.now = options.now ?? (() => new Date());
  }

  /** A new attempt, with a fresh candidate transfer id (time-ordered) and acceptance time. */
  public newAttempt(
    signal: AbortSignal | undefined,
    kind: SubmissionAttempt['kind'] = 'transfer',
  ): SubmissionAttempt {
    const now = this.now();
    return {
      kind,
      attemptId: randomUUID(),
      candidate: { transferId: newTransferId(now.getTime()), acceptedAt: now.toISOString() },
      signal,
    };
  }

  /** Runs `work` (a Powertools-wrapped call) with `attempt` as the attempt the hooks serve. */
  public withAttempt<T>(attempt: SubmissionAttempt, work: () => Promise<T>): Promise<T> {
    return this.attempts.run(attempt, work);
  }

  /** The attempt the current call serves. */
  public currentAttempt(): SubmissionAttempt {
    const attempt = this.attempts.getStore();
    if (attempt === undefined)
      throw new Error('assertion failed: the submission records are used within an attempt');
    return attempt;
  }

  protected override async _putRecord(record: IdempotencyRecord): Promise<void> {
    if (!this.isPayloadValidationEnabled() || record.payloadHash === undefined) {
      throw new Error('assertion failed: submission records are validated by their payload hash');
    }
    if (record.expiryTimestamp === undefined || record.inProgressExpiryTimestamp === undefined) {
      throw new Error('assertion failed: an in-progress record has both expiries');
    }
    const attempt = this.currentAttempt();
    attempt.idempotencyKey = record.idempotencyKey;
    const nowMs = Date.now();
    const names = this.names();
    const values: Record<string, AttributeValue> = {
      ':expiry': { N: String(record.expiryTimestamp) },
      ':in_progress': { S: IdempotencyRecordStatus.INPROGRESS },
      ':in_progress_expiry': { N: String(record.inProgressExpiryTimestamp) },
      ':validation': { S: record.payloadHash },
      ':attempt': { S: attempt.attemptId },
      ':candidate_id': { S: attempt.candidate.transferId },
      ':candidate_at': { S: attempt.candidate.acceptedAt },
      ':now': { N: String(nowMs / 1000) },
    };
    const held =
      'SET #expiry = :expiry, #status = :in_progress, #in_progress_expiry = :in_progress_expiry, ' +
      '#validation = :validation, #attempt = :attempt';
    let old: Record<string, AttributeValue> | undefined;
    try {
      const written = await this.update(record.idempotencyKey, attempt.signal, {
        UpdateExpression: `${held}, #transfer_id = if_not_exists(#transfer_id, :candidate_id), #accepted_at = if_not_exists(#accepted_at, :candidate_at) REMOVE #released_at`,
        ConditionExpression:
          'attribute_not_exists(#id) OR (#expiry >= :now AND #status = :in_progress AND ' +
          '#in_progress_expiry < :now_ms AND #validation = :validation)',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: { ...values, ':now_ms': { N: String(nowMs) } },
      });
      attempt.reservation = this.reservationFrom(written, attempt);
      return;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      old = error.Item;
    }
    if (old === undefined) throw new Error('assertion failed: a failed condition on an absent item');
    if (expiryOf(old, this.expiryAttribute) >= nowMs / 1000) {
      throw new IdempotencyItemAlreadyExistsError(
        `the idempotency key ${record.idempotencyKey} is held`,
        this.recordFrom(old),
      );
    }
    // The record outlived its expiry (TTL deletes late): the key is new again, with a new id.
    try {
      const written = await this.update(record.idempotencyKey, attempt.signal, {
        UpdateExpression: `${held}, #transfer_id = :candidate_id, #accepted_at = :candidate_at REMOVE #data, #released_at, #progress`,
        ConditionExpression: '#expiry < :now',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      });
      attempt.reservation = this.reservationFrom(written, attempt);
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException) || error.Item === undefined) throw error;
      throw new IdempotencyItemAlreadyExistsError(
        `the idempotency key ${record.idempotencyKey} is held`,
        this.recordFrom(error.Item),
      );
    }
  }

  protected override async _deleteRecord(record: IdempotencyRecord): Promise<void> {
    const attempt = this.currentAttempt();
    const now = Date.now();
    try {
      // Its own deadline: the submission's budget may be spent by the time it failed.
      await this.update(record.idempotencyKey, AbortSignal.timeout(cleanupCallTimeoutMs), {
        UpdateExpression:
          'SET #in_progress_expiry = :released_ms, #released_at = :released_at, #expiry = :expiry',
        // Only the attempt that holds the record releases it: one that took the record over since
        // may still be running.
        ConditionExpression: '#attempt = :attempt',
        ExpressionAttributeNames: {
          '#in_progress_expiry': attribute.inProgressExpiry,
          '#released_at': attribute.releasedAt,
          '#expiry': this.expiryAttribute,
          '#attempt': attribute.attemptId,
        },
        ExpressionAttributeValues: {
          // Just before now: any later attempt finds the in-progress expiry passed.
          ':released_ms': { N: String(now - 1) },
          ':released_at': { S: new Date(now).toISOString() },
          ':expiry': { N: String(Math.floor(now / 1000) + releasedRetentionS) },
          ':attempt': { S: attempt.attemptId },
        },
      });
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return;
      throw new Error(`the idempotency key ${record.idempotencyKey} could not be released`, { cause: error });
    }
  }

  /**
   * Records an attempt's progress on the record it holds. Throws `ProgressNotRecordedError` when
   * the attempt no longer holds it (nothing was written), and the SDK's error otherwise (the write
   * may or may not have been made).
   */
  public async recordProgress(
    attempt: SubmissionAttempt,
    progress: string,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const { idempotencyKey } = attempt;
    if (idempotencyKey === undefined) throw new Error('assertion failed: progress is recorded on a held key');
    try {
      await this.update(idempotencyKey, signal, {
        UpdateExpression: 'SET #progress = :progress',
        ConditionExpression: '#attempt = :attempt AND #status = :in_progress',
        ExpressionAttributeNames: this.names(),
        ExpressionAttributeValues: {
          ':progress': { S: progress },
          ':attempt': { S: attempt.attemptId },
          ':in_progress': { S: IdempotencyRecordStatus.INPROGRESS },
        },
      });
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        throw new ProgressNotRecordedError({ cause: error, context: { attemptId: attempt.attemptId } });
      }
      throw error;
    }
  }

  protected override async _updateRecord(record: IdempotencyRecord): Promise<void> {
    const { kind, answer, signal } = this.currentAttempt();
    if (typeof record.responseData !== 'string' || record.expiryTimestamp === undefined) {
      throw new Error('assertion failed: a completed record stores its answer as text, with an expiry');
    }
    // Powertools' own completion, unconditional as Powertools makes it: an attempt that sent its
    // transfers completes the key even if another attempt took it over meanwhile (both carry the
    // same transfers).
    const completion = {
      TableName: this.table,
      Key: this.getKey(record.idempotencyKey),
      UpdateExpression:
        'SET #expiry = :expiry, #status = :completed, #data = :data, #validation = :validation REMOVE #released_at',
      ExpressionAttributeNames: {
        '#expiry': this.expiryAttribute,
        '#status': attribute.status,
        '#data': attribute.data,
        '#validation': attribute.validation,
        '#released_at': attribute.releasedAt,
      },
      ExpressionAttributeValues: {
        ':expiry': { N: String(record.expiryTimestamp) },
        ':completed': { S: IdempotencyRecordStatus.COMPLETED },
        ':data': { S: record.responseData },
        ':validation': { S: record.payloadHash ?? '' },
      },
    };
    if (kind === 'batch') {
      await this.dynamo.send(new UpdateItemCommand(completion), callDeadline(signal));
      return;
    }
    if (answer === undefined) throw new Error('assertion failed: a completed submission has an answer');
    await this.dynamo.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          { Update: completion },
          {
            Put: {
              TableName: this.table,
              Item: queuedTransferItem(answer, {
                keyAttribute: this.keyAttribute,
                expiryAttribute: this.expiryAttribute,
                expiresAtS: Math.floor(Date.now() / 1000) + queuedTransferRetentionS,
              }),
            },
          },
        ],
      }),
      callDeadline(signal),
    );
  }

  private names(): Record<string, string> {
    return {
      '#id': this.keyAttribute,
      '#expiry': this.expiryAttribute,
      '#status': attribute.status,
      '#in_progress_expiry': attribute.inProgressExpiry,
      '#validation': attribute.validation,
      '#attempt': attribute.attemptId,
      '#transfer_id': attribute.transferId,
      '#accepted_at': attribute.acceptedAt,
      '#data': attribute.data,
      '#released_at': attribute.releasedAt,
      '#progress': attribute.progress,
    };
  }

  /** One UpdateItem on the idempotency item, answering the item as written. */
  private async update(
    idempotencyKey: string,
    signal: AbortSignal | undefined,
    input: Pick<
      ConstructorParameters<typeof UpdateItemCommand>[0],
      'UpdateExpression' | 'ConditionExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues'
    >,
  ): Promise<Record<string, AttributeValue>> {
    const { Attributes } = await this.dynamo.send(
      new UpdateItemCommand({
        TableName: this.table,
        Key: this.getKey(idempotencyKey),
        ...input,
        // Expression names unused by an expression are refused by DynamoDB.
        ExpressionAttributeNames: usedNames(input),
        ReturnValues: 'ALL_NEW',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
      callDeadline(signal),
    );
    if (Attributes === undefined) throw new Error('assertion failed: an update answers the item it wrote');
    return Attributes;
  }

  private reservationFrom(item: Record<string, AttributeValue>, attempt: SubmissionAttempt): Reservation {
    const transferId = parseTransferId(item[attribute.transferId]?.S);
    const acceptedAt = parseTimestamp(item[attribute.acceptedAt]?.S);
    if (transferId === undefined || acceptedAt === undefined) {
      throw new Error(
        'assertion failed: a held idempotency record carries its transfer id and acceptance time',
      );
    }
    const progress = item[attribute.progress]?.S;
    return {
      transferId,
      acceptedAt,
      checkedAt: attempt.candidate.acceptedAt,
      ...(progress === undefined ? {} : { progress }),
    };
  }

  /** The record Powertools would have read, from the item a failed condition answered. */
  private recordFrom(item: Record<string, AttributeValue>): IdempotencyRecord {
    const status = item[attribute.status]?.S;
    const known = Object.values(IdempotencyRecordStatus).find((value) => value === status);
    const key = item[this.keyAttribute]?.S;
    if (known === undefined || key === undefined) {
      throw new Error(`assertion failed: the idempotency record has a key and a known status, not ${status}`);
    }
    const inProgressExpiry = item[attribute.inProgressExpiry]?.N;
    return new IdempotencyRecord({
      idempotencyKey: key,
      status: known,
      expiryTimestamp: expiryOf(item, this.expiryAttribute),
      ...(inProgressExpiry === undefined
        ? {}
        : { inProgressExpiryTimestamp: Number.parseInt(inProgressExpiry, 10) }),
      ...(item[attribute.data]?.S === undefined ? {} : { responseData: item[attribute.data]?.S }),
      ...(item[attribute.validation]?.S === undefined ? {} : { payloadHash: item[attribute.validation]?.S }),
    });
  }
}

function expiryOf(item: Record<string, AttributeValue>, expiryAttribute: string): number {
  const text = item[expiryAttribute]?.N;
  if (text === undefined || !/^[0-9]{1,12}$/.test(text)) {
    throw new Error('assertion failed: an idempotency record has a whole expiry in seconds');
  }
  return Number.parseInt(text, 10);
}

/** The expression attribute names an update's expressions use. */
function usedNames(input: {
  readonly UpdateExpression?: string | undefined;
  readonly ConditionExpression?: string | undefined;
  readonly ExpressionAttributeNames?: Record<string, string> | undefined;
}): Record<string, string> {
  const text = `${input.UpdateExpression ?? ''} ${input.ConditionExpression ?? ''}`;
  return Object.fromEntries(
    Object.entries(input.ExpressionAttributeNames ?? {}).filter(([name]) =>
      new RegExp(`${name}\\b`).test(text),
    ),
  );
}
