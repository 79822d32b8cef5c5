import { Logger } from '@aws-lambda-powertools/logger';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { PostgresLedgerStore } from '../shared/adapters/postgres/ledger-store';
import { createPool, poolLimitsFromEnv } from '../shared/adapters/postgres/pool';
import { PostingService } from '../shared/services/posting-service';

/**
 * The transfer consumer: SQS FIFO batches (at most 10 records, any mix of message groups) in,
 * partial batch failures out. Only records that failed come back, and with FIFO semantics: after
 * a record fails, every later record of its message group is reported failed too.
 */
export function createTransferConsumer(
  service: PostingService,
): (event: SQSEvent) => Promise<SQSBatchResponse> {
  return async (event) => {
    const records = event.Records.map((record) => ({
      messageId: record.messageId,
      messageGroupId: record.attributes.MessageGroupId ?? record.messageId,
      body: record.body,
    }));
    const outcomes = await service.postRecords(records);
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

const logger = new Logger({ serviceName: 'transfer-consumer' });
let consume: ((event: SQSEvent) => Promise<SQSBatchResponse>) | undefined;

/** The Lambda entry point. The pool is made once per instance, on the first event. */
export const handler = async (event: SQSEvent): Promise<SQSBatchResponse> => {
  if (consume === undefined) {
    const databaseUrl = process.env.DATABASE_URL;
    if (databaseUrl === undefined) throw new Error('DATABASE_URL is not set');
    const store = new PostgresLedgerStore(createPool(databaseUrl, poolLimitsFromEnv()));
    consume = createTransferConsumer(new PostingService(store, logger));
  }
  return consume(event);
};
