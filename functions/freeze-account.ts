import { accountPathSchema, accountResponseSchema } from '../shared/api/schemas';
import { defineHttpFunction } from '../shared/definitions';
import { accountActionConflict, accountActionResponse } from '../shared/handlers/account-actions';

/**
 * POST /v1/accounts/{id}/freeze: freezes the account at once (a transfer already queued that touches it is rejected `debit_account_frozen` or `credit_account_frozen` when posted); its pending transfers can still be voided or expire. Freezing a frozen account changes nothing.
 * The change is synchronous, in Postgres, and evented (docs/ledger.md says why).
 */
export default defineHttpFunction({
  name: 'freeze-account',
  method: 'POST',
  path: '/v1/accounts/{id}/freeze',
  request: { path: accountPathSchema },
  operation: {
    operationId: 'freezeAccount',
    summary: 'Freeze an account: it takes part in no new transfer until unfrozen',
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
      accountActionResponse('freeze', path.id, await services.accounts.changeStatus(path.id, 'freeze')),
  }),
});
