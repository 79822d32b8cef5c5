import { DynamoVelocityStore } from '../shared/adapters/aws/velocity-store';
import { PostgresAccountStore } from '../shared/adapters/postgres/accounts-store';
import { accountPathSchema, entryPaging, velocityLimitsSchema } from '../shared/api/schemas';
import { accountView, velocityOverridesFrom } from '../shared/api/views';
import { type Dependencies, lazyHandler } from '../shared/config';
import { type ApiHandler, httpHandler } from '../shared/http/handler';
import { NotFoundProblem } from '../shared/http/problem';
import { AccountService } from '../shared/services/accounts';

/**
 * PUT /v1/accounts/{id}/velocity: replaces the account's own velocity limits (a field left out or
 * null takes the default) and answers 200 with the account, or 404.
 */
export function createHandler(dependencies: Dependencies): ApiHandler {
  const accounts = new AccountService(
    new PostgresAccountStore(dependencies.pool),
    entryPaging,
    new DynamoVelocityStore(dependencies.dynamo, dependencies.resources.velocityTable),
  );
  return httpHandler({
    name: 'PUT /v1/accounts/{id}/velocity',
    logger: dependencies.logger,
    path: accountPathSchema,
    body: velocityLimitsSchema,
    handle: async ({ path, body }) => {
      const account = await accounts.setVelocity(path.id, velocityOverridesFrom(body));
      if (account === undefined) throw new NotFoundProblem(`account ${path.id} does not exist`);
      return { status: 200, body: accountView(account) };
    },
  });
}

export const handler = lazyHandler('set-account-velocity', createHandler);
