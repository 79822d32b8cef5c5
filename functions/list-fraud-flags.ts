import { flagsQuerySchema, fraudFlagPageResponseSchema } from '../shared/api/schemas';
import { fraudFlagPageView } from '../shared/api/views';
import { defineHttpFunction } from '../shared/definitions';

/** GET /v1/fraud/flags?limit=&cursor=: flagged transfers, newest flag first, a page at a time. */
export default defineHttpFunction({
  name: 'list-fraud-flags',
  method: 'GET',
  path: '/v1/fraud/flags',
  request: { query: flagsQuerySchema },
  operation: {
    operationId: 'listFraudFlags',
    summary: 'List flagged transfers, newest flag first',
    success: {
      status: 200,
      schema: fraudFlagPageResponseSchema,
      description: 'A page of flagged transfers and the cursor to the next.',
    },
    problems: [400, 401, 503],
  },
  access: [{ kind: 'database' }],
  limits: { timeoutS: 10, memoryMiB: 512 },
  build: ({ services }) => ({
    handle: async ({ query }) => {
      const page = await services.fraudFlags.listFlags({
        ...(query.limit === undefined ? {} : { limit: query.limit }),
        ...(query.cursor === undefined ? {} : { beforeFlagId: query.cursor }),
      });
      return { status: 200, body: fraudFlagPageView(page) };
    },
  }),
});
