/**
 * The ports bulk submission needs beyond a single submission's: an idempotency guard that also
 * keeps the batch's progress under its key, the debit accounts' velocity admission of several
 * transfers at once, and a queue that sends many transfers in few calls. Each lists the outcomes
 * it can return.
 */
import type { AccountId } from '../domain/ids';
import type { TransferCommand } from '../domain/transfer';
import type { BatchAdmissionDecision, VelocityLimits } from '../domain/velocity';
import { TransientError } from '../errors';
import type { RequestKey, Reservation } from './submission';

/**
 * Records what an attempt decided before it sends anything, under the key it holds, so that a
 * later attempt under the same key reuses the decision instead of making it again. `record`
 * throws `ProgressNotRecordedError` when the attempt no longer holds the key (nothing was
 * written), and another `TransientError` when the write's outcome is unknown.
 */
export interface ProgressRecorder {
  record(progress: string, signal?: AbortSignal): Promise<void>;
}

/**
 * Runs a batch submission at most once at a time per request key, and answers a repeat of a
 * completed request with its first answer.
 *
 * `run` reserves an id for the key (the one an earlier attempt under the key reserved, or a fresh
 * one), with the progress an earlier attempt recorded (`reservation.progress`), and calls `work`.
 * It returns the answer `work` returned (stored under the key), or the stored answer of a completed
 * earlier request with the same body. When `work` returned but the completion could not be
 * stored, `run` still returns its answer. It throws:
 * - what `work` threw; the key is released, keeping its id, body and progress, so the same
 *   request may be retried under it;
 * - `SubmissionInProgressError` while another attempt holds the key;
 * - `IdempotencyKeyReusedError` when the key was used with another body;
 * - `IdempotencyStoreUnavailableError` when the key could not be checked (nothing ran).
 *
 * `body` is the request in a canonical JSON form: its hash tells a repeat from another request.
 */
export interface BatchIdempotencyGuard {
  run(
    key: RequestKey,
    body: unknown,
    work: (reservation: Reservation, progress: ProgressRecorder) => Promise<string>,
    signal?: AbortSignal,
  ): Promise<string>;
}

/** The attempt no longer holds its key (another took it over): its progress was not written. */
export class ProgressNotRecordedError extends TransientError {
  public constructor(options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super('the batch progress was not recorded: the attempt no longer holds its key', options);
    this.name = 'ProgressNotRecordedError';
  }
}

/**
 * The transfers queue, many at a time. `sendAll` queues every transfer in its debit account's
 * message group, deduplicated by transfer id, in as few calls as the queue allows (10 per call);
 * the transfers of one debit account are sent in the order given. Sending a transfer again is
 * always safe. It throws `TransferBatchNotQueuedError` when some transfers may not be queued
 * (each of the others is); the caller sends them all again.
 */
export interface TransferBatchQueue {
  sendAll(transfers: readonly TransferCommand[], signal?: AbortSignal): Promise<void>;
  /**
   * Queues an atomic set as one message, in its first leg's debit account's message group,
   * deduplicated by its first leg's id. Sending it again is always safe. Throws
   * `TransferBatchNotQueuedError` when it may not be queued.
   */
  sendSet(legs: readonly TransferCommand[], signal?: AbortSignal): Promise<void>;
}

/** Some transfers of a batch were not (or may not have been) queued; sending all again is safe. */
export class TransferBatchNotQueuedError extends TransientError {
  public constructor(options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super('some transfers of the batch may not be queued', options);
    this.name = 'TransferBatchNotQueuedError';
  }
}

/** An atomic batch whose set does not fit one queue message: nothing was written. */
export class AtomicSetTooLargeError extends Error {
  public constructor(
    public readonly messageBytes: number,
    public readonly messageBytesMax: number,
  ) {
    super(`the atomic set's message would be ${messageBytes} bytes, over ${messageBytesMax}`);
    this.name = 'AtomicSetTooLargeError';
  }
}

/** Transfers of one debit account counted together in its window, so they can be given back. */
export interface SeveralSlot {
  readonly debitAccountId: AccountId;
  /** The start of the window they were counted in (milliseconds since the epoch). */
  readonly windowStartMs: number;
  readonly transferCount: number;
  /** Their amounts' sum, minor units. */
  readonly amount: bigint;
  readonly admittedAt: Date;
}

/** What the window decided for several transfers of one debit account. */
export interface SeveralAdmitted {
  /** Per transfer, in the order given. */
  readonly decisions: readonly BatchAdmissionDecision[];
  /** The limits they were decided under. */
  readonly limits: VelocityLimits;
  /** The slot the admitted ones hold together; undefined when none was admitted. */
  readonly slot: SeveralSlot | undefined;
}

/**
 * The debit account's velocity limit, for several transfers at once.
 *
 * - `admitSeveral` decides, in order, which of the account's transfers its window admits, as if
 *   each were submitted on its own after the ones before, and counts the admitted ones. It throws
 *   `VelocityContentionError` past its attempt bound, and `TransientError` when the window could
 *   not be written (the transfers may then have been counted).
 * - `releaseSeveral` gives a slot back, if its window is still the open one; throws
 *   `TransientError` when the window could not be written.
 */
export interface BatchVelocityAdmission {
  admitSeveral(
    debitAccountId: AccountId,
    amounts: readonly bigint[],
    signal?: AbortSignal,
  ): Promise<SeveralAdmitted>;
  releaseSeveral(slot: SeveralSlot, signal?: AbortSignal): Promise<void>;
}
