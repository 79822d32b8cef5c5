import { defineSqsFunction } from '../shared/definitions';
import { isTransient } from '../shared/errors';
import { failureOutcome } from '../shared/handlers/sqs';
import { recordCountMax } from '../shared/services/posting-service';

/**
 * Outbox rows the consumer relays after its batch: its own batch's events (one per transfer)
 * and a few older ones, so events leave within a batch's time rather than the schedule's.
 */
const relayRowCountMax = 2 * recordCountMax;

/**
 * The transfer consumer: SQS FIFO batches (at most 10 records, any mix of message groups) posted
 * in one transaction (an atomic set in a transaction of its own, in message order), then the
 * batch's events relayed to the bus. Only records that failed come
 * back, with FIFO semantics (the wrapper holds back the rest of a failed record's group).
 */
export default defineSqsFunction({
  name: 'transfer-consumer',
  queue: 'transfers',
  batchSizeMax: recordCountMax,
  concurrencyMax: 4,
  access: [
    { kind: 'database' },
    { kind: 'bus-put', bus: 'events' },
    // Notes a dead-lettered transfer on the API's record of it (UpdateItem, rare).
    { kind: 'table-read-write', table: 'idempotency' },
  ],
  limits: { timeoutS: 30, memoryMiB: 1024 },
  build: ({ services }) => ({
    consume: async (records, receivedAt) => {
      const outcomes = await services.posting.postRecords(records, receivedAt);
      return outcomes.map((outcome) =>
        outcome.kind === 'failed' ? failureOutcome(isTransient(outcome.error)) : 'done',
      );
    },
    afterBatch: () => services.outboxRelay.relay(relayRowCountMax),
    // So GET /v1/transfers/{id} says the transfer waits in the dead-letter queue.
    beforeDeadLetter: (records) => services.deadLetters.noteRecords(records),
  }),
});
