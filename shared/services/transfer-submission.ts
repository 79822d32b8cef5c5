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
import type {
  LedgerCommand,
  ReferencedTransfer,
  ReferringCommand,
  ReferringKind,
  TransferCommand,
} from '../domain/transfer';
import type { Logger } from '../ports/logger';
import {
  cleanupCallTimeoutMs,
  type IdempotencyGuard,
  type RequestKey,
  type Reservation,
  type SubmissionAnswer,
  type SubmissionBody,
  type TransferLocator,
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
  /** Present for a pending transfer; its timeout, or undefined for the default. */
  readonly pending?: { readonly timeoutS: number | undefined };
}

/**
 * A request that names another transfer: the post or void of a pending transfer (`referenceId`
 * is the pending transfer), or a reversal (`referenceId` is the transfer to reverse). `amount`
 * (not for a void) is what to post or reverse, undefined for all of it.
 */
export interface ReferringRequest {
  readonly kind: ReferringKind;
  readonly referenceId: TransferId;
  readonly amount: bigint | undefined;
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
  /**
   * Where a post, void or reversal finds the transfer it names: the ledger first (the truth),
   * then the API's record of queued transfers (one the consumer has not reached yet).
   */
  readonly ledgerTransfers: TransferLocator;
  readonly queuedTransfers: TransferLocator;
  /** A pending transfer's timeout when the request gives none. */
  readonly pendingTimeoutSDefault: number;
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
  public submit(key: RequestKey, request: TransferRequest): Promise<LedgerCommand> {
    // The body as the client sent it (a pending transfer without a timeout hashes without one),
    // and for a plain transfer exactly the form earlier versions hashed.
    const body: SubmissionBody = {
      debit_account_id: request.debitAccountId,
      credit_account_id: request.creditAccountId,
      amount: formatMinorUnits(request.amount),
      currency: request.currency,
      metadata: request.metadata,
      ...(request.pending === undefined ? {} : { pending: true }),
      ...(request.pending?.timeoutS === undefined ? {} : { timeout_s: request.pending.timeoutS }),
    };
    return this.run(key, body, (reservation, signal) => this.submitOnce(key, request, reservation, signal));
  }

  /**
   * Submits the post or void of a pending transfer, or a reversal, under a key: the same path as
   * `submit`, and the same answers. The named transfer is looked up (ledger first, then the
   * queued transfers) to queue the request in that transfer's debit account's message group,
   * behind it; when it is found nowhere, the request is queued all the same and the ledger
   * answers it (`pending_transfer_not_found`, `transfer_not_found`). A post or void is not
   * counted in any velocity window: the pending transfer was, when it was submitted. A reversal
   * is counted in its own debit account's window (the reversed transfer's credit account).
   */
  public submitReferring(key: RequestKey, request: ReferringRequest): Promise<LedgerCommand> {
    const body: SubmissionBody = {
      operation: request.kind,
      [request.kind === 'reversal' ? 'reverses' : 'pending_id']: request.referenceId,
      ...(request.amount === undefined ? {} : { amount: formatMinorUnits(request.amount) }),
      metadata: request.metadata,
    };
    return this.run(key, body, (reservation, signal) =>
      this.submitReferringOnce(key, request, reservation, signal),
    );
  }

  private run(
    key: RequestKey,
    body: SubmissionBody,
    attempt: (reservation: Reservation, signal: AbortSignal) => Promise<SubmissionAnswer>,
  ): Promise<LedgerCommand> {
    const signal = AbortSignal.timeout(this.options.budgetMs);
    return this.options.guard.run(key, body, (reservation) => attempt(reservation, signal), signal);
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
      ...(request.pending === undefined
        ? {}
        : { pending: { timeoutS: request.pending.timeoutS ?? this.options.pendingTimeoutSDefault } }),
    };
    const slot = await this.options.velocity.admit(
      { debitAccountId: transfer.debitAccountId, amount: transfer.amount },
      signal,
    );
    return this.send(key, transfer, reservation, slot, signal);
  }

  private async submitReferringOnce(
    key: RequestKey,
    request: ReferringRequest,
    reservation: Reservation,
    signal: AbortSignal,
  ): Promise<SubmissionAnswer> {
    const referenced = await this.locate(request.referenceId, signal);
    const command: ReferringCommand = {
      kind: request.kind,
      id: reservation.transferId,
      referenceId: request.referenceId,
      amount: request.amount,
      metadata: request.metadata,
      acceptedAt: reservation.acceptedAt,
      referenced,
    };
    // A reversal moves money out of the reversed transfer's credit account, so it counts there.
    const slot =
      request.kind === 'reversal' && referenced !== undefined
        ? await this.options.velocity.admit(
            { debitAccountId: referenced.creditAccountId, amount: request.amount ?? referenced.amount },
            signal,
          )
        : undefined;
    return this.send(key, command, reservation, slot, signal);
  }

  /** The named transfer: the ledger's record if it has one, otherwise the queued one. */
  private async locate(id: TransferId, signal: AbortSignal): Promise<ReferencedTransfer | undefined> {
    return (
      (await this.options.ledgerTransfers.locate(id, signal)) ??
      (await this.options.queuedTransfers.locate(id, signal))
    );
  }

  /** Sends a command counted in `slot` (if any), giving the slot back if it was surely not queued. */
  private async send(
    key: RequestKey,
    transfer: LedgerCommand,
    reservation: Reservation,
    slot: VelocitySlot | undefined,
    signal: AbortSignal,
  ): Promise<SubmissionAnswer> {
    // Stamped before the send: the consumer may post the transfer before the send even returns,
    // and the timeline must not show it posted before it was queued.
    const queuedAt = this.now().toISOString();
    try {
      await this.options.queue.send(transfer, signal);
    } catch (error) {
      if (error instanceof TransferNotQueuedError && slot !== undefined)
        await this.giveBack(slot, transfer.id);
      throw error;
    }
    this.options.logger.info('transfer queued', { transferId: transfer.id, apiKeyId: key.apiKeyId });
    return {
      transfer,
      steps: {
        idempotencyCheckedAt: reservation.checkedAt,
        velocityCheckedAt: slot?.admittedAt.toISOString(),
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
