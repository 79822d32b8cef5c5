import { PostgresAccountStore } from '../shared/adapters/postgres/accounts-store';
import { accountPathSchema, entriesQuerySchema, entryPaging } from '../shared/api/schemas';
import { entryPageView } from '../shared/api/views';
import { type Dependencies, lazyHandler } from '../shared/config';
import { type ApiHandler, httpHandler } from '../shared/http/handler';
import { NotFoundProblem } from '../shared/http/problem';
import { AccountService } from '../shared/services/accounts';

/** GET /v1/accounts/{id}/entries?limit=&cursor=: the account's entries, newest first, a page at a time. */
export function createHandler(dependencies: Dependencies): ApiHandler {
  const accounts = new AccountService(new PostgresAccountStore(dependencies.pool), entryPaging);
  return httpHandler({
    name: 'GET /v1/accounts/{id}/entries',
    logger: dependencies.logger,
    path: accountPathSchema,
    query: entriesQuerySchema,
    handle: async ({ path, query }) => {
      const page = await accounts.listEntries(path.id, {
        ...(query.limit === undefined ? {} : { limit: query.limit }),
        ...(query.cursor === undefined ? {} : { beforeId: query.cursor }),
      });
      if (page === undefined) throw new NotFoundProblem(`account ${path.id} does not exist`);
      return { status: 200, body: entryPageView(page) };
    },
  });
}

export const handler = lazyHandler('list-account-entries', createHandler);
