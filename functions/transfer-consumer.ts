import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { PostgresLedgerStore } from '../shared/adapters/postgres/ledger-store';
import { type Dependencies, lazyHandler, ledgerEventPublisher } from '../shared/config';
import type { Logger } from '../shared/ports/logger';
import { relayOutbox } from '../shared/services/outbox-relay';
import { PostingService, recordCountMax } from '../shared/services/posting-service';

/**
 * The transfer consumer: SQS FIFO batches (at most 10 records, any mix of message groups) in,
 * partial batch failures out. Only records that failed come back, and with FIFO semantics: after
 * a record fails, every later record of its message group is reported failed too.
 */
export function createTransferConsumer(
  service: PostingService,
): (event: SQSEvent) => Promise<SQSBatchResponse> {
  return async (event) => {
    const receivedAt = new Date();
    const records = event.Records.map((record) => ({
      messageId: record.messageId,
      messageGroupId: record.attributes.MessageGroupId ?? record.messageId,
      body: record.body,
    }));
    const outcomes = await service.postRecords(records, receivedAt);
    const failedGroups = new Set<string>();
    const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
    records.forEach((record, index) => {
      if (outcomes[index]?.kind === 'failed' || failedGroups.has(record.messageGroupId)) {
        failedGroups.add(record.messageGroupId);
        batchItemFailures.push({ itemIdentifier: record.messageId });
      }
    });
    return { batchItemFailures };
  };
}

/**
 * Outbox rows the consumer relays after its batch: its own batch's events (one per transfer)
 * and a few older ones, so events leave within a batch's time rather than the schedule's.
 */
const relayRowCountMax = 2 * recordCountMax;

/**
 * Runs `consume`, then publishes the outbox events it wrote. The relay is best effort: the batch
 * is committed whatever happens to it, so a relay failure is logged and left to the scheduled
 * relay, never reported as a batch failure (that would redeliver posted transfers for nothing).
 */
export function withOutboxRelay(
  consume: (event: SQSEvent) => Promise<SQSBatchResponse>,
  relay: () => Promise<unknown>,
  logger: Logger,
): (event: SQSEvent) => Promise<SQSBatchResponse> {
  return async (event) => {
    const response = await consume(event);
    if (response.batchItemFailures.length < event.Records.length) {
      try {
        await relay();
      } catch (error) {
        logger.warn('outbox relay after the batch failed; the scheduled relay will publish', { error });
      }
    }
    return response;
  };
}

/** The consumer with its dependencies: posting to Postgres, then relaying to EventBridge. */
export function createHandler(dependencies: Dependencies): (event: SQSEvent) => Promise<SQSBatchResponse> {
  const service = new PostingService(new PostgresLedgerStore(dependencies.pool), dependencies.logger);
  const publisher = ledgerEventPublisher(dependencies);
  return withOutboxRelay(
    createTransferConsumer(service),
    () => relayOutbox(dependencies.pool, publisher, { rowCountMax: relayRowCountMax }),
    dependencies.logger,
  );
}

/** The Lambda entry point. Pool and clients are made once per instance, on the first event. */
export const handler = lazyHandler('transfer-consumer', createHandler);
