import { accountPathSchema, accountResponseSchema } from '../shared/api/schemas';
import { defineHttpFunction } from '../shared/definitions';
import { accountActionConflict, accountActionResponse } from '../shared/handlers/account-actions';

/**
 * POST /v1/accounts/{id}/unfreeze: opens a frozen account again. Unfreezing an open account changes nothing.
 * The change is synchronous, in Postgres, and evented (docs/ledger.md says why).
 */
export default defineHttpFunction({
  name: 'unfreeze-account',
  method: 'POST',
  path: '/v1/accounts/{id}/unfreeze',
  request: { path: accountPathSchema },
  operation: {
    operationId: 'unfreezeAccount',
    summary: 'Unfreeze a frozen account',
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
      accountActionResponse('unfreeze', path.id, await services.accounts.changeStatus(path.id, 'unfreeze')),
  }),
});
