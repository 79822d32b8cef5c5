import { defineScheduledFunction } from '../shared/definitions';

/** Rows one relay run takes: ten PutEvents calls. */
export const scheduledRowCountMax = 100;
/**
 * Runs per invocation. A run that found a full page looks again, so a backlog drains within one
 * invocation, but never past this bound (the function's timeout is the other bound).
 */
export const runCountMax = 20;

/**
 * The scheduled outbox relay: publishes the events that the consumers' own relays missed (the
 * bus was down, a consumer crashed between commit and publish). Entries the bus refused stay in
 * the outbox; a drain stops at the first page with a refusal rather than spin on it.
 */
export default defineScheduledFunction({
  name: 'outbox-relay',
  rateS: 60,
  access: [{ kind: 'database' }, { kind: 'bus-put', bus: 'events' }],
  limits: { timeoutS: 60, memoryMiB: 512 },
  build:
    ({ services }) =>
    () =>
      services.outboxRelay.drain({ rowCountMax: scheduledRowCountMax, runCountMax }),
});
