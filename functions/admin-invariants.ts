import { invariantsResponseSchema } from '../shared/api/schemas';
import { defineHttpFunction } from '../shared/definitions';
import { InvariantsViolatedProblem } from '../shared/handlers/problem';

/**
 * GET /v1/admin/invariants: runs `ledger.check_invariants()`. 200 when every invariant holds;
 * 500 `invariants-violated` with the violations when any does not, so a load run (or a monitor)
 * can check a deployed stage as the tests check their databases.
 */
export default defineHttpFunction({
  name: 'admin-invariants',
  method: 'GET',
  path: '/v1/admin/invariants',
  request: {},
  operation: {
    operationId: 'checkAdminInvariants',
    summary: "Admin: run the ledger's invariant check (500 invariants-violated with the violations)",
    success: { status: 200, schema: invariantsResponseSchema, description: 'Every invariant holds.' },
    problems: [401, 503],
  },
  access: [{ kind: 'database' }],
  // The check reads the whole ledger; API Gateway waits at most 29 s for an integration.
  limits: { timeoutS: 28, memoryMiB: 512 },
  build: ({ services }) => ({
    handle: async () => {
      const report = await services.admin.checkInvariants();
      if (report.violations.length > 0) {
        throw new InvariantsViolatedProblem(report.violations, report.truncated);
      }
      return {
        status: 200,
        body: { checked_at: new Date().toISOString(), violations: [] },
        headers: { 'cache-control': 'no-store' },
      };
    },
  }),
});
