import type { TransferId } from '../domain/ids';
import type { TransferResult } from '../domain/results';
import type { LedgerCommand, TransferCommand } from '../domain/transfer';

/** A queue record that can never post, kept with the reason it was refused. */
export interface PoisonRecord {
  readonly messageId: string;
  readonly body: string;
  readonly reason: string;
}

/** What one posted batch did. */
export interface PostBatchOutcome {
  /** One result per command, in the order given. */
  readonly results: readonly TransferResult[];
  /** Transactions run to get there: 1, plus one per serialization retry. */
  readonly attemptCount: number;
}

/** The ledger's durable store, as the posting service needs it. */
export interface LedgerStore {
  /**
   * Posts the commands in order and records the poison records, all in one transaction.
   *
   * Returns one result per command: an accepted result (`posted`, `pending`, `voided`), a
   * rejection reason (recorded with the transfer), or an `exists` result (nothing written).
   * Throws `TransientError` when nothing was written and the same batch may succeed later
   * (database unreachable, timeouts, serialization retries exhausted), and `PermanentError` when
   * nothing was written and the same batch will keep failing. `receivedAt` is when the consumer
   * received the batch, recorded as each transfer's pickup time, and the batch's clock: holds
   * expire by it (the time of posting when not given).
   */
  postBatch(
    commands: readonly LedgerCommand[],
    poison: readonly PoisonRecord[],
    receivedAt?: Date,
  ): Promise<PostBatchOutcome>;

  /**
   * Posts an atomic set's legs in one transaction, all or none: every leg `posted`; or every leg
   * rejected and recorded, the first leg a rule rejected with that reason and the others
   * `linked_transfer_failed`; or, for a set recorded before, the `exists` family for every leg
   * (nothing written). Throws as `postBatch` does.
   */
  postSet(legs: readonly TransferCommand[], receivedAt?: Date): Promise<PostBatchOutcome>;
}

/**
 * The open holds whose timeout has passed. `expirePending` releases at most `countMax` of those
 * expired by `now`, oldest expiry first, each with its `transfer.expired` event, in one
 * transaction, and returns their ids (none when nothing is due). Throws `TransientError` when
 * nothing was released and the same call may succeed later, `PermanentError` otherwise.
 */
export interface PendingExpiryStore {
  expirePending(now: Date, countMax: number): Promise<readonly TransferId[]>;
}
