/**
 * What the admin service reads: the ledger's side (a change feed, recent transfers, throughput,
 * consumer batches, fraud flags) and the queues' depths, with the values they exchange.
 */
import type { TransferId } from '../domain/ids';
import type { RecordedStatus } from '../domain/rules';
import type { TransferKind } from '../domain/transfer';

/**
 * A transfer as the ledger recorded it, with its event's publication time, for listing. A post,
 * void or reversal of a transfer the ledger did not know has no accounts, and may have no amount
 * or currency.
 */
export interface RecordedTransferRow {
  readonly id: TransferId;
  readonly kind: TransferKind;
  /** As recorded; in the change feed, `expired` for the row of a hold's expiry. */
  readonly status: RecordedStatus | 'expired';
  readonly reason: string | null;
  readonly debitAccountId: string | null;
  readonly creditAccountId: string | null;
  readonly amount: bigint | null;
  readonly currency: string | null;
  readonly acceptedAt: string;
  readonly processedAt: string;
  /** When its event was published, null while it waits in the outbox; undefined when not read. */
  readonly eventPublishedAt?: string | null;
}

/**
 * A position in the change feed: the feed is ordered by (transaction id, outbox id). Everything
 * before the position has been read; `transactionId` is a full 64-bit Postgres transaction id.
 */
export interface ActivityPosition {
  readonly transactionId: bigint;
  readonly outboxId: bigint;
}

export interface ActivityPage {
  readonly changes: readonly RecordedTransferRow[];
  readonly next: ActivityPosition;
}

export interface TransferListPage {
  readonly transfers: readonly RecordedTransferRow[];
  /** The id to continue after (older transfers), or undefined on the last page. */
  readonly nextBeforeId: TransferId | undefined;
}

/** Consumer batches: how large and how long, over the newest batches. */
export interface BatchStats {
  readonly batchCount: number;
  readonly transferCountAvg: number;
  readonly transferCountMax: number;
  readonly durationMsP50: number;
  readonly durationMsP95: number;
  readonly durationMsMax: number;
  /** The newest batches, oldest first, for a small chart. */
  readonly recent: readonly {
    readonly finishedAt: string;
    readonly transferCount: number;
    readonly durationMs: number;
  }[];
}

/** Transfers recorded per second (epoch second → count); seconds without transfers are absent. */
export interface ThroughputSample {
  readonly counts: ReadonlyMap<number, number>;
  /** True when the scan bound was reached, so older seconds of the window may be undercounted. */
  readonly truncated: boolean;
}

/**
 * The ledger's side of the admin reads. Each method throws `TransientError` when the database is
 * unavailable.
 * - `activity`: the changes after `after` (or the newest `limit` when undefined), in feed order,
 *   and the position to read from next; never a change twice, never one skipped.
 * - `listTransfers`: newest first, optionally by status, before a transfer id.
 * - `throughput`: transfers recorded per second over the last `windowS` seconds.
 * - `batchStats`: undefined when the consumer batch table does not exist yet, or has no rows.
 * - `fraudFlagCount`: undefined when the fraud tables do not exist yet.
 * - `checkInvariants`: the violations `ledger.check_invariants()` finds, at most
 *   `violationCountMax` of them (none when the ledger is sound), and whether there were more.
 */
export interface AdminLedgerReader {
  activity(after: ActivityPosition | undefined, limit: number): Promise<ActivityPage>;
  listTransfers(query: {
    readonly status: RecordedStatus | undefined;
    readonly limit: number;
    readonly beforeId: TransferId | undefined;
  }): Promise<TransferListPage>;
  throughput(windowS: number): Promise<ThroughputSample>;
  batchStats(batchCountMax: number): Promise<BatchStats | undefined>;
  fraudFlagCount(): Promise<number | undefined>;
  checkInvariants(violationCountMax: number): Promise<InvariantReport>;
}

/** One broken promise of the ledger: which invariant, about what, and how it is broken. */
export interface InvariantViolation {
  readonly invariant: string;
  readonly subject: string;
  readonly detail: string;
}

/** What the ledger's invariant check found. */
export interface InvariantReport {
  readonly violations: readonly InvariantViolation[];
  /** True when there were more violations than were read. */
  readonly truncated: boolean;
}

/** Messages in a queue, as SQS counts them (approximate). */
export interface QueueDepth {
  readonly visible: number;
  readonly inFlight: number;
  readonly delayed: number;
}

/** Reads queue depths; throws when the queue service cannot be reached. */
export interface QueueDepthReader {
  depth(queue: 'transfers' | 'transfersDeadLetter'): Promise<QueueDepth>;
}
