import type pg from 'pg';
import { classifyDatabaseError } from '../adapters/postgres/errors';
import type { EventPublisher, LedgerEvent, LedgerEventType } from '../ports/event-publisher';

/** How much one relay run may take on. */
export interface RelayLimits {
  /** Outbox rows one run selects, publishes and marks, at most. */
  readonly rowCountMax: number;
}

/** Rows per run by default: a few PutEvents calls, a short-held lock. */
export const defaultRelayLimits: RelayLimits = { rowCountMax: 100 };
/** The largest run allowed; a longer transaction would hold its row locks for too long. */
export const relayRowCountMax = 1000;

/** What one relay run did. */
export interface RelayOutcome {
  /** Unpublished rows this run locked (rows other runs held were skipped). */
  readonly selectedCount: number;
  /** Rows whose events the bus accepted, now marked published. */
  readonly publishedCount: number;
  /** Rows whose entries the bus refused; they stay unpublished for a later run. */
  readonly failedCount: number;
}

interface OutboxRow {
  readonly id: string;
  readonly event_id: string;
  readonly event_type: LedgerEventType;
  readonly payload: Record<string, unknown>;
}

/**
 * Publishes unpublished outbox events, oldest first, and marks the ones the bus accepted.
 *
 * One READ COMMITTED transaction locks up to `rowCountMax` unpublished rows with
 * `for update skip locked`, so concurrent relays (one after each consumer batch, one on a
 * schedule) share the work instead of publishing the same rows. The publish happens while the
 * rows are locked and the marks commit after it: a crash in between leaves the rows unpublished
 * and they are published again (at least once; consumers deduplicate on `event_id`). Rows whose
 * entries the bus refused stay unpublished. A failed publish call throws `TransientError` and
 * marks nothing.
 */
export async function relayOutbox(
  pool: pg.Pool,
  publisher: EventPublisher,
  limits: RelayLimits = defaultRelayLimits,
): Promise<RelayOutcome> {
  if (
    !Number.isInteger(limits.rowCountMax) ||
    limits.rowCountMax < 1 ||
    limits.rowCountMax > relayRowCountMax
  ) {
    throw new RangeError(
      `rowCountMax must be an integer in [1, ${relayRowCountMax}], got ${limits.rowCountMax}`,
    );
  }
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw classifyDatabaseError(error, { operation: 'relay outbox' });
  }
  let broken = false;
  try {
    await client.query('begin isolation level read committed');
    // `of o` locks only the outbox rows; the transfers the view joins are immutable. The view is
    // joined on the outbox key, so each event is one index lookup.
    const { rows } = await client.query<OutboxRow>(
      `select o.id, e.event_id, e.event_type, e.payload
         from ledger.outbox o
         join ledger.outbox_events e on e.transfer_id = o.transfer_id and e.event_type = o.event_type
        where o.published_at is null
        order by o.id
        limit $1
        for update of o skip locked`,
      [limits.rowCountMax],
    );
    if (rows.length === 0) {
      await client.query('commit');
      return { selectedCount: 0, publishedCount: 0, failedCount: 0 };
    }
    const events = rows.map(
      (row): LedgerEvent => ({ eventId: row.event_id, type: row.event_type, transfer: row.payload }),
    );
    const outcomes = await publisher.publish(events);
    if (outcomes.length !== rows.length) {
      throw new Error(`the publisher answered ${outcomes.length} outcomes for ${rows.length} events`);
    }
    const publishedIds = rows
      .filter((_, index) => outcomes[index]?.kind === 'published')
      .map((row) => row.id);
    if (publishedIds.length > 0) {
      // The rows are locked and unpublished; saying so lets the update find them by the partial index.
      await client.query(
        'update ledger.outbox set published_at = now() where id = any($1::bigint[]) and published_at is null',
        [publishedIds],
      );
    }
    await client.query('commit');
    return {
      selectedCount: rows.length,
      publishedCount: publishedIds.length,
      failedCount: rows.length - publishedIds.length,
    };
  } catch (error) {
    await client.query('rollback').catch(() => {
      broken = true;
    });
    throw classifyDatabaseError(error, { operation: 'relay outbox' });
  } finally {
    // A connection whose rollback failed is in an unknown state; the pool must not hand it out.
    client.release(broken);
  }
}
