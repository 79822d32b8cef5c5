import type pg from 'pg';
import type { InvariantViolatedEvent, PublishOutcome } from '../../ports/event-publisher';
import type {
  InvariantCheckStore,
  InvariantStep,
  InvariantStepLimits,
  RecordedViolation,
  ViolationRelayOutcome,
} from '../../ports/invariants';
import { classifyDatabaseError } from './errors';
import { int8, timestamp } from './rows';
import { inTransaction } from './transaction';

interface StepRow {
  readonly entry_count: number;
  readonly account_count: number;
  readonly scrub_entry_count: number;
  readonly found_count: number;
  readonly recorded_count: number;
  readonly entry_id_checked: string;
  readonly entry_id_safe: string;
}

interface ViolationRow {
  readonly id: string;
  readonly event_id: string;
  readonly invariant: string;
  readonly subject: string;
  readonly detail: string;
  readonly found_at: Date;
}

/**
 * `ledger.check_invariants_step` (migrations/repeatable/check_invariants_incremental.sql) and
 * `ledger.invariant_violations`. A violation's event id is derived from its invariant and subject,
 * so every publication of it carries the same id and consumers deduplicate on it.
 */
export class PostgresInvariantCheckStore implements InvariantCheckStore {
  public constructor(private readonly pool: pg.Pool) {}

  public async step(limits: InvariantStepLimits, now: Date): Promise<InvariantStep> {
    const [row] = await inTransaction(this.pool, { operation: 'check invariants' }, async (client) => {
      const result = await client.query<StepRow>(
        'select * from ledger.check_invariants_step($1, $2, $3, $4)',
        [limits.entryCountMax, limits.accountCountMax, limits.scrubEntryCountMax, now.toISOString()],
      );
      return result.rows;
    });
    if (row === undefined) throw new Error('ledger.check_invariants_step returned no row');
    return {
      entryCount: row.entry_count,
      accountCount: row.account_count,
      scrubEntryCount: row.scrub_entry_count,
      foundCount: row.found_count,
      recordedCount: row.recorded_count,
      entryIdChecked: int8(row.entry_id_checked, 'entry_id_checked'),
      entryIdSafe: int8(row.entry_id_safe, 'entry_id_safe'),
    };
  }

  public publishPending(
    rowCountMax: number,
    publish: (events: readonly InvariantViolatedEvent[]) => Promise<readonly PublishOutcome[]>,
  ): Promise<ViolationRelayOutcome> {
    return inTransaction(this.pool, { operation: 'publish invariant violations' }, async (client) => {
      const { rows } = await client.query<ViolationRow>(
        `select v.id, md5(v.invariant || '/' || v.subject)::uuid::text as event_id, v.invariant, v.subject,
                v.detail, v.found_at
           from ledger.invariant_violations v
          where v.published_at is null
          order by v.id
          limit $1
          for update skip locked`,
        [rowCountMax],
      );
      if (rows.length === 0) return { selectedCount: 0, publishedCount: 0, failedCount: 0 };
      const outcomes = await publish(
        rows.map((row) => ({
          eventId: row.event_id,
          type: 'ledger.invariant_violated',
          violation: {
            invariant: row.invariant,
            subject: row.subject,
            detail: row.detail,
            found_at: timestamp(row.found_at, 'found_at'),
          },
        })),
      );
      if (outcomes.length !== rows.length) {
        throw new Error(`the publisher answered ${outcomes.length} outcomes for ${rows.length} events`);
      }
      const publishedIds = rows
        .filter((_, index) => outcomes[index]?.kind === 'published')
        .map((row) => row.id);
      if (publishedIds.length > 0) {
        await client.query(
          `update ledger.invariant_violations set published_at = now()
            where id = any($1::bigint[]) and published_at is null`,
          [publishedIds],
        );
      }
      return {
        selectedCount: rows.length,
        publishedCount: publishedIds.length,
        failedCount: rows.length - publishedIds.length,
      };
    });
  }

  public async recorded(violationCountMax: number): Promise<{
    readonly violations: readonly RecordedViolation[];
    readonly count: number;
    readonly truncated: boolean;
  }> {
    let rows: ViolationRow[];
    let count: number;
    try {
      // One row more than reported, to know whether there were more.
      ({ rows } = await this.pool.query<ViolationRow>(
        `select id, '' as event_id, invariant, subject, detail, found_at
           from ledger.invariant_violations order by id limit $1`,
        [violationCountMax + 1],
      ));
      const counted = await this.pool.query<{ count: number }>(
        'select count(*)::int as count from ledger.invariant_violations',
      );
      count = counted.rows[0]?.count ?? 0;
    } catch (error) {
      throw classifyDatabaseError(error, { operation: 'read invariant violations' });
    }
    return {
      violations: rows.slice(0, violationCountMax).map((row) => ({
        invariant: row.invariant,
        subject: row.subject,
        detail: row.detail,
        foundAt: timestamp(row.found_at, 'found_at'),
      })),
      count,
      truncated: rows.length > violationCountMax,
    };
  }
}
