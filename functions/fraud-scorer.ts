import { defineSqsFunction } from '../shared/definitions';
import { failureOutcome } from '../shared/handlers/sqs';

/**
 * The fraud scorer: `transfer.posted` events from its own standard queue (an EventBridge rule
 * fills it), each scored against the debit account's profile once per event id; then the outbox
 * relay, so a `transfer.flagged` event leaves at once rather than on the relay's schedule.
 */
export default defineSqsFunction({
  name: 'fraud-scorer',
  queue: 'fraudScorer',
  batchSizeMax: 10,
  concurrencyMax: 2,
  access: [{ kind: 'database' }, { kind: 'bus-put', bus: 'events' }],
  limits: { timeoutS: 30, memoryMiB: 512 },
  build: ({ services }) => ({
    consume: async (records) => {
      const outcomes = await services.fraudScoring.scoreRecords(records);
      return outcomes.map((outcome) =>
        outcome.kind === 'done' ? 'done' : failureOutcome(outcome.transient),
      );
    },
    afterBatch: () => services.outboxRelay.relay(),
  }),
});
