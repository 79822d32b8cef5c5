/**
 * The outbox relay: publishes the events the ledger wrote in its transactions, oldest first, and
 * marks the ones the bus accepted. Events leave only after their transfer committed, at least
 * once (a crash between publish and mark publishes again; consumers deduplicate on the event id).
 */
import type { EventPublisher } from '../ports/event-publisher';
import type { Logger } from '../ports/logger';
import type { OutboxStore, RelayOutcome } from '../ports/outbox';

/** Rows one run takes by default: a few PutEvents calls, a short-held lock. */
export const relayRowCountDefault = 100;
/** The largest run allowed; a longer transaction would hold its row locks for too long. */
export const relayRowCountMax = 1000;

/** What one drain did: how many runs, and what they published and left behind. */
export interface DrainOutcome {
  readonly runCount: number;
  readonly publishedCount: number;
  readonly failedCount: number;
}

export class OutboxRelay {
  public constructor(
    private readonly store: OutboxStore,
    private readonly publisher: EventPublisher,
    private readonly logger: Logger,
  ) {}

  /**
   * One run: up to `rowCountMax` unpublished events. Entries the bus refused stay unpublished
   * for a later run. A failed publish call throws `TransientError` and marks nothing.
   */
  public relay(rowCountMax: number = relayRowCountDefault): Promise<RelayOutcome> {
    if (!Number.isInteger(rowCountMax) || rowCountMax < 1 || rowCountMax > relayRowCountMax) {
      throw new RangeError(`rowCountMax must be an integer in [1, ${relayRowCountMax}], got ${rowCountMax}`);
    }
    return this.store.publishPending(rowCountMax, (events) => this.publisher.publish(events));
  }

  /**
   * Runs until a run finds less than a full page, or the bus refuses an entry, but never more
   * than `runCountMax` runs: a backlog drains within one call, and a refusal does not spin.
   */
  public async drain(limits: {
    readonly rowCountMax: number;
    readonly runCountMax: number;
  }): Promise<DrainOutcome> {
    let publishedCount = 0;
    let failedCount = 0;
    let runCount = 0;
    while (runCount < limits.runCountMax) {
      runCount += 1;
      const outcome = await this.relay(limits.rowCountMax);
      publishedCount += outcome.publishedCount;
      failedCount += outcome.failedCount;
      if (outcome.selectedCount < limits.rowCountMax || outcome.failedCount > 0) break;
    }
    if (failedCount > 0) {
      this.logger.warn('the bus refused some events; they stay in the outbox', { failedCount });
    }
    return { runCount, publishedCount, failedCount };
  }
}
