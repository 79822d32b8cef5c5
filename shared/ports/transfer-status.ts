/**
 * The ledger's record of transfers and the API's record of those it queued: what the transfer
 * status service reads.
 */

import type { TransferId } from '../domain/ids';
import type { RejectionReason } from '../domain/results';
import type { PendingStatus, RecordedStatus } from '../domain/rules';
import type { LedgerCommand, TransferFields } from '../domain/transfer';

/** What became of a pending transfer's hold. */
export interface Hold {
  readonly status: PendingStatus;
  readonly expiresAt: string;
  /** What its post moved, when posted. */
  readonly postedAmount: bigint | null;
  /** The post or void that resolved it. */
  readonly resolvedBy: TransferId | null;
  /** When it was posted, voided or expired. */
  readonly resolvedAt: string | null;
}

/** A posted reversal of a transfer. */
export interface Reversal {
  readonly id: TransferId;
  readonly amount: bigint;
  readonly processedAt: string;
}

/** A transfer as the ledger recorded it. */
export interface RecordedTransfer extends TransferFields {
  readonly status: RecordedStatus;
  readonly reason: RejectionReason | null;
  readonly processedAt: string;
  /** When the consumer received the batch that decided it (null for rows older than the column). */
  readonly pickedUpAt: string | null;
  /** When its outcome's event was written to the outbox, in the transaction that recorded it. */
  readonly outboxWrittenAt: string | null;
  /** When that event was published to the bus, or null while it waits in the outbox. */
  readonly eventPublishedAt: string | null;
  /** A pending transfer's hold (none for one that was rejected). */
  readonly hold: Hold | null;
  /** Its posted reversals, oldest first, at most `reversalListCountMax`. */
  readonly reversals: readonly Reversal[];
  /** What all its posted reversals moved back. */
  readonly reversedAmount: bigint;
}

/**
 * A transfer's message failed its last delivery to the consumer: SQS moved it to the dead-letter
 * queue, where it waits for an operator to redrive it, neither posted nor rejected.
 */
export interface DeadLetterNote {
  /** When it failed its last delivery. */
  readonly at: string;
  /** How many times it was delivered. */
  readonly receiveCount: number;
}

/** The most reversals a transfer's record lists (their sum, `reversedAmount`, counts them all). */
export const reversalListCountMax = 100;

/** A transfer the API accepted and sent to the queue. */
export interface QueuedTransfer {
  readonly transfer: LedgerCommand;
  readonly queuedAt: string;
  /** When the idempotency check let the request through and the velocity window admitted it. */
  readonly idempotencyCheckedAt?: string;
  readonly velocityCheckedAt?: string;
  /** Set when its message was dead-lettered. */
  readonly deadLetter?: DeadLetterNote;
}

/**
 * The ledger's transfers. `findTransfer` returns the recorded transfer, or undefined when the
 * ledger has none with that id; throws `TransientError` when the database is unavailable.
 */
export interface TransferLedgerReader {
  findTransfer(id: TransferId): Promise<RecordedTransfer | undefined>;
  /**
   * Counts the transfers the ledger recorded with ids from `first` to `last` (a batch's range),
   * by outcome: one index range scan. Throws `TransientError` when the database is unavailable.
   */
  countRecorded(first: TransferId, last: TransferId): Promise<RecordedCounts>;
}

/** How many transfers of a range the ledger recorded, by outcome. */
export interface RecordedCounts {
  readonly posted: number;
  readonly rejected: number;
}

/**
 * The API's record of accepted transfers (kept for a bounded time). `findQueued` returns it, or
 * undefined when there is none (never accepted, or expired); throws `TransientError` when the
 * store is unavailable (or `signal` aborted the read).
 */
export interface QueuedTransferReader {
  findQueued(id: TransferId, signal?: AbortSignal): Promise<QueuedTransfer | undefined>;
}

/**
 * Notes on the API's record of queued transfers that their messages were dead-lettered, so that
 * GET /v1/transfers/{id} can say so. `noteDeadLettered` skips a transfer the API has no record of
 * (expired, or a message that did not come from the API); throws `TransientError` when the store
 * is unavailable.
 */
export interface DeadLetterNotes {
  noteDeadLettered(
    notes: readonly (DeadLetterNote & { readonly transferId: TransferId })[],
  ): Promise<{ readonly notedCount: number }>;
}
