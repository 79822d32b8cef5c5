import { defineSqsFunction } from '../shared/definitions';
import { failureOutcome } from '../shared/handlers/sqs';

/**
 * The transfer events consumer: batches from the standard queue the EventBridge rule fills, each
 * record an event envelope. It records each delivery once per event id; records that failed go
 * back to the queue.
 */
export default defineSqsFunction({
  name: 'transfer-events',
  queue: 'transferEvents',
  batchSizeMax: 10,
  concurrencyMax: 2,
  access: [{ kind: 'database' }],
  limits: { timeoutS: 30, memoryMiB: 512 },
  build: ({ services }) => ({
    consume: async (records) => {
      const outcomes = await services.eventReceipts.recordRecords(records);
      return outcomes.map((outcome) =>
        outcome.kind === 'recorded' ? 'done' : failureOutcome(outcome.transient),
      );
    },
  }),
});
