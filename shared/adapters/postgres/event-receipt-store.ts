import type pg from 'pg';
import type { EventDelivery, EventReceiptStore } from '../../ports/event-receipt-store';
import { classifyDatabaseError } from './errors';

/** Event receipts in `ledger.event_receipts` (migration 0005). */
export class PostgresEventReceiptStore implements EventReceiptStore {
  public constructor(private readonly pool: pg.Pool) {}

  public async record(deliveries: readonly EventDelivery[]): Promise<void> {
    if (deliveries.length === 0) return;
    // One statement may not touch a row twice, so repeats within the call are counted first.
    const byEventId = new Map<string, { delivery: EventDelivery; count: number }>();
    for (const delivery of deliveries) {
      const seen = byEventId.get(delivery.eventId);
      if (seen === undefined) byEventId.set(delivery.eventId, { delivery, count: 1 });
      else seen.count += 1;
    }
    const rows = [...byEventId.values()].map(({ delivery, count }) => ({
      event_id: delivery.eventId,
      event_type: delivery.eventType,
      transfer_id: delivery.transferId,
      delivery_count: count,
    }));
    try {
      await this.pool.query(
        `insert into ledger.event_receipts as r (event_id, event_type, transfer_id, delivery_count)
         select event_id, event_type, transfer_id, delivery_count
           from jsonb_to_recordset($1::jsonb)
             as x(event_id uuid, event_type text, transfer_id uuid, delivery_count int)
         on conflict (event_id) do update set delivery_count = r.delivery_count + excluded.delivery_count`,
        [JSON.stringify(rows)],
      );
    } catch (error) {
      throw classifyDatabaseError(error, { operation: 'record event receipts', eventCount: rows.length });
    }
  }
}
