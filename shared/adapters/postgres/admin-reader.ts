import type pg from 'pg';
import type { TransferId } from '../../domain/ids';
import type { RecordedStatus } from '../../domain/rules';
import { transferKinds } from '../../domain/transfer';
import type {
  ActivityPage,
  ActivityPosition,
  AdminLedgerReader,
  BatchStats,
  InvariantReport,
  InvariantViolation,
  RecordedTransferRow,
  ThroughputSample,
  TransferListPage,
} from '../../ports/admin';
import { transferId } from './accounts-store';
import { classifyDatabaseError } from './errors';
import { int8, timestamp, timestampOrNull } from './rows';

/**
 * How many of the newest outbox rows the change feed looks at. A reader that falls further behind
 * skips ahead to the newest changes (the page shows recent activity, not an audit trail).
 */
export const activityScanRowCountMax = 10_000;

/** How many of the newest outbox rows the throughput gauge counts (about 4 minutes at 400/s). */
export const throughputScanRowCountMax = 100_000;

interface ChangeRow {
  readonly xid: string;
  readonly outbox_id: string;
  readonly horizon: string;
  readonly id: string;
  readonly kind: string;
  readonly status: string;
  readonly reason: string | null;
  readonly debit_account_id: string | null;
  readonly credit_account_id: string | null;
  readonly amount: string | null;
  readonly currency: string | null;
  readonly accepted_at: Date;
  readonly processed_at: Date;
  readonly published_at: Date | null;
}

/**
 * The change feed's query. Outbox rows are written by the posting transaction and updated once
 * by the relay (published_at), so each version of a row is a change, stamped by the transaction
 * that wrote it (`xmin`). The feed is ordered by (transaction id, outbox id) and only serves
 * transactions older than the snapshot's xmin: every one of those has finished, so no change can
 * later appear behind the cursor. An order by outbox id alone would skip a row whose transaction
 * took its id first and committed last.
 *
 * `xmin` is a 32-bit transaction id; it is widened to the 64-bit id (the one at most 2^32 below
 * the snapshot's next id) so the order survives wraparound.
 */
const changeFeedSql = (order: 'asc' | 'desc') => `
  with snapshot as (
    select pg_snapshot_xmin(pg_current_snapshot())::text::bigint as horizon,
           pg_snapshot_xmax(pg_current_snapshot())::text::bigint - 1 as newest
  ),
  scanned as (
    select o.id, o.transfer_id, o.event_type, o.published_at, o.xmin::text::bigint as xid32
      from ledger.outbox o
     where o.id > (select coalesce(max(id), 0) from ledger.outbox) - $4::bigint
  ),
  widened as (
    select s.*, snapshot.newest - (((snapshot.newest - s.xid32) % 4294967296) + 4294967296) % 4294967296 as xid,
           snapshot.horizon
      from scanned s, snapshot
  )
  select w.xid::text as xid, w.id::text as outbox_id, w.horizon::text as horizon,
         t.id, t.kind, case when w.event_type = 'transfer.expired' then 'expired' else t.status end as status,
         t.reason, t.debit_account_id, t.credit_account_id, t.amount::text as amount,
         t.currency, t.accepted_at, t.processed_at, w.published_at
    from widened w
    -- The account.* events are about account changes, not transfers: the feed leaves them out.
    join ledger.transfers t on t.id = w.transfer_id
   where w.xid < w.horizon
     and ($1::bigint is null or (w.xid, w.id) > ($1::bigint, $2::bigint))
   order by w.xid ${order}, w.id ${order}
   limit $3`;

/** The admin reads of the ledger: the change feed, transfer lists, and the gauges' numbers. */
export class PostgresAdminReader implements AdminLedgerReader {
  public constructor(private readonly pool: pg.Pool) {}

  public async activity(after: ActivityPosition | undefined, limit: number): Promise<ActivityPage> {
    const rows = await this.query<ChangeRow>(
      'activity',
      changeFeedSql(after === undefined ? 'desc' : 'asc'),
      [
        after?.transactionId.toString() ?? null,
        after?.outboxId.toString() ?? null,
        limit,
        activityScanRowCountMax,
      ],
    );
    const horizon = await this.horizonOf(rows);
    // The first read takes the newest changes (newest first in SQL, shown oldest first); from
    // there the reader has seen everything before the horizon.
    const ordered = after === undefined ? [...rows].reverse() : rows;
    const last = ordered.at(-1);
    const pageIsFull = after !== undefined && rows.length === limit && last !== undefined;
    return {
      changes: ordered.map((row) => ({
        ...recordedTransfer(row),
        eventPublishedAt: timestampOrNull(row.published_at, 'published_at'),
      })),
      next: pageIsFull
        ? { transactionId: int8(last.xid, 'xid'), outboxId: int8(last.outbox_id, 'outbox_id') }
        : { transactionId: horizon, outboxId: 0n },
    };
  }

  /** The snapshot's horizon: from the rows when there are any, otherwise read on its own. */
  private async horizonOf(rows: readonly ChangeRow[]): Promise<bigint> {
    const first = rows[0];
    if (first !== undefined) return int8(first.horizon, 'horizon');
    const [row] = await this.query<{ horizon: string }>(
      'activity horizon',
      'select pg_snapshot_xmin(pg_current_snapshot())::text as horizon',
      [],
    );
    if (row === undefined) throw new Error('assertion failed: the horizon query returns a row');
    return int8(row.horizon, 'horizon');
  }

  public async listTransfers(query: {
    readonly status: RecordedStatus | undefined;
    readonly limit: number;
    readonly beforeId: TransferId | undefined;
  }): Promise<TransferListPage> {
    // Transfer ids are UUIDv7, so the primary key's order is the order they were accepted in.
    const rows = await this.query<Omit<ChangeRow, 'xid' | 'outbox_id' | 'horizon' | 'published_at'>>(
      'listTransfers',
      `select t.id, t.kind, t.status, t.reason, t.debit_account_id, t.credit_account_id, t.amount::text as amount,
              t.currency, t.accepted_at, t.processed_at
         from ledger.transfers t
        where ($1::text is null or t.status = $1)
          and ($2::uuid is null or t.id < $2::uuid)
        order by t.id desc
        limit $3`,
      [query.status ?? null, query.beforeId ?? null, query.limit + 1],
    );
    const page = rows.slice(0, query.limit).map(recordedTransfer);
    return {
      transfers: page,
      nextBeforeId: rows.length > query.limit ? page.at(-1)?.id : undefined,
    };
  }

  public async throughput(windowS: number): Promise<ThroughputSample> {
    // An outbox row's created_at is its posting transaction's start, and outbox ids grow with
    // time, so the newest rows by id are the recent seconds: an index scan, not a table scan.
    const rows = await this.query<{
      second: number | null;
      recorded: number;
      scanned: number;
      oldest: Date | null;
    }>(
      'throughput',
      `with recent as (
         select created_at, event_type from ledger.outbox order by id desc limit $2
       ),
       bounds as (
         select count(*)::int as scanned, min(created_at) as oldest from recent
       )
       select floor(extract(epoch from r.created_at))::int as second, count(*)::int as recorded,
              b.scanned, b.oldest
         from bounds b
         -- One outcome event per recorded transfer; a later event (a flag, an expiry) is no transfer.
         left join recent r on r.created_at > now() - make_interval(secs => $1)
                           and r.event_type in ('transfer.posted', 'transfer.rejected', 'transfer.pending',
                                                'transfer.voided')
        group by 1, b.scanned, b.oldest`,
      [windowS, throughputScanRowCountMax],
    );
    const counts = new Map<number, number>();
    for (const row of rows) if (row.second !== null) counts.set(row.second, row.recorded);
    const bounds = rows[0];
    const truncated =
      bounds !== undefined &&
      bounds.scanned >= throughputScanRowCountMax &&
      bounds.oldest !== null &&
      bounds.oldest.getTime() > Date.now() - windowS * 1000;
    return { counts, truncated };
  }

  public async batchStats(batchCountMax: number): Promise<BatchStats | undefined> {
    if (!(await this.tableExists('ledger.consumer_batches'))) return undefined;
    const rows = await this.query<{ transfer_count: number; duration_ms: number; finished_at: Date }>(
      'batchStats',
      `select transfer_count, (extract(epoch from finished_at - received_at) * 1000)::float8 as duration_ms,
              finished_at
         from ledger.consumer_batches
        where finished_at is not null
        order by id desc
        limit $1`,
      [batchCountMax],
    );
    if (rows.length === 0) return undefined;
    const sizes = rows.map((row) => row.transfer_count);
    const durations = rows.map((row) => row.duration_ms).sort((left, right) => left - right);
    return {
      batchCount: rows.length,
      transferCountAvg: sizes.reduce((sum, size) => sum + size, 0) / sizes.length,
      transferCountMax: Math.max(...sizes),
      durationMsP50: percentile(durations, 0.5),
      durationMsP95: percentile(durations, 0.95),
      durationMsMax: durations.at(-1) ?? 0,
      recent: rows
        .slice(0, 60)
        .reverse()
        .map((row) => ({
          finishedAt: timestamp(row.finished_at, 'finished_at'),
          transferCount: row.transfer_count,
          durationMs: row.duration_ms,
        })),
    };
  }

  public async fraudFlagCount(): Promise<number | undefined> {
    // The fraud scorer's verdicts (migration 0008): a flag is set once and never taken back.
    if (!(await this.tableExists('fraud.verdicts'))) return undefined;
    const [row] = await this.query<{ flagged: number }>(
      'fraudFlagCount',
      'select count(*)::int as flagged from fraud.verdicts where flagged_at is not null',
      [],
    );
    return row?.flagged ?? 0;
  }

  public async checkInvariants(violationCountMax: number): Promise<InvariantReport> {
    // One row more than reported, to know whether there were more.
    const rows = await this.query<InvariantViolation>(
      'checkInvariants',
      'select invariant, subject, detail from ledger.check_invariants() limit $1',
      [violationCountMax + 1],
    );
    return { violations: rows.slice(0, violationCountMax), truncated: rows.length > violationCountMax };
  }

  /** Whether a table a later migration adds is there yet. */
  private async tableExists(name: string): Promise<boolean> {
    const [row] = await this.query<{ present: boolean }>(
      'tableExists',
      'select to_regclass($1) is not null as present',
      [name],
    );
    return row?.present ?? false;
  }

  private async query<Row extends pg.QueryResultRow>(
    operation: string,
    text: string,
    values: unknown[],
  ): Promise<Row[]> {
    try {
      return (await this.pool.query<Row>(text, values)).rows;
    } catch (error) {
      throw classifyDatabaseError(error, { operation });
    }
  }
}

function recordedTransfer(
  row: Omit<ChangeRow, 'xid' | 'outbox_id' | 'horizon' | 'published_at'>,
): RecordedTransferRow {
  const kind = transferKinds.find((candidate) => candidate === row.kind);
  const status = listedStatuses.find((candidate) => candidate === row.status);
  if (kind === undefined || status === undefined) {
    throw new Error(`assertion failed: transfer kind ${row.kind} and status ${row.status}`);
  }
  return {
    id: transferId(row.id),
    kind,
    status,
    reason: row.reason,
    debitAccountId: row.debit_account_id,
    creditAccountId: row.credit_account_id,
    amount: row.amount === null ? null : int8(row.amount, 'amount'),
    currency: row.currency,
    acceptedAt: timestamp(row.accepted_at, 'accepted_at'),
    processedAt: timestamp(row.processed_at, 'processed_at'),
  };
}

const listedStatuses: readonly RecordedTransferRow['status'][] = [
  'posted',
  'rejected',
  'pending',
  'voided',
  'expired',
];

/** The value below which `fraction` of the sorted values lie (nearest rank). */
function percentile(sorted: readonly number[], fraction: number): number {
  if (sorted.length === 0) return 0;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1));
  return sorted[index] ?? 0;
}
