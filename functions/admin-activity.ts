import { SqsQueueDepths } from '../shared/adapters/aws/queue-depths';
import { PostgresAdminReader } from '../shared/adapters/postgres/admin-reader';
import { activityView } from '../shared/api/admin-views';
import { activityQuerySchema, adminPageSizeDefault } from '../shared/api/schemas';
import { type Dependencies, lazyHandler } from '../shared/config';
import { type ApiHandler, httpHandler } from '../shared/http/handler';
import { AdminService } from '../shared/services/admin';

/** The admin service over the ledger and the transfers queues, for the `/v1/admin` routes. */
export function adminService(dependencies: Dependencies): AdminService {
  return new AdminService(
    new PostgresAdminReader(dependencies.pool),
    new SqsQueueDepths(dependencies.sqs, {
      transfers: dependencies.resources.transfersQueueUrl,
      transfersDeadLetter: dependencies.resources.transfersDeadLetterQueueUrl,
    }),
    dependencies.logger,
  );
}

/**
 * GET /v1/admin/activity?cursor=&limit=: the transfers recorded since the cursor (the live feed
 * of the System Internals page), each change once, in commit order.
 */
export function createHandler(dependencies: Dependencies): ApiHandler {
  const admin = adminService(dependencies);
  return httpHandler({
    name: 'GET /v1/admin/activity',
    logger: dependencies.logger,
    query: activityQuerySchema,
    handle: async ({ query }) => {
      const page = await admin.activity(query.cursor, query.limit ?? adminPageSizeDefault);
      return { status: 200, body: activityView(page), headers: { 'cache-control': 'no-store' } };
    },
  });
}

export const handler = lazyHandler('admin-activity', createHandler);
