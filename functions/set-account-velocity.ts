import { accountPathSchema, accountResponseSchema, velocityLimitsSchema } from '../shared/api/schemas';
import { accountView, velocityOverridesFrom } from '../shared/api/views';
import { defineHttpFunction } from '../shared/definitions';
import { NotFoundProblem } from '../shared/handlers/problem';

/**
 * PUT /v1/accounts/{id}/velocity: replaces the account's own velocity limits (a field left out or
 * null takes the default) and answers 200 with the account, or 404.
 */
export default defineHttpFunction({
  name: 'set-account-velocity',
  method: 'PUT',
  path: '/v1/accounts/{id}/velocity',
  request: { path: accountPathSchema, body: velocityLimitsSchema },
  operation: {
    operationId: 'setAccountVelocity',
    summary: "Replace an account's own velocity limits (left out or null: the default)",
    success: { status: 200, schema: accountResponseSchema, description: 'The account with its new limits.' },
    problems: [400, 401, 404, 413, 503],
  },
  access: [{ kind: 'database' }, { kind: 'table-read-write', table: 'velocity' }],
  limits: { timeoutS: 10, memoryMiB: 512 },
  build: ({ services }) => ({
    handle: async ({ path, body }) => {
      const account = await services.accounts.setVelocity(path.id, velocityOverridesFrom(body));
      if (account === undefined) throw new NotFoundProblem(`account ${path.id} does not exist`);
      return { status: 200, body: accountView(account) };
    },
  }),
});
