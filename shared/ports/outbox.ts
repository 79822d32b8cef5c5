/**
 * The outbox as the relay needs it: events written in the transactions that recorded their
 * transfers (or flagged them), waiting to be published.
 */
import type { LedgerEvent, PublishOutcome } from './event-publisher';

/** What one relay run did. */
export interface RelayOutcome {
  /** Unpublished rows this run locked (rows other runs held were skipped). */
  readonly selectedCount: number;
  /** Rows whose events the bus accepted, now marked published. */
  readonly publishedCount: number;
  /** Rows whose entries the bus refused; they stay unpublished for a later run. */
  readonly failedCount: number;
}

/**
 * The ledger's outbox.
 *
 * `publishPending` locks up to `rowCountMax` unpublished events, oldest first, skipping rows
 * another run holds, hands them to `publish`, and marks published the ones `publish` says the bus
 * accepted, all while holding the rows. It throws `TransientError` when the database is
 * unavailable or `publish` threw (nothing is marked then), and `PermanentError` when the database
 * refused the work.
 */
export interface OutboxStore {
  publishPending(
    rowCountMax: number,
    publish: (events: readonly LedgerEvent[]) => Promise<readonly PublishOutcome[]>,
  ): Promise<RelayOutcome>;
}
