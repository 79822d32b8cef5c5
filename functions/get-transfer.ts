import { transferPathSchema, transferResponseSchema } from '../shared/api/schemas';
import { transferView } from '../shared/api/views';
import { defineHttpFunction } from '../shared/definitions';
import { NotFoundProblem } from '../shared/handlers/problem';

/** GET /v1/transfers/{id}: where the transfer is (queued, posted, rejected), its timeline and fraud verdict, or 404. */
export default defineHttpFunction({
  name: 'get-transfer',
  method: 'GET',
  path: '/v1/transfers/{id}',
  request: { path: transferPathSchema },
  operation: {
    operationId: 'getTransfer',
    summary: 'Read a transfer: queued, posted or rejected, with its timeline and fraud verdict',
    success: {
      status: 200,
      schema: transferResponseSchema,
      description: 'The transfer and the steps it went through.',
    },
    problems: [400, 401, 404, 503],
  },
  access: [{ kind: 'database' }, { kind: 'table-read', table: 'idempotency' }],
  limits: { timeoutS: 10, memoryMiB: 512 },
  build: ({ services }) => ({
    handle: async ({ path }) => {
      const status = await services.transferStatus.find(path.id);
      if (status === undefined) throw new NotFoundProblem(`transfer ${path.id} does not exist`);
      return { status: 200, body: transferView(status) };
    },
  }),
});
