import { accountPathSchema, accountResponseSchema } from '../shared/api/schemas';
import { defineHttpFunction } from '../shared/definitions';
import { accountActionConflict, accountActionResponse } from '../shared/handlers/account-actions';

/**
 * POST /v1/accounts/{id}/close: closes the account for good, if its posted balance is zero and nothing is pending (409 otherwise); transfers that touch it later are rejected `debit_account_closed` or `credit_account_closed`. Closing a closed account changes nothing.
 * The change is synchronous, in Postgres, and evented (docs/ledger.md says why).
 */
export default defineHttpFunction({
  name: 'close-account',
  method: 'POST',
  path: '/v1/accounts/{id}/close',
  request: { path: accountPathSchema },
  operation: {
    operationId: 'closeAccount',
    summary: 'Close an account, for good: only with a posted balance of zero and nothing pending',
    success: {
      status: 200,
      schema: accountResponseSchema,
      description: 'The account, as the action left it.',
    },
    problems: [400, 401, 404, accountActionConflict, 503],
  },
  access: [{ kind: 'database' }],
  limits: { timeoutS: 10, memoryMiB: 512 },
  build: ({ services }) => ({
    handle: async ({ path }) =>
      accountActionResponse('close', path.id, await services.accounts.changeStatus(path.id, 'close')),
  }),
});
