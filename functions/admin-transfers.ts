import { adminTransferPageView } from '../shared/api/admin-views';
import { adminPageSizeDefault, adminTransfersQuerySchema } from '../shared/api/schemas';
import { type Dependencies, lazyHandler } from '../shared/config';
import { type ApiHandler, httpHandler } from '../shared/http/handler';
import { adminService } from './admin-activity';

/** GET /v1/admin/transfers?status=&limit=&cursor=: recorded transfers, newest first. */
export function createHandler(dependencies: Dependencies): ApiHandler {
  const admin = adminService(dependencies);
  return httpHandler({
    name: 'GET /v1/admin/transfers',
    logger: dependencies.logger,
    query: adminTransfersQuerySchema,
    handle: async ({ query }) => {
      const page = await admin.listTransfers({
        status: query.status,
        limit: query.limit ?? adminPageSizeDefault,
        beforeId: query.cursor,
      });
      return { status: 200, body: adminTransferPageView(page), headers: { 'cache-control': 'no-store' } };
    },
  });
}

export const handler = lazyHandler('admin-transfers', createHandler);
