import { transferBatchProgressResponseSchema, transferPathSchema } from '../shared/api/schemas';
import { defineHttpFunction } from '../shared/definitions';
import { NotFoundProblem } from '../shared/handlers/problem';

/**
 * GET /v1/transfers/batch/{id}: a batch's progress through the ledger, by its `batch_id`: how
 * many of its items are posted and rejected so far. One index range scan of the ledger's
 * transfers, so it is cheap to poll.
 */
export default defineHttpFunction({
  name: 'get-transfer-batch',
  method: 'GET',
  path: '/v1/transfers/batch/{id}',
  request: { path: transferPathSchema },
  operation: {
    operationId: 'getTransferBatch',
    summary: "Read a batch's progress: how many of its transfers are posted and rejected",
    success: {
      status: 200,
      schema: transferBatchProgressResponseSchema,
      description: "The batch's recorded transfers, by outcome.",
    },
    problems: [400, 401, 404, 503],
  },
  access: [{ kind: 'database' }],
  limits: { timeoutS: 10, memoryMiB: 256 },
  build: ({ services }) => ({
    handle: async ({ path }) => {
      const counts = await services.transferStatus.batchProgress(path.id);
      if (counts === undefined) throw new NotFoundProblem(`${path.id} is not a batch id`);
      return {
        status: 200,
        body: {
          batch_id: path.id,
          posted_count: counts.posted,
          rejected_count: counts.rejected,
          recorded_count: counts.posted + counts.rejected,
        },
      };
    },
  }),
});
