import { activityView } from '../shared/api/admin-views';
import { activityQuerySchema, activityResponseSchema, adminPageSizeDefault } from '../shared/api/schemas';
import { defineHttpFunction } from '../shared/definitions';

/**
 * GET /v1/admin/activity?cursor=&limit=: the transfers recorded since the cursor (the live feed
 * of the System Internals page), each change once, in commit order.
 */
export default defineHttpFunction({
  name: 'admin-activity',
  method: 'GET',
  path: '/v1/admin/activity',
  request: { query: activityQuerySchema },
  operation: {
    operationId: 'listAdminActivity',
    summary: 'Admin: transfers recorded since a cursor (the live feed), each change once',
    success: {
      status: 200,
      schema: activityResponseSchema,
      description: 'The changes and the cursor to read on from.',
    },
    problems: [400, 401, 503],
  },
  access: [{ kind: 'database' }],
  limits: { timeoutS: 10, memoryMiB: 512 },
  build: ({ services }) => ({
    handle: async ({ query }) => {
      const page = await services.admin.activity(query.cursor, query.limit ?? adminPageSizeDefault);
      return { status: 200, body: activityView(page), headers: { 'cache-control': 'no-store' } };
    },
  }),
});
