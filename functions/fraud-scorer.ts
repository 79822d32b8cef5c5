import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { PostgresFraudStore } from '../shared/adapters/postgres/fraud-store';
import { type Dependencies, lazyHandler, ledgerEventPublisher } from '../shared/config';
import { fraudSettingsFromEnv } from '../shared/domain/fraud';
import { type FraudRecordOutcome, FraudScoringService } from '../shared/services/fraud';
import { relayOutbox } from '../shared/services/outbox-relay';
import { withOutboxRelay } from './transfer-consumer';

/** Reports the records that failed, so SQS redelivers those (and, in the end, dead-letters them). */
export function batchResponse(event: SQSEvent, outcomes: readonly FraudRecordOutcome[]): SQSBatchResponse {
  return {
    batchItemFailures: event.Records.filter((_, index) => outcomes[index]?.kind !== 'done').map((record) => ({
      itemIdentifier: record.messageId,
    })),
  };
}

/**
 * The fraud scorer: `transfer.posted` events from its own standard queue (an EventBridge rule
 * fills it), each scored against the debit account's profile once per event id.
 */
export function createFraudScorer(
  service: FraudScoringService,
): (event: SQSEvent) => Promise<SQSBatchResponse> {
  return async (event) => {
    const outcomes = await service.scoreRecords(
      event.Records.map((record) => ({ messageId: record.messageId, body: record.body })),
    );
    return batchResponse(event, outcomes);
  };
}

/**
 * The scorer with its dependencies: profiles and verdicts in Postgres, settings from the
 * environment, then the outbox relay, so a `transfer.flagged` event leaves at once rather than on
 * the relay's schedule.
 */
export function createHandler(dependencies: Dependencies): (event: SQSEvent) => Promise<SQSBatchResponse> {
  const store = new PostgresFraudStore(dependencies.pool);
  const publisher = ledgerEventPublisher(dependencies);
  return withOutboxRelay(
    createFraudScorer(new FraudScoringService(store, fraudSettingsFromEnv(), dependencies.logger)),
    () => relayOutbox(dependencies.pool, publisher),
    dependencies.logger,
  );
}

/** The Lambda entry point. The pool is made once per instance, on the first event. */
export const handler = lazyHandler('fraud-scorer', createHandler);
