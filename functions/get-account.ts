import { accountPathSchema, accountResponseSchema } from '../shared/api/schemas';
import { accountView } from '../shared/api/views';
import { defineHttpFunction } from '../shared/definitions';
import { NotFoundProblem } from '../shared/handlers/problem';

/** GET /v1/accounts/{id}: the account with its totals, or 404. */
export default defineHttpFunction({
  name: 'get-account',
  method: 'GET',
  path: '/v1/accounts/{id}',
  request: { path: accountPathSchema },
  operation: {
    operationId: 'getAccount',
    summary: 'Read an account and its totals',
    success: { status: 200, schema: accountResponseSchema, description: 'The account.' },
    problems: [400, 401, 404, 503],
  },
  access: [{ kind: 'database' }],
  limits: { timeoutS: 10, memoryMiB: 512 },
  build: ({ services }) => ({
    handle: async ({ path }) => {
      const account = await services.accounts.findAccount(path.id);
      if (account === undefined) throw new NotFoundProblem(`account ${path.id} does not exist`);
      return { status: 200, body: accountView(account) };
    },
  }),
});
