import type pg from 'pg';
import type { TransferId } from '../../domain/ids';
import type { Metadata } from '../../domain/metadata';
import type { CurrencyCode } from '../../domain/money';
import { parseRejectionReason, type RejectionReason } from '../../domain/results';
import type { PendingStatus, RecordedStatus } from '../../domain/rules';
import { type ReferencedTransfer, type TransferKind, transferKinds } from '../../domain/transfer';
import { TransientError } from '../../errors';
import type { TransferLocator } from '../../ports/submission';
import {
  type Hold,
  type RecordedCounts,
  type RecordedTransfer,
  reversalListCountMax,
  type TransferLedgerReader,
} from '../../ports/transfer-status';
import { accountId, currency, transferId } from './accounts-store';
import { classifyDatabaseError } from './errors';
import { int8, timestamp, timestampOrNull } from './rows';

interface TransferRow {
  readonly id: string;
  readonly kind: string;
  readonly debit_account_id: string | null;
  readonly credit_account_id: string | null;
  readonly amount: string | null;
  readonly currency: string | null;
  readonly status: string;
  readonly reason: string | null;
  readonly metadata: Metadata;
  readonly accepted_at: Date;
  readonly processed_at: Date;
  readonly picked_up_at: Date | null;
  readonly timeout_s: number | null;
  readonly pending_id: string | null;
  readonly reverses_id: string | null;
  readonly outbox_created_at: Date | null;
  readonly published_at: Date | null;
  readonly hold_status: string | null;
  readonly expires_at: Date | null;
  readonly posted_amount: string | null;
  readonly resolved_by: string | null;
  readonly resolved_at: Date | null;
  readonly reversal_ids: string[] | null;
  readonly reversal_amounts: string[] | null;
  readonly reversal_processed_ats: Date[] | null;
  readonly reversed_amount: string;
}

/**
 * Transfers as the ledger recorded it: with its outcome event's times, a pending transfer's hold
 * and a transfer's reversals. Also where the API finds a transfer a post, void or reversal names.
 */
export class PostgresTransferReader implements TransferLedgerReader, TransferLocator {
  public constructor(private readonly pool: pg.Pool) {}

  public async countRecorded(first: TransferId, last: TransferId): Promise<RecordedCounts> {
    try {
      const { rows } = await this.pool.query<{ posted: number; rejected: number }>(
        `select count(*) filter (where status = 'posted')::int as posted,
                count(*) filter (where status = 'rejected')::int as rejected
           from ledger.transfers
          where id between $1 and $2`,
        [first, last],
      );
      return { posted: rows[0]?.posted ?? 0, rejected: rows[0]?.rejected ?? 0 };
    } catch (error) {
      throw classifyDatabaseError(error, { operation: 'countRecorded', first, last });
    }
  }

  public async findTransfer(id: TransferId): Promise<RecordedTransfer | undefined> {
    let rows: TransferRow[];
    try {
      // A transfer has one event of its outcome (the outbox key says so), so the join adds no
      // rows; later events about it (a flag, an expiry) are not its outcome's.
      const result = await this.pool.query<TransferRow>(
        `select t.id, t.kind, t.debit_account_id, t.credit_account_id, t.amount, t.currency, t.status, t.reason,
                t.metadata, t.accepted_at, t.processed_at, t.picked_up_at, t.timeout_s, t.pending_id,
                t.reverses_id, o.created_at as outbox_created_at, o.published_at,
                p.status as hold_status, p.expires_at, p.posted_amount, p.resolved_by, p.resolved_at,
                r.ids as reversal_ids, r.amounts as reversal_amounts, r.processed_ats as reversal_processed_ats,
                coalesce(s.reversed, 0)::text as reversed_amount
           from ledger.transfers t
           left join ledger.outbox o on o.transfer_id = t.id and o.event_type = 'transfer.' || t.status
           left join ledger.pending_transfers p
             on t.kind = 'pending' and p.debit_account_id = t.debit_account_id and p.transfer_id = t.id
           left join lateral (
             select array_agg(y.id order by y.id) as ids, array_agg(y.amount::text order by y.id) as amounts,
                    array_agg(y.processed_at order by y.id) as processed_ats
               from (select x.id, x.amount, x.processed_at from ledger.transfers x
                      where x.reverses_id = t.id and x.status = 'posted' order by x.id limit $2) y
           ) r on true
           left join lateral (
             select sum(x.amount) as reversed from ledger.transfers x
              where x.reverses_id = t.id and x.status = 'posted'
           ) s on true
          where t.id = $1`,
        [id, reversalListCountMax],
      );
      rows = result.rows;
    } catch (error) {
      throw classifyDatabaseError(error, { operation: 'findTransfer', transferId: id });
    }
    const row = rows[0];
    return row === undefined ? undefined : toRecordedTransfer(row);
  }

  /**
   * The accounts, amount and currency the ledger recorded for a transfer (for a post, void or
   * reversal, those it moved money between); undefined when there is none, or it has no accounts
   * (it named a transfer the ledger did not know). The read is abandoned when `signal` aborts.
   */
  public async locate(id: TransferId, signal?: AbortSignal): Promise<ReferencedTransfer | undefined> {
    const read = this.pool.query<{
      debit_account_id: string | null;
      credit_account_id: string | null;
      amount: string | null;
      currency: string | null;
    }>('select debit_account_id, credit_account_id, amount, currency from ledger.transfers where id = $1', [
      id,
    ]);
    let row: Awaited<typeof read>['rows'][number] | undefined;
    try {
      row = (await abortable(read, signal)).rows[0];
    } catch (error) {
      throw classifyDatabaseError(error, { operation: 'locateTransfer', transferId: id });
    }
    if (
      row === undefined ||
      row.debit_account_id === null ||
      row.credit_account_id === null ||
      row.amount === null ||
      row.currency === null
    ) {
      return undefined;
    }
    return {
      debitAccountId: accountId(row.debit_account_id),
      creditAccountId: accountId(row.credit_account_id),
      amount: int8(row.amount, 'amount'),
      currency: currency(row.currency),
    };
  }
}

/** The signal aborted a read the caller no longer waits for; it may still finish unseen. */
export class ReadAbandonedError extends TransientError {
  public constructor(options: { cause?: unknown } = {}) {
    super('the read was abandoned when its deadline passed', options);
    this.name = 'ReadAbandonedError';
  }
}

/** Waits for `work`, or fails when `signal` aborts first (pg queries take no signal of their own). */
function abortable<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return work;
  if (signal.aborted) {
    work.catch(() => undefined);
    return Promise.reject(new ReadAbandonedError({ cause: signal.reason }));
  }
  return new Promise<T>((resolve, reject) => {
    const abort = (): void => reject(new ReadAbandonedError({ cause: signal.reason }));
    signal.addEventListener('abort', abort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', abort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', abort);
        reject(error);
      },
    );
  });
}

function toRecordedTransfer(row: TransferRow): RecordedTransfer {
  const kind = transferKind(row.kind);
  const status = recordedStatus(row.status);
  const reversalIds = row.reversal_ids ?? [];
  return {
    id: transferId(row.id),
    kind,
    debitAccountId: nullable(row.debit_account_id, accountId),
    creditAccountId: nullable(row.credit_account_id, accountId),
    amount: row.amount === null ? null : int8(row.amount, 'amount'),
    currency: nullable<CurrencyCode>(row.currency, currency),
    metadata: row.metadata,
    acceptedAt: timestamp(row.accepted_at, 'accepted_at'),
    timeoutS: row.timeout_s,
    pendingId: nullable(row.pending_id, transferId),
    reversesId: nullable(row.reverses_id, transferId),
    status,
    reason: rejectionReason(row.reason),
    processedAt: timestamp(row.processed_at, 'processed_at'),
    pickedUpAt: timestampOrNull(row.picked_up_at, 'picked_up_at'),
    outboxWrittenAt: timestampOrNull(row.outbox_created_at, 'outbox_created_at'),
    eventPublishedAt: timestampOrNull(row.published_at, 'published_at'),
    hold: holdOf(row, kind, status),
    reversals: reversalIds.map((reversalId, index) => ({
      id: transferId(reversalId),
      amount: int8(row.reversal_amounts?.[index], 'reversal amount'),
      processedAt: timestamp(row.reversal_processed_ats?.[index], 'reversal processed_at'),
    })),
    reversedAmount: int8(row.reversed_amount, 'reversed_amount'),
  };
}

function holdOf(row: TransferRow, kind: TransferKind, status: RecordedStatus): Hold | null {
  if (row.hold_status === null) {
    if (kind === 'pending' && status === 'pending') {
      throw new Error(`assertion failed: pending transfer ${row.id} has its hold`);
    }
    return null;
  }
  return {
    status: pendingStatus(row.hold_status),
    expiresAt: timestamp(row.expires_at, 'expires_at'),
    postedAmount: row.posted_amount === null ? null : int8(row.posted_amount, 'posted_amount'),
    resolvedBy: nullable(row.resolved_by, transferId),
    resolvedAt: timestampOrNull(row.resolved_at, 'resolved_at'),
  };
}

function nullable<T>(value: string | null, parse: (value: string) => T): T | null {
  return value === null ? null : parse(value);
}

function transferKind(value: string): TransferKind {
  const kind = transferKinds.find((candidate) => candidate === value);
  if (kind === undefined) throw new Error(`assertion failed: transfer kind ${value}`);
  return kind;
}

const recordedStatuses: readonly RecordedStatus[] = ['posted', 'pending', 'voided', 'rejected'];
const pendingStatuses: readonly PendingStatus[] = ['pending', 'posted', 'voided', 'expired'];

function recordedStatus(value: string): RecordedStatus {
  const status = recordedStatuses.find((candidate) => candidate === value);
  if (status === undefined) throw new Error(`assertion failed: transfer status ${value}`);
  return status;
}

function pendingStatus(value: string): PendingStatus {
  const status = pendingStatuses.find((candidate) => candidate === value);
  if (status === undefined) throw new Error(`assertion failed: hold status ${value}`);
  return status;
}

function rejectionReason(value: string | null): RejectionReason | null {
  if (value === null) return null;
  const reason = parseRejectionReason(value);
  if (reason === undefined) throw new Error(`assertion failed: rejection reason ${value}`);
  return reason;
}
