import { accountResponseSchema, createAccountBodySchema } from '../shared/api/schemas';
import { accountView, velocityOverridesFrom } from '../shared/api/views';
import { defineHttpFunction } from '../shared/definitions';

/** POST /v1/accounts: opens an account (with its own velocity limits, if given) and answers 201 with it. */
export default defineHttpFunction({
  name: 'create-account',
  method: 'POST',
  path: '/v1/accounts',
  request: { body: createAccountBodySchema },
  operation: {
    operationId: 'createAccount',
    summary: 'Open an account',
    success: {
      status: 201,
      schema: accountResponseSchema,
      description: 'The account, opened with zero totals.',
    },
    problems: [400, 401, 413, 503],
  },
  access: [{ kind: 'database' }, { kind: 'table-read-write', table: 'velocity' }],
  limits: { timeoutS: 10, memoryMiB: 512 },
  build: ({ services }) => ({
    handle: async ({ body }) => {
      const account = await services.accounts.openAccount({
        currency: body.currency,
        code: body.code ?? 0,
        debitsMustNotExceedCredits: body.flags?.debits_must_not_exceed_credits ?? false,
        creditsMustNotExceedDebits: body.flags?.credits_must_not_exceed_debits ?? false,
        metadata: body.metadata ?? {},
        velocity: velocityOverridesFrom(body.velocity),
      });
      return { status: 201, body: accountView(account), headers: { location: `/v1/accounts/${account.id}` } };
    },
  }),
});
