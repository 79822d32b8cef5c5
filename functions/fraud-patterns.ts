import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { PostgresFraudStore } from '../shared/adapters/postgres/fraud-store';
import { type Dependencies, lazyHandler, ledgerEventPublisher } from '../shared/config';
import { fraudSettingsFromEnv } from '../shared/domain/fraud';
import { FraudPatternService } from '../shared/services/fraud';
import { relayOutbox } from '../shared/services/outbox-relay';
import { batchResponse } from './fraud-scorer';
import { withOutboxRelay } from './transfer-consumer';

/**
 * The pattern listener: `transfer.posted` events from its own queue, each added to its debit
 * account's window and checked for fan-outs and structuring, once per event id. It flags, never
 * blocks: the transfers are posted already.
 */
export function createFraudPatternListener(
  service: FraudPatternService,
): (event: SQSEvent) => Promise<SQSBatchResponse> {
  return async (event) => {
    const outcomes = await service.checkRecords(
      event.Records.map((record) => ({ messageId: record.messageId, body: record.body })),
    );
    return batchResponse(event, outcomes);
  };
}

/** The listener with its dependencies: the window and verdicts in Postgres, then the outbox relay. */
export function createHandler(dependencies: Dependencies): (event: SQSEvent) => Promise<SQSBatchResponse> {
  const store = new PostgresFraudStore(dependencies.pool);
  const publisher = ledgerEventPublisher(dependencies);
  return withOutboxRelay(
    createFraudPatternListener(new FraudPatternService(store, fraudSettingsFromEnv(), dependencies.logger)),
    () => relayOutbox(dependencies.pool, publisher),
    dependencies.logger,
  );
}

/** The Lambda entry point. The pool is made once per instance, on the first event. */
export const handler = lazyHandler('fraud-patterns', createHandler);
