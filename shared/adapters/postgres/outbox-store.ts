import type pg from 'pg';
import {
  accountEventTypes,
  type LedgerEvent,
  type PublishOutcome,
  transferEventTypes,
} from '../../ports/event-publisher';
import type { OutboxStore, RelayOutcome } from '../../ports/outbox';
import { inTransaction } from './transaction';

interface OutboxRow {
  readonly id: string;
  readonly event_id: string;
  readonly event_type: string;
  readonly payload: Record<string, unknown>;
}

/**
 * `ledger.outbox` joined with `ledger.outbox_events` (the event bodies). One READ COMMITTED
 * transaction locks the rows with `for update skip locked`, so concurrent relays (one after each
 * consumer batch, one on a schedule) share the work instead of publishing the same rows. The
 * publish happens while the rows are locked and the marks commit after it: a crash in between
 * leaves the rows unpublished and they are published again (at least once; consumers deduplicate
 * on `event_id`).
 */
export class PostgresOutboxStore implements OutboxStore {
  public constructor(private readonly pool: pg.Pool) {}

  public publishPending(
    rowCountMax: number,
    publish: (events: readonly LedgerEvent[]) => Promise<readonly PublishOutcome[]>,
  ): Promise<RelayOutcome> {
    return inTransaction(this.pool, { operation: 'relay outbox' }, async (client) => {
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
        [rowCountMax],
      );
      if (rows.length === 0) return { selectedCount: 0, publishedCount: 0, failedCount: 0 };
      const outcomes = await publish(rows.map(toEvent));
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
      return {
        selectedCount: rows.length,
        publishedCount: publishedIds.length,
        failedCount: rows.length - publishedIds.length,
      };
    });
  }
}

/** An outbox row's event: about a transfer or an account, as its type says. */
function toEvent(row: OutboxRow): LedgerEvent {
  const transferType = transferEventTypes.find((type) => type === row.event_type);
  if (transferType !== undefined) return { eventId: row.event_id, type: transferType, transfer: row.payload };
  const accountType = accountEventTypes.find((type) => type === row.event_type);
  if (accountType !== undefined) return { eventId: row.event_id, type: accountType, account: row.payload };
  throw new Error(`assertion failed: outbox event type ${row.event_type}`);
}
