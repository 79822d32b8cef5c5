import { DynamoVelocityStore } from '../shared/adapters/aws/velocity-store';
import { PostgresAccountStore } from '../shared/adapters/postgres/accounts-store';
import { createAccountBodySchema, entryPaging } from '../shared/api/schemas';
import { accountView, velocityOverridesFrom } from '../shared/api/views';
import { type Dependencies, lazyHandler } from '../shared/config';
import { type ApiHandler, httpHandler } from '../shared/http/handler';
import { AccountService } from '../shared/services/accounts';

/** POST /v1/accounts: opens an account (with its own velocity limits, if given) and answers 201 with it. */
export function createHandler(dependencies: Dependencies): ApiHandler {
  const accounts = new AccountService(
    new PostgresAccountStore(dependencies.pool),
    entryPaging,
    new DynamoVelocityStore(dependencies.dynamo, dependencies.resources.velocityTable),
  );
  return httpHandler({
    name: 'POST /v1/accounts',
    logger: dependencies.logger,
    body: createAccountBodySchema,
    handle: async ({ body }) => {
      const account = await accounts.openAccount({
        currency: body.currency,
        code: body.code ?? 0,
        debitsMustNotExceedCredits: body.flags?.debits_must_not_exceed_credits ?? false,
        creditsMustNotExceedDebits: body.flags?.credits_must_not_exceed_debits ?? false,
        metadata: body.metadata ?? {},
        velocity: velocityOverridesFrom(body.velocity),
      });
      return { status: 201, body: accountView(account), headers: { location: `/v1/accounts/${account.id}` } };
    },
  });
}

export const handler = lazyHandler('create-account', createHandler);
