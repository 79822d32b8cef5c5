/**
 * Submitting a transfer: the API's half of posting. A validated request gets a transfer id, is
 * admitted by its debit account's velocity window, and is sent to the transfers queue; the
 * consumer posts it later.
 *
 * The submission runs inside an idempotency guard (Powertools' `makeIdempotent` on DynamoDB, in
 * the adapters), which reserves the transfer id for the request key before anything else happens
 * and keeps it when an attempt fails, so every attempt under one key sends the same transfer id:
 * the queue deduplicates a resend within its window and the ledger's unique transfer id answers
 * `exists` after it, so a transfer is never posted twice. A repeat of a completed request is
 * answered from the guard's record and never counted or sent again.
 *
 * What a failure means to the client: a 5xx other than "outcome unknown" means nothing was
 * queued. Once the send has returned, the answer is the transfer, whatever happens after.
 * - Refused by the velocity window: nothing was sent, the window did not count it.
 * - The queue refused the send, or could not be reached at all: nothing was queued, and the
 *   window's slot is given back, so a retry is not refused for a transfer that never went out.
 * - The send's outcome is unknown (a timeout, a connection lost): the transfer may be queued, so
 *   the slot is kept. A retry under the same key sends the same transfer id (deduplicated) and is
 *   counted once more: that can only refuse early, never admit past the limit.
 */
import type { AccountId, TransferId } from '../domain/ids';
import type { Metadata } from '../domain/metadata';
import { type CurrencyCode, formatMinorUnits } from '../domain/money';
import type { TransferCommand } from '../domain/transfer';
import type { Logger } from '../ports/logger';
import {
  cleanupCallTimeoutMs,
  type IdempotencyGuard,
  type RequestKey,
  type Reservation,
  type SubmissionAnswer,
  type SubmissionBody,
  TransferNotQueuedError,
  type TransferQueue,
  type VelocityAdmission,
  type VelocitySlot,
} from '../ports/submission';

/**
 * How long a submission may run: the submitting function's timeout (its definition takes it from
 * here). An attempt holds its idempotency key that long, after which it is surely gone, and a
 * client told the outcome is unknown is asked to wait that long, so its retry is not answered 409.
 */
export const submissionTimeoutMs = 10_000;

/** The submission's calls end this long before its timeout: time to clean up and answer. */
export const submissionAnswerMarginMs = 1_500;

/** A transfer as a client asks for it, validated, amounts in minor units. */
export interface TransferRequest {
  readonly debitAccountId: AccountId;
  readonly creditAccountId: AccountId;
  readonly amount: bigint;
  readonly currency: CurrencyCode;
  readonly metadata: Metadata;
}

export interface TransferSubmissionOptions {
  /**
   * How long one submission's calls may take, all together: the function's timeout less the time
   * the clean-up calls and the answer need, so a stalled dependency is answered before Lambda (or
   * middy) gives up on the invocation.
   */
  readonly budgetMs: number;
  readonly guard: IdempotencyGuard;
  readonly velocity: VelocityAdmission;
  readonly queue: TransferQueue;
  readonly logger: Logger;
  /** The clock, for tests. */
  readonly now?: () => Date;
}

export class TransferSubmission {
  private readonly now: () => Date;

  public constructor(private readonly options: TransferSubmissionOptions) {
    this.now = options.now ?? (() => new Date());
  }

  /**
   * Submits a validated transfer request under a key and returns the transfer as it was queued:
   * the same transfer (id, acceptance time) for every repeat of the same request.
   *
   * Throws what the guard throws (`SubmissionInProgressError`, `IdempotencyKeyReusedError`,
   * `IdempotencyStoreUnavailableError`), `VelocityExceededError` when the debit account's window
   * is full, `TransferQueueOutcomeUnknownError` when the transfer may have been queued, and
   * another `TransientError` when nothing was queued.
   */
  public submit(key: RequestKey, request: TransferRequest): Promise<TransferCommand> {
    const body: SubmissionBody = {
      debit_account_id: request.debitAccountId,
      credit_account_id: request.creditAccountId,
      amount: formatMinorUnits(request.amount),
      currency: request.currency,
      metadata: request.metadata,
    };
    const signal = AbortSignal.timeout(this.options.budgetMs);
    return this.options.guard.run(
      key,
      body,
      (reservation) => this.submitOnce(key, request, reservation, signal),
      signal,
    );
  }

  /** One attempt under the key, with the transfer id the guard reserved for it. */
  private async submitOnce(
    key: RequestKey,
    request: TransferRequest,
    reservation: Reservation,
    signal: AbortSignal,
  ): Promise<SubmissionAnswer> {
    const transfer: TransferCommand = {
      id: reservation.transferId,
      debitAccountId: request.debitAccountId,
      creditAccountId: request.creditAccountId,
      amount: request.amount,
      currency: request.currency,
      metadata: request.metadata,
      acceptedAt: reservation.acceptedAt,
    };
    const slot = await this.options.velocity.admit(
      { debitAccountId: transfer.debitAccountId, amount: transfer.amount },
      signal,
    );
    // Stamped before the send: the consumer may post the transfer before the send even returns,
    // and the timeline must not show it posted before it was queued.
    const queuedAt = this.now().toISOString();
    try {
      await this.options.queue.send(transfer, signal);
    } catch (error) {
      if (error instanceof TransferNotQueuedError) await this.giveBack(slot, transfer.id);
      throw error;
    }
    this.options.logger.info('transfer queued', { transferId: transfer.id, apiKeyId: key.apiKeyId });
    return {
      transfer,
      steps: {
        idempotencyCheckedAt: reservation.checkedAt,
        velocityCheckedAt: slot.admittedAt.toISOString(),
        queuedAt,
      },
    };
  }

  /**
   * Gives the slot of a transfer that was surely not queued back to its window. A failure here
   * leaves the slot counted, which refuses early at worst; the client's answer stays the send's.
   */
  private async giveBack(slot: VelocitySlot, transferId: TransferId): Promise<void> {
    try {
      // Its own deadline: the submission's budget may be spent by now.
      await this.options.velocity.release(slot, AbortSignal.timeout(cleanupCallTimeoutMs));
    } catch (error) {
      this.options.logger.warn(
        'velocity slot of an unsent transfer not given back; it counts until its window closes',
        {
          transferId,
          debitAccountId: slot.debitAccountId,
          error,
        },
      );
    }
  }
}
