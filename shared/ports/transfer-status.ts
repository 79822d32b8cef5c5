/**
 * The ledger's record of transfers and the API's record of those it queued: what the transfer
 * status service reads.
 */

import type { TransferId } from '../domain/ids';
import type { RejectionReason } from '../domain/results';
import type { TransferCommand } from '../domain/transfer';

/** A transfer as the ledger recorded it. */
export interface RecordedTransfer {
  readonly transfer: TransferCommand;
  readonly status: 'posted' | 'rejected';
  readonly reason: RejectionReason | null;
  readonly processedAt: string;
  /** When the consumer received the batch that decided it (null for rows older than the column). */
  readonly pickedUpAt: string | null;
  /** When its event was written to the outbox, in the transaction that recorded it. */
  readonly outboxWrittenAt: string | null;
  /** When its event was published to the bus, or null while it waits in the outbox. */
  readonly eventPublishedAt: string | null;
}

/** A transfer the API accepted and sent to the queue. */
export interface QueuedTransfer {
  readonly transfer: TransferCommand;
  readonly queuedAt: string;
  /** When the idempotency check let the request through and the velocity window admitted it. */
  readonly idempotencyCheckedAt?: string;
  readonly velocityCheckedAt?: string;
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
 * store is unavailable.
 */
export interface QueuedTransferReader {
  findQueued(id: TransferId): Promise<QueuedTransfer | undefined>;
}
