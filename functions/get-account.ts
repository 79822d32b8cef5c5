import { PostgresAccountStore } from '../shared/adapters/postgres/accounts-store';
import { accountPathSchema, entryPaging } from '../shared/api/schemas';
import { accountView } from '../shared/api/views';
import { type Dependencies, lazyHandler } from '../shared/config';
import { type ApiHandler, httpHandler } from '../shared/http/handler';
import { NotFoundProblem } from '../shared/http/problem';
import { AccountService } from '../shared/services/accounts';

/** GET /v1/accounts/{id}: the account with its totals, or 404. */
export function createHandler(dependencies: Dependencies): ApiHandler {
  const accounts = new AccountService(new PostgresAccountStore(dependencies.pool), entryPaging);
  return httpHandler({
    name: 'GET /v1/accounts/{id}',
    logger: dependencies.logger,
    path: accountPathSchema,
    handle: async ({ path }) => {
      const account = await accounts.findAccount(path.id);
      if (account === undefined) throw new NotFoundProblem(`account ${path.id} does not exist`);
      return { status: 200, body: accountView(account) };
    },
  });
}

export const handler = lazyHandler('get-account', createHandler);
