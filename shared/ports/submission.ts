/**
 * The ports the transfer submission needs: the idempotency guard around it, the debit account's
 * velocity admission, and the transfers queue. Each lists the outcomes it can return; the errors
 * are declared here so the adapters that raise them and the service that tells them apart share
 * one definition.
 */
import type { AccountId, TransferId } from '../domain/ids';
import type { JsonValue } from '../domain/metadata';
import type { LedgerCommand, ReferencedTransfer } from '../domain/transfer';
import type { VelocityLimits } from '../domain/velocity';
import { LedgerError, TransientError } from '../errors';

/**
 * How long a clean-up call after a failed attempt (giving a velocity slot back, releasing the
 * key) may take, all the SDK's attempts together. It runs when the submission's budget may be
 * spent already, so it has a deadline of its own, short enough to fit before the function's.
 */
export const cleanupCallTimeoutMs = 1_000;

/** Who asked, and under which key. */
export interface RequestKey {
  /** The id of the API key the request came with (not the key itself). */
  readonly apiKeyId: string;
  readonly idempotencyKey: string;
}

/**
 * A request in its canonical JSON form (amounts as decimal strings), as the guard hashes it: two
 * bodies that differ only in the order of their keys are the same request. A plain transfer's is
 * `{debit_account_id, credit_account_id, amount, currency, metadata}`, as it has always been, so
 * keys stored by earlier versions still match; the other routes add what tells them apart (the
 * operation and the transfer it names), so one key cannot stand for two kinds of request.
 */
export type SubmissionBody = { readonly [field: string]: JsonValue };

/** The transfer id and acceptance time a request key holds, and when this attempt got them. */
export interface Reservation {
  readonly transferId: TransferId;
  /** When the key's first attempt was accepted: the transfer's `accepted_at`. */
  readonly acceptedAt: string;
  /** When this attempt passed the idempotency check (equal to `acceptedAt` on the first). */
  readonly checkedAt: string;
  /** What an earlier attempt under the key recorded before it failed (batches only). */
  readonly progress?: string;
}

/** When the submission's steps happened, for the transfer's timeline (ISO 8601 times). */
export interface SubmissionSteps {
  /** The guard let the request through. */
  readonly idempotencyCheckedAt: string;
  /**
   * The debit account's velocity window admitted the transfer; undefined for a post or void,
   * which move money a pending transfer already counted, and for a reversal of a transfer the
   * API did not find.
   */
  readonly velocityCheckedAt: string | undefined;
  /** Just before the transfer was sent to the queue. */
  readonly queuedAt: string;
}

/** What a successful submission answers: the transfer as queued, and its steps. */
export interface SubmissionAnswer {
  readonly transfer: LedgerCommand;
  readonly steps: SubmissionSteps;
}

/**
 * Runs a submission at most once at a time per request key, and answers a repeat of a completed
 * request with its first answer.
 *
 * `run` reserves a transfer id for the key (the one an earlier attempt under the key reserved, or
 * a fresh one) and calls `work` with it. It returns the transfer `work` answered, or the stored
 * transfer of a completed earlier request with the same body. When `work` returned but the guard
 * could not store its completion, `run` still returns the transfer (the key then stays held until
 * its in-progress bound passes, and a retry after that runs `work` again with the same transfer
 * id). It throws:
 * - what `work` threw; the key is released, keeping its transfer id and body, so the same request
 *   may be retried under it;
 * - `SubmissionInProgressError` while another attempt holds the key;
 * - `IdempotencyKeyReusedError` when the key was used with another body;
 * - `IdempotencyStoreUnavailableError` when the key could not be checked (nothing ran).
 *
 * `signal`, when given, bounds the guard's own calls (an aborted call fails as the store would).
 */
export interface IdempotencyGuard {
  run(
    key: RequestKey,
    body: SubmissionBody,
    work: (reservation: Reservation) => Promise<SubmissionAnswer>,
    signal?: AbortSignal,
  ): Promise<LedgerCommand>;
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

/** The idempotency store could not be read or written; nothing ran, the request may be retried. */
export class IdempotencyStoreUnavailableError extends TransientError {
  public constructor(options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super('the idempotency store is unavailable', options);
    this.name = 'IdempotencyStoreUnavailableError';
  }
}

/**
 * The transfers queue. `send` queues the transfer in its message group (`messageGroupOf`: its
 * debit account, or the debit account of the transfer it names), deduplicated by transfer id;
 * sending the same transfer again is always safe. It throws
 * `TransferNotQueuedError` when the queue refused the send or could not be reached at all
 * (nothing was queued), and `TransferQueueOutcomeUnknownError` when the send may or may not have
 * been queued (a timeout, a connection lost mid-request, a server error, `signal` aborted while
 * the request was out).
 */
export interface TransferQueue {
  send(transfer: LedgerCommand, signal?: AbortSignal): Promise<void>;
}

/**
 * Where the API finds the transfer a post, void or reversal names, to queue it behind that
 * transfer and to count a reversal in its debit account's window. `locate` returns the named
 * transfer's accounts, amount and currency as the store holds them (a post, void or reversal
 * counts as the accounts it moved money between), or undefined when the store has no such
 * transfer (or one without accounts). Throws `TransientError` when the store is unavailable or
 * `signal` aborted the read.
 */
export interface TransferLocator {
  locate(id: TransferId, signal?: AbortSignal): Promise<ReferencedTransfer | undefined>;
}

/** The queue refused the transfer, or was never reached: it is not queued. */
export class TransferNotQueuedError extends TransientError {
  public constructor(options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super('the transfers queue did not take the transfer', options);
    this.name = 'TransferNotQueuedError';
  }
}

/** The send's answer never came: the transfer may be queued. Sending it again is safe. */
export class TransferQueueOutcomeUnknownError extends TransientError {
  public constructor(options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super('the transfers queue did not answer; the transfer may be queued', options);
    this.name = 'TransferQueueOutcomeUnknownError';
  }
}

/** A transfer counted in its debit account's window, so the count can be given back. */
export interface VelocitySlot {
  readonly debitAccountId: AccountId;
  readonly amount: bigint;
  /** The start of the window it was counted in (milliseconds since the epoch). */
  readonly windowStartMs: number;
  readonly admittedAt: Date;
}

/**
 * The debit account's velocity limit.
 *
 * - `admit` counts the transfer in the account's window and returns its slot. It throws
 *   `VelocityExceededError` when the transfer does not fit, `VelocityContentionError` when the
 *   window kept changing under it past its attempt bound, and `TransientError` when the window
 *   could not be written (the transfer may then have been counted).
 * - `release` gives a slot back, if its window is still the open one; throws `TransientError`
 *   when the window could not be written.
 *
 * `signal`, when given, bounds the calls (an aborted call fails as an unavailable store would).
 */
export interface VelocityAdmission {
  admit(
    transfer: { readonly debitAccountId: AccountId; readonly amount: bigint },
    signal?: AbortSignal,
  ): Promise<VelocitySlot>;
  release(slot: VelocitySlot, signal?: AbortSignal): Promise<void>;
}

/** The transfer would pass its debit account's velocity limit. */
export class VelocityExceededError extends LedgerError {
  public constructor(
    public readonly limit: 'transfer_count' | 'amount',
    public readonly limits: VelocityLimits,
    /** Whole seconds until the window would admit the transfer; undefined: never. */
    public readonly retryAfterS: number | undefined,
    options: { context?: Record<string, unknown> } = {},
  ) {
    super(`the transfer would pass the debit account's velocity limit (${limit})`, options);
    this.name = 'VelocityExceededError';
  }
}

/**
 * Every attempt at admission met a window that had changed since the attempt before: only a
 * pathological race does that (each failed attempt learns the window's state). The request may be
 * retried.
 */
export class VelocityContentionError extends TransientError {
  public constructor(options: { context?: Record<string, unknown> } = {}) {
    super('the velocity window kept changing past the attempt bound', options);
    this.name = 'VelocityContentionError';
  }
}
