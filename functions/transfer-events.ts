import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { PostgresEventReceiptStore } from '../shared/adapters/postgres/event-receipt-store';
import { type Dependencies, lazyHandler } from '../shared/config';
import { EventReceiptService } from '../shared/services/event-receipts';

/**
 * The transfer events consumer: batches from the standard queue the EventBridge rule fills, each
 * record an event envelope. It records each delivery once per event id and reports only the
 * records that failed, so SQS redelivers those and deletes the rest.
 */
export function createTransferEventsConsumer(
  service: EventReceiptService,
): (event: SQSEvent) => Promise<SQSBatchResponse> {
  return async (event) => {
    const records = event.Records.map((record) => ({ messageId: record.messageId, body: record.body }));
    const outcomes = await service.recordRecords(records);
    return {
      batchItemFailures: records
        .filter((_, index) => outcomes[index]?.kind !== 'recorded')
        .map((record) => ({ itemIdentifier: record.messageId })),
    };
  };
}

/** The consumer with its dependencies: receipts in Postgres. */
export function createHandler(dependencies: Dependencies): (event: SQSEvent) => Promise<SQSBatchResponse> {
  return createTransferEventsConsumer(
    new EventReceiptService(new PostgresEventReceiptStore(dependencies.pool), dependencies.logger),
  );
}

/** The Lambda entry point. The pool is made once per instance, on the first event. */
export const handler = lazyHandler('transfer-events', createHandler);
