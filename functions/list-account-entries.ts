import { accountPathSchema, entriesQuerySchema, entryPageResponseSchema } from '../shared/api/schemas';
import { entryPageView } from '../shared/api/views';
import { defineHttpFunction } from '../shared/definitions';
import { NotFoundProblem } from '../shared/handlers/problem';

/**
 * GET /v1/accounts/{id}/entries?limit=&cursor=&as_of=: the account's entries, newest first, a page
 * at a time; with `as_of`, only those posted at or before that instant.
 */
export default defineHttpFunction({
  name: 'list-account-entries',
  method: 'GET',
  path: '/v1/accounts/{id}/entries',
  request: { path: accountPathSchema, query: entriesQuerySchema },
  operation: {
    operationId: 'listAccountEntries',
    summary: "List an account's entries, newest first",
    success: {
      status: 200,
      schema: entryPageResponseSchema,
      description: 'A page of entries and the cursor to the next.',
    },
    problems: [400, 401, 404, 503],
  },
  access: [{ kind: 'database' }],
  limits: { timeoutS: 10, memoryMiB: 512 },
  build: ({ services }) => ({
    handle: async ({ path, query }) => {
      const page = await services.accounts.listEntries(path.id, {
        ...(query.limit === undefined ? {} : { limit: query.limit }),
        ...(query.cursor === undefined ? {} : { beforeId: query.cursor }),
        ...(query.as_of === undefined ? {} : { asOf: query.as_of }),
      });
      if (page === undefined) throw new NotFoundProblem(`account ${path.id} does not exist`);
      return { status: 200, body: entryPageView(page) };
    },
  }),
});
