import { defineSqsFunction } from '../shared/definitions';
import { failureOutcome } from '../shared/handlers/sqs';

/**
 * The pattern listener: `transfer.posted` events from its own queue, each added to its debit
 * account's window and checked for fan-outs and structuring, once per event id. It flags, never
 * blocks: the transfers are posted already. Then the outbox relay, for the flags' events.
 */
export default defineSqsFunction({
  name: 'fraud-patterns',
  queue: 'fraudPatterns',
  batchSizeMax: 10,
  concurrencyMax: 2,
  access: [{ kind: 'database' }, { kind: 'bus-put', bus: 'events' }],
  limits: { timeoutS: 30, memoryMiB: 512 },
  build: ({ services }) => ({
    consume: async (records) => {
      const outcomes = await services.fraudPatterns.checkRecords(records);
      return outcomes.map((outcome) =>
        outcome.kind === 'done' ? 'done' : failureOutcome(outcome.transient),
      );
    },
    afterBatch: () => services.outboxRelay.relay(),
  }),
});
