import { z } from 'zod';
import type { ParseResult } from '../domain/transfer';
import { isTransient } from '../errors';
import type { EventDelivery, EventReceiptStore } from '../ports/event-receipt-store';
import type { Logger } from '../ports/logger';

/** One queue record as the events service sees it. */
export interface EventRecord {
  readonly messageId: string;
  readonly body: string;
}

/** What became of one record: recorded, or failed (back to the queue, and to its DLQ in the end). */
export type EventRecordOutcome =
  | { readonly kind: 'recorded'; readonly delivery: EventDelivery }
  /** `transient`: the failure may pass (the database is down), so the record is worth waiting for. */
  | { readonly kind: 'failed'; readonly reason: string; readonly transient: boolean };

/** The most records one batch may hold (the SQS event source mapping's batch size bound). */
export const eventRecordCountMax = 10;

/**
 * The transfer events the consumer receives: every outcome a transfer is recorded with, and the
 * expiry of a hold (the rule in `shared/topology.ts` routes these).
 */
export const receivedEventTypes = [
  'transfer.posted',
  'transfer.rejected',
  'transfer.pending',
  'transfer.voided',
  'transfer.expired',
] as const;

/** The EventBridge envelope SQS delivers, with the Detail the outbox relay writes. */
const envelopeSchema = z.object({
  id: z.string(),
  'detail-type': z.enum(receivedEventTypes),
  source: z.string(),
  detail: z.object({
    // The outbox derives event ids from an md5 hash, so they are UUID-shaped without a version.
    event_id: z.guid(),
    type: z.enum(receivedEventTypes),
    transfer: z.looseObject({ id: z.guid() }),
  }),
});

/** Reads a ledger event delivery from an SQS body holding an EventBridge envelope. */
export function parseEventEnvelope(body: string): ParseResult<EventDelivery> {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { ok: false, reason: 'body is not valid JSON' };
  }
  const parsed = envelopeSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return {
      ok: false,
      reason: `not a ledger event: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`,
    };
  }
  const { detail } = parsed.data;
  if (detail.type !== parsed.data['detail-type']) {
    return { ok: false, reason: 'detail.type does not match detail-type' };
  }
  return {
    ok: true,
    value: { eventId: detail.event_id, eventType: detail.type, transferId: detail.transfer.id },
  };
}

/**
 * Records every delivery of ledger events, once per event id however often it comes. A record
 * that is not a ledger event fails (after its receive count it rests in the dead-letter queue,
 * where someone can look at it) without holding up the rest of its batch; when the store fails,
 * every event of the batch fails and the queue delivers them again.
 */
export class EventReceiptService {
  public constructor(
    private readonly store: EventReceiptStore,
    private readonly logger: Logger,
  ) {}

  public async recordRecords(records: readonly EventRecord[]): Promise<EventRecordOutcome[]> {
    if (records.length > eventRecordCountMax) {
      throw new RangeError(`a batch holds at most ${eventRecordCountMax} records, got ${records.length}`);
    }
    const parsed = records.map((record) => ({ record, result: parseEventEnvelope(record.body) }));
    const deliveries: EventDelivery[] = [];
    for (const { record, result } of parsed) {
      if (result.ok) deliveries.push(result.value);
      else
        this.logger.error('not a ledger event; it goes to the dead-letter queue', {
          messageId: record.messageId,
          reason: result.reason,
        });
    }
    let storeError: unknown;
    try {
      await this.store.record(deliveries);
    } catch (error) {
      storeError = error;
      this.logger.warn('event receipts not recorded; the batch will be delivered again', {
        eventCount: deliveries.length,
        error,
      });
    }
    return parsed.map(({ result }): EventRecordOutcome => {
      if (!result.ok) return { kind: 'failed', reason: result.reason, transient: false };
      if (storeError !== undefined) {
        return { kind: 'failed', reason: String(storeError), transient: isTransient(storeError) };
      }
      return { kind: 'recorded', delivery: result.value };
    });
  }
}
