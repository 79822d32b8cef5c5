import {
  type EventBridgeClient,
  PutEventsCommand,
  type PutEventsCommandOutput,
  type PutEventsRequestEntry,
} from '@aws-sdk/client-eventbridge';
import { TransientError } from '../../errors';
import type { EventPublisher, PublishableEvent, PublishOutcome } from '../../ports/event-publisher';

/** PutEvents takes at most 10 entries per call. */
export const putEventsEntryCountMax = 10;
/** PutEvents takes at most 256 KiB of entries per call (AWS counts the fields, not the JSON). */
export const putEventsBytesMax = 256 * 1024;
/** How long one PutEvents call may take, retries included, before it is given up as transient. */
export const putEventsTimeoutMs = 10_000;

/** Where the events go and what they say they come from. */
export interface EventBridgeTarget {
  readonly eventBusName: string;
  readonly source: string;
}

/**
 * Publishes ledger events to an EventBridge bus, in PutEvents calls of at most 10 entries.
 * Detail is `{event_id, type, transfer}`, `account` instead of `transfer` for an account event and
 * `violation` for `ledger.invariant_violated`; DetailType is the event type, so rules can route on it.
 */
export class EventBridgePublisher implements EventPublisher {
  public constructor(
    private readonly eventBridge: EventBridgeClient,
    private readonly target: EventBridgeTarget,
    private readonly timeoutMs: number = putEventsTimeoutMs,
  ) {}

  public async publish(events: readonly PublishableEvent[]): Promise<PublishOutcome[]> {
    const outcomes: PublishOutcome[] = [];
    for (const chunk of chunks(events.map((event) => this.entry(event)))) {
      outcomes.push(...(await this.put(chunk)));
    }
    return outcomes;
  }

  private entry(event: PublishableEvent): PutEventsRequestEntry {
    return {
      EventBusName: this.target.eventBusName,
      Source: this.target.source,
      DetailType: event.type,
      Detail: JSON.stringify(
        'transfer' in event
          ? { event_id: event.eventId, type: event.type, transfer: event.transfer }
          : 'account' in event
            ? { event_id: event.eventId, type: event.type, account: event.account }
            : { event_id: event.eventId, type: event.type, violation: event.violation },
      ),
    };
  }

  private async put(entries: readonly PutEventsRequestEntry[]): Promise<PublishOutcome[]> {
    let answer: PutEventsCommandOutput;
    try {
      answer = await this.eventBridge.send(new PutEventsCommand({ Entries: [...entries] }), {
        abortSignal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw new TransientError('PutEvents failed', { cause: error, context: { entryCount: entries.length } });
    }
    // The answer lists one result per entry, in order; an entry with an ErrorCode was not published.
    return entries.map((_, index): PublishOutcome => {
      const result = answer.Entries?.[index];
      if (result === undefined)
        return { kind: 'failed', reason: 'PutEvents returned no result for the entry' };
      if (result.ErrorCode !== undefined) {
        return { kind: 'failed', reason: `${result.ErrorCode}: ${result.ErrorMessage ?? ''}` };
      }
      return { kind: 'published' };
    });
  }
}

/** The size AWS charges an entry against the 256 KiB limit: its strings, in UTF-8 bytes. */
function entryBytes(entry: PutEventsRequestEntry): number {
  return [entry.Source, entry.DetailType, entry.Detail, entry.EventBusName]
    .map((field) => Buffer.byteLength(field ?? '', 'utf8'))
    .reduce((sum, bytes) => sum + bytes, 0);
}

/** Splits entries into calls of at most 10 entries and at most 256 KiB each. */
function chunks(entries: readonly PutEventsRequestEntry[]): PutEventsRequestEntry[][] {
  const result: PutEventsRequestEntry[][] = [];
  let current: PutEventsRequestEntry[] = [];
  let currentBytes = 0;
  for (const entry of entries) {
    const bytes = entryBytes(entry);
    if (
      current.length === putEventsEntryCountMax ||
      (current.length > 0 && currentBytes + bytes > putEventsBytesMax)
    ) {
      result.push(current);
      current = [];
      currentBytes = 0;
    }
    current.push(entry);
    currentBytes += bytes;
  }
  if (current.length > 0) result.push(current);
  return result;
}
