import { topology } from '../infra/topology';
import { DynamoQueuedTransfers } from '../shared/adapters/aws/queued-transfers';
import { PostgresFraudStore } from '../shared/adapters/postgres/fraud-store';
import { PostgresTransferReader } from '../shared/adapters/postgres/transfers-reader';
import { transferPathSchema } from '../shared/api/schemas';
import { transferView } from '../shared/api/views';
import { type Dependencies, lazyHandler } from '../shared/config';
import { type ApiHandler, httpHandler } from '../shared/http/handler';
import { NotFoundProblem } from '../shared/http/problem';
import { TransferStatusService } from '../shared/services/transfer-status';

/** GET /v1/transfers/{id}: where the transfer is (queued, posted, rejected), its timeline and fraud verdict, or 404. */
export function createHandler(dependencies: Dependencies): ApiHandler {
  const transfers = new TransferStatusService(
    new PostgresTransferReader(dependencies.pool),
    new DynamoQueuedTransfers(
      dependencies.dynamo,
      dependencies.resources.idempotencyTable,
      topology.tables.idempotency.partitionKey,
    ),
    dependencies.logger,
    new PostgresFraudStore(dependencies.pool),
  );
  return httpHandler({
    name: 'GET /v1/transfers/{id}',
    logger: dependencies.logger,
    path: transferPathSchema,
    handle: async ({ path }) => {
      const status = await transfers.find(path.id);
      if (status === undefined) throw new NotFoundProblem(`transfer ${path.id} does not exist`);
      return { status: 200, body: transferView(status) };
    },
  });
}

export const handler = lazyHandler('get-transfer', createHandler);
