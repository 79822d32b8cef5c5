import { accountPathSchema, balanceQuerySchema, balanceResponseSchema } from '../shared/api/schemas';
import { balanceView } from '../shared/api/views';
import { defineHttpFunction } from '../shared/definitions';
import { NotFoundProblem } from '../shared/handlers/problem';

/**
 * GET /v1/accounts/{id}/balance?as_of=: the account's posted totals and balance at an instant,
 * those just after its newest entry at or before it (zero before its first), or 404.
 */
export default defineHttpFunction({
  name: 'get-account-balance',
  method: 'GET',
  path: '/v1/accounts/{id}/balance',
  request: { path: accountPathSchema, query: balanceQuerySchema },
  operation: {
    operationId: 'getAccountBalance',
    summary: "Read an account's posted totals and balance as of an instant",
    success: {
      status: 200,
      schema: balanceResponseSchema,
      description: 'The totals just after the newest entry at or before the instant.',
    },
    problems: [400, 401, 404, 503],
  },
  access: [{ kind: 'database' }],
  limits: { timeoutS: 10, memoryMiB: 512 },
  build: ({ services }) => ({
    handle: async ({ path, query }) => {
      const balance = await services.accounts.balanceAsOf(path.id, query.as_of);
      if (balance === undefined) throw new NotFoundProblem(`account ${path.id} does not exist`);
      return { status: 200, body: balanceView(balance) };
    },
  }),
});
