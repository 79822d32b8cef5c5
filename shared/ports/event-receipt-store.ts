import type { LedgerEventType } from './event-publisher';

/** One delivery of a ledger event, as the events consumer received it. */
export interface EventDelivery {
  readonly eventId: string;
  readonly eventType: LedgerEventType;
  readonly transferId: string;
}

/** Where the events consumer records what it received. */
export interface EventReceiptStore {
  /**
   * Records the deliveries in one transaction: a first delivery of an event id adds its receipt,
   * a repeat (in this call or an earlier one) only counts. Throws `TransientError` when nothing
   * was recorded and the same call may succeed later, `PermanentError` when it will not.
   */
  record(deliveries: readonly EventDelivery[]): Promise<void>;
}
