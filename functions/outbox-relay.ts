import type { ScheduledEvent } from 'aws-lambda';
import { type Dependencies, lazyHandler, ledgerEventPublisher } from '../shared/config';
import { relayOutbox } from '../shared/services/outbox-relay';

/** Rows one relay run takes: ten PutEvents calls. */
export const scheduledRowCountMax = 100;
/**
 * Runs per invocation. A run that found a full page looks again, so a backlog drains within one
 * invocation, but never past this bound (the function's timeout is the other bound).
 */
export const runCountMax = 20;

/** What one scheduled invocation did. */
export interface OutboxRelayResult {
  readonly runCount: number;
  readonly publishedCount: number;
  readonly failedCount: number;
}

/**
 * The scheduled outbox relay: publishes the events that the consumers' own relays missed (the
 * bus was down, a consumer crashed between commit and publish). Entries the bus refused stay in
 * the outbox; the run stops at the first page with a refusal rather than spin on it.
 */
export function createHandler(
  dependencies: Dependencies,
): (event?: ScheduledEvent) => Promise<OutboxRelayResult> {
  const publisher = ledgerEventPublisher(dependencies);
  return async () => {
    let publishedCount = 0;
    let failedCount = 0;
    let runCount = 0;
    while (runCount < runCountMax) {
      runCount += 1;
      const outcome = await relayOutbox(dependencies.pool, publisher, { rowCountMax: scheduledRowCountMax });
      publishedCount += outcome.publishedCount;
      failedCount += outcome.failedCount;
      if (outcome.selectedCount < scheduledRowCountMax || outcome.failedCount > 0) break;
    }
    if (failedCount > 0) {
      dependencies.logger.warn('the bus refused some events; they stay in the outbox', { failedCount });
    }
    return { runCount, publishedCount, failedCount };
  };
}

/** The Lambda entry point, triggered by the schedule in the topology. */
export const handler = lazyHandler('outbox-relay', createHandler);
