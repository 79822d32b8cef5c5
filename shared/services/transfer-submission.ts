/**
 * Submitting a transfer: the API's half of posting. A validated request is given a transfer id,
 * sent to the transfers queue and recorded as queued; the consumer posts it later.
 *
 * The submission is idempotent per (API key, Idempotency-Key) through Powertools' `makeIdempotent`
 * wrapped around the inner function (not the middy middleware, whose error hook deletes the
 * record even when its own before-hook refused a duplicate, upstream issue #5675, so a duplicate
 * could run twice). A repeated request with the same body gets the first answer; with another
 * body, `IdempotencyKeyReusedError`; while the first still runs, `SubmissionInProgressError`.
 * When the inner function throws, Powertools deletes its record, so the key may be retried.
 *
 * The transfer id must survive such a retry after a partial failure (the message was sent but the
 * answer was lost): it is reserved under the key in the transfer-requests store before anything
 * is sent, and a retry reuses it. The queue deduplicates a resend within its window and the
 * ledger's unique transfer id answers `exists` after it, so a transfer is never posted twice.
 *
 * The velocity check runs inside the idempotent function, after the reservation: a replay of an
 * accepted request is answered from the idempotency record and never counted again, a retry
 * under the same key counts its (reserved) transfer id at most once, and a refusal throws, which
 * releases the key so the same request may be tried again once the window admits it.
 */
import { createHash } from 'node:crypto';
import {
  IdempotencyAlreadyInProgressError,
  IdempotencyConfig,
  IdempotencyInconsistentStateError,
  IdempotencyPersistenceLayerError,
  IdempotencyValidationError,
  makeIdempotent,
} from '@aws-lambda-powertools/idempotency';
import type { BasePersistenceLayer } from '@aws-lambda-powertools/idempotency/persistence';
import type { Context } from 'aws-lambda';
import { type AccountId, newTransferId, type TransferId } from '../domain/ids';
import type { Metadata } from '../domain/metadata';
import { type CurrencyCode, formatMinorUnits } from '../domain/money';
import {
  parseTransferMessage,
  type TransferCommand,
  type TransferMessage,
  toTransferMessage,
} from '../domain/transfer';
import { LedgerError, TransientError } from '../errors';
import type { Logger } from '../ports/logger';

/** How long a key answers with its first result: a day, the usual window for client retries. */
export const idempotencyWindowS = 86_400;

/**
 * How long a request may hold its key before another may take it over: the submitting
 * function's timeout (its definition uses this), after which the first invocation is surely gone.
 */
export const submissionInProgressMsMax = 10_000;

/** A transfer as a client asks for it, validated, amounts in minor units. */
export interface TransferRequest {
  readonly debitAccountId: AccountId;
  readonly creditAccountId: AccountId;
  readonly amount: bigint;
  readonly currency: CurrencyCode;
  readonly metadata: Metadata;
}

/** Who asked, and under which key. */
export interface RequestKey {
  /** The id of the API key the request came with (not the key itself). */
  readonly apiKeyId: string;
  readonly idempotencyKey: string;
}

/** The transfer id and acceptance time reserved for a request key, and what the request was. */
export interface Reservation {
  readonly transferId: TransferId;
  readonly acceptedAt: string;
  /** A hash of the request body, so a retry with another body under the same key is refused. */
  readonly requestHash: string;
}

/**
 * The transfers queue.
 *
 * `send` queues the transfer in its debit account's message group, deduplicated by transfer id.
 * It throws `TransientError` when the send failed; the message may or may not be queued then,
 * and sending the same transfer again is safe.
 */
export interface TransferQueue {
  send(transfer: TransferCommand): Promise<void>;
}

/** When the submission's steps happened, for the transfer's timeline (ISO 8601 times). */
export interface SubmissionSteps {
  /** The idempotent function started: Powertools let the request through. */
  readonly idempotencyCheckedAt: string;
  /** The debit account's velocity window admitted the transfer. */
  readonly velocityCheckedAt: string;
  /** Just before the transfer was sent to the queue. */
  readonly queuedAt: string;
}

/**
 * The debit account's velocity limit. `admit` counts the transfer in its window (once per
 * transfer id) and returns when; it throws `VelocityExceededError` when the transfer does not
 * fit, and `TransientError` when the window could not be read or written.
 */
export interface VelocityCheck {
  admit(transfer: {
    readonly transferId: string;
    readonly debitAccountId: AccountId;
    readonly amount: bigint;
  }): Promise<Date>;
}

/**
 * The API's record of requests (kept for a bounded time).
 *
 * - `reserve` stores the candidate reservation under the key unless one is already there, and
 *   returns the stored one: the candidate, or the reservation of an earlier attempt.
 * - `recordQueued` records that the transfer was sent to the queue, with the times of its steps
 *   (a repeat changes nothing).
 *
 * Both throw `TransientError` when the store is unavailable; nothing is then known to be written.
 */
export interface TransferRequestStore {
  reserve(key: RequestKey, candidate: Reservation): Promise<Reservation>;
  recordQueued(transfer: TransferCommand, steps: SubmissionSteps): Promise<void>;
}

/** Another request with the same key is being processed; the client should retry later. */
export class SubmissionInProgressError extends LedgerError {
  public constructor(options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super('a request with this idempotency key is in progress', options);
    this.name = 'SubmissionInProgressError';
  }
}

/** The idempotency key was used before for another request body. */
export class IdempotencyKeyReusedError extends LedgerError {
  public constructor(options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super('this idempotency key was used for a different request', options);
    this.name = 'IdempotencyKeyReusedError';
  }
}

/** The idempotency store could not be read or written; the request may be retried as it is. */
export class IdempotencyStoreUnavailableError extends TransientError {
  public constructor(options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super('the idempotency store is unavailable', options);
    this.name = 'IdempotencyStoreUnavailableError';
  }
}

/** What the idempotent function is called with: JSON only, since Powertools hashes and stores it. */
interface SubmissionPayload {
  readonly apiKeyId: string;
  readonly idempotencyKey: string;
  /** The request body in canonical JSON form (amount as a decimal string). */
  readonly body: {
    readonly debit_account_id: string;
    readonly credit_account_id: string;
    readonly amount: string;
    readonly currency: string;
    readonly metadata: Metadata;
  };
}

export interface TransferSubmissionOptions {
  readonly queue: TransferQueue;
  readonly requests: TransferRequestStore;
  readonly velocity: VelocityCheck;
  /** Where Powertools keeps its idempotency records (DynamoDB in production and tests). */
  readonly idempotencyStore: BasePersistenceLayer;
  /**
   * How long a request may hold its key before another may take it over: the function's
   * timeout, after which the first invocation is surely gone.
   */
  readonly inProgressMsMax: number;
  readonly logger: Logger;
  /** The clock, for tests. */
  readonly now?: () => Date;
}

export class TransferSubmission {
  private readonly submitOnce: (payload: SubmissionPayload) => Promise<string>;
  private readonly now: () => Date;

  public constructor(private readonly options: TransferSubmissionOptions) {
    this.now = options.now ?? (() => new Date());
    this.submitOnce = makeIdempotent((payload: SubmissionPayload) => this.submitInner(payload), {
      persistenceStore: options.idempotencyStore,
      // A fixed prefix, so the keys do not depend on the deployed function's name.
      keyPrefix: 'ledgerx.submit-transfer',
      config: new IdempotencyConfig({
        eventKeyJmesPath: '[apiKeyId, idempotencyKey]',
        payloadValidationJmesPath: 'body',
        throwOnNoIdempotencyKey: true,
        expiresAfterSeconds: idempotencyWindowS,
        lambdaContext: inProgressBound(options.inProgressMsMax),
      }),
    });
  }

  /**
   * Submits a validated transfer request under a key and returns the transfer as it was queued:
   * the same transfer (id, acceptance time) for every repeat of the same request.
   *
   * Throws `SubmissionInProgressError` while another request holds the key,
   * `IdempotencyKeyReusedError` when the key was used for another body, and `TransientError`
   * when the queue or a store is unavailable (the key is then free to retry).
   */
  public async submit(key: RequestKey, request: TransferRequest): Promise<TransferCommand> {
    const payload: SubmissionPayload = {
      apiKeyId: key.apiKeyId,
      idempotencyKey: key.idempotencyKey,
      body: {
        debit_account_id: request.debitAccountId,
        credit_account_id: request.creditAccountId,
        amount: formatMinorUnits(request.amount),
        currency: request.currency,
        metadata: request.metadata,
      },
    };
    let answer: string;
    try {
      answer = await this.submitOnce(payload);
    } catch (error) {
      throw translateIdempotencyError(error);
    }
    const parsed = parseTransferMessage(answer);
    if (!parsed.ok)
      throw new Error(`assertion failed: a stored submission answer is a transfer: ${parsed.reason}`);
    return parsed.value;
  }

  /**
   * The submission itself, run at most once per key at a time. It answers the queue message's
   * JSON text: a string, so Powertools stores it as it is (DynamoDB numbers could not hold every
   * JSON number metadata may carry).
   */
  private async submitInner(payload: SubmissionPayload): Promise<string> {
    // Powertools runs this body only once it has taken the key. The first attempt is accepted at
    // the same instant, so the timeline's times never go backwards.
    const idempotencyCheckedAt = this.now().toISOString();
    const key = { apiKeyId: payload.apiKeyId, idempotencyKey: payload.idempotencyKey };
    const requestHash = hashBody(payload.body);
    const reservation = await this.options.requests.reserve(key, {
      transferId: newTransferId(),
      acceptedAt: idempotencyCheckedAt,
      requestHash,
    });
    // An earlier attempt under this key failed after reserving, and its key was released; it may
    // have been sent, so the reserved id must not carry another body.
    if (reservation.requestHash !== requestHash) throw new IdempotencyKeyReusedError({ context: key });
    const message: TransferMessage = {
      id: reservation.transferId,
      ...payload.body,
      accepted_at: reservation.acceptedAt,
    };
    const parsed = parseTransferMessage(JSON.stringify(message));
    if (!parsed.ok)
      throw new Error(`assertion failed: a validated request makes a transfer: ${parsed.reason}`);
    const transfer = parsed.value;
    const velocityChecked = await this.options.velocity.admit({
      transferId: transfer.id,
      debitAccountId: transfer.debitAccountId,
      amount: transfer.amount,
    });
    // Stamped before the send: the consumer may post the transfer before the send even returns,
    // and the timeline must not show it posted before it was queued.
    const queuedAt = this.now().toISOString();
    await this.options.queue.send(transfer);
    await this.options.requests.recordQueued(transfer, {
      idempotencyCheckedAt,
      velocityCheckedAt: velocityChecked.toISOString(),
      queuedAt,
    });
    this.options.logger.info('transfer queued', { transferId: transfer.id, apiKeyId: key.apiKeyId });
    return JSON.stringify(toTransferMessage(transfer));
  }
}

/** Powertools' errors as the service's own, so callers need not know Powertools. */
function translateIdempotencyError(error: unknown): unknown {
  if (error instanceof IdempotencyAlreadyInProgressError)
    return new SubmissionInProgressError({ cause: error });
  if (error instanceof IdempotencyValidationError) return new IdempotencyKeyReusedError({ cause: error });
  if (
    error instanceof IdempotencyPersistenceLayerError ||
    error instanceof IdempotencyInconsistentStateError
  ) {
    return new IdempotencyStoreUnavailableError({ cause: error });
  }
  return error;
}

/**
 * Powertools sets a record's in-progress expiry from the Lambda context's remaining time. A
 * plain function has no context, and without an expiry a record left by an invocation that died
 * would hold its key for the whole idempotency window; this fixed bound lets the key be taken
 * over once the first invocation has surely ended. Only `getRemainingTimeInMillis` is read.
 */
function inProgressBound(inProgressMsMax: number): Context {
  const unused = (): never => {
    throw new Error('not a Lambda context');
  };
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'submit-transfer',
    functionVersion: '$LATEST',
    invokedFunctionArn: '',
    memoryLimitInMB: '0',
    awsRequestId: '',
    logGroupName: '',
    logStreamName: '',
    getRemainingTimeInMillis: () => inProgressMsMax,
    done: unused,
    fail: unused,
    succeed: unused,
  };
}

/** A hash of a request body that does not depend on the order of its keys. */
function hashBody(body: SubmissionPayload['body']): string {
  return createHash('sha256').update(canonicalJson(body)).digest('base64url');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
