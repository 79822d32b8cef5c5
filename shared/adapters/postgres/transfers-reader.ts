import type pg from 'pg';
import type { TransferId } from '../../domain/ids';
import type { Metadata } from '../../domain/metadata';
import { type RejectionReason, recordedRejectionReasons } from '../../domain/results';
import type { RecordedCounts, RecordedTransfer, TransferLedgerReader } from '../../ports/transfer-status';
import { accountId, currency, transferId } from './accounts-store';
import { classifyDatabaseError } from './errors';
import { int8, timestamp, timestampOrNull } from './rows';

interface TransferRow {
  readonly id: string;
  readonly debit_account_id: string | null;
  readonly credit_account_id: string | null;
  readonly amount: string | null;
  readonly currency: string;
  readonly status: string;
  readonly reason: string | null;
  readonly metadata: Metadata;
  readonly accepted_at: Date;
  readonly processed_at: Date;
  readonly picked_up_at: Date | null;
  readonly outbox_created_at: Date | null;
  readonly published_at: Date | null;
}

/** Transfers as the ledger recorded them, with their outbox row's publication time. */
export class PostgresTransferReader implements TransferLedgerReader {
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
      // A transfer has one posted-or-rejected event (the outbox key says so), so the join adds no
      // rows; later events about it (a fraud flag) are not its outcome's.
      const result = await this.pool.query<TransferRow>(
        `select t.id, t.debit_account_id, t.credit_account_id, t.amount, t.currency, t.status, t.reason,
                t.metadata, t.accepted_at, t.processed_at, t.picked_up_at,
                o.created_at as outbox_created_at, o.published_at
           from ledger.transfers t
           left join ledger.outbox o
             on o.transfer_id = t.id and o.event_type in ('transfer.posted', 'transfer.rejected')
          where t.id = $1`,
        [id],
      );
      rows = result.rows;
    } catch (error) {
      throw classifyDatabaseError(error, { operation: 'findTransfer', transferId: id });
    }
    const row = rows[0];
    if (row === undefined) return undefined;
    // The API only makes two-account transfers; a multi-leg one has no shape in this contract.
    if (row.debit_account_id === null || row.credit_account_id === null || row.amount === null) {
      throw new Error(`assertion failed: transfer ${row.id} has a debit and a credit account`);
    }
    if (row.status !== 'posted' && row.status !== 'rejected') {
      throw new Error(`assertion failed: transfer status ${row.status}`);
    }
    return {
      transfer: {
        id: transferId(row.id),
        debitAccountId: accountId(row.debit_account_id),
        creditAccountId: accountId(row.credit_account_id),
        amount: int8(row.amount, 'amount'),
        currency: currency(row.currency),
        metadata: row.metadata,
        acceptedAt: timestamp(row.accepted_at, 'accepted_at'),
      },
      status: row.status,
      reason: rejectionReason(row.reason),
      processedAt: timestamp(row.processed_at, 'processed_at'),
      pickedUpAt: timestampOrNull(row.picked_up_at, 'picked_up_at'),
      outboxWrittenAt: timestampOrNull(row.outbox_created_at, 'outbox_created_at'),
      eventPublishedAt: timestampOrNull(row.published_at, 'published_at'),
    };
  }
}

function rejectionReason(value: string | null): RejectionReason | null {
  if (value === null) return null;
  const reason = recordedRejectionReasons.find((candidate) => candidate === value);
  if (reason === undefined) throw new Error(`assertion failed: rejection reason ${value}`);
  return reason;
}
