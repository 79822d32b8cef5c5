import { adminTransferPageView } from '../shared/api/admin-views';
import {
  adminPageSizeDefault,
  adminTransferPageResponseSchema,
  adminTransfersQuerySchema,
} from '../shared/api/schemas';
import { defineHttpFunction } from '../shared/definitions';

/** GET /v1/admin/transfers?status=&limit=&cursor=: recorded transfers, newest first. */
export default defineHttpFunction({
  name: 'admin-transfers',
  method: 'GET',
  path: '/v1/admin/transfers',
  request: { query: adminTransfersQuerySchema },
  operation: {
    operationId: 'listAdminTransfers',
    summary: 'Admin: recorded transfers, newest first, optionally by status',
    success: {
      status: 200,
      schema: adminTransferPageResponseSchema,
      description: 'A page of transfers and the cursor to the next.',
    },
    problems: [400, 401, 503],
  },
  access: [{ kind: 'database' }],
  limits: { timeoutS: 10, memoryMiB: 512 },
  build: ({ services }) => ({
    handle: async ({ query }) => {
      const page = await services.admin.listTransfers({
        status: query.status,
        limit: query.limit ?? adminPageSizeDefault,
        beforeId: query.cursor,
      });
      return { status: 200, body: adminTransferPageView(page), headers: { 'cache-control': 'no-store' } };
    },
  }),
});
