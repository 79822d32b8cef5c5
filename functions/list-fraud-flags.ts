import { PostgresFraudStore } from '../shared/adapters/postgres/fraud-store';
import { flagPaging, flagsQuerySchema } from '../shared/api/schemas';
import { fraudFlagPageView } from '../shared/api/views';
import { type Dependencies, lazyHandler } from '../shared/config';
import { type ApiHandler, httpHandler } from '../shared/http/handler';
import { FraudFlagService } from '../shared/services/fraud';

/** GET /v1/fraud/flags?limit=&cursor=: flagged transfers, newest flag first, a page at a time. */
export function createHandler(dependencies: Dependencies): ApiHandler {
  const flags = new FraudFlagService(new PostgresFraudStore(dependencies.pool), flagPaging);
  return httpHandler({
    name: 'GET /v1/fraud/flags',
    logger: dependencies.logger,
    query: flagsQuerySchema,
    handle: async ({ query }) => {
      const page = await flags.listFlags({
        ...(query.limit === undefined ? {} : { limit: query.limit }),
        ...(query.cursor === undefined ? {} : { beforeFlagId: query.cursor }),
      });
      return { status: 200, body: fraudFlagPageView(page) };
    },
  });
}

export const handler = lazyHandler('list-fraud-flags', createHandler);
