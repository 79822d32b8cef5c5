import { invariantsQuerySchema, invariantsResponseSchema } from '../shared/api/schemas';
import { defineHttpFunction } from '../shared/definitions';
import { InvariantsViolatedProblem } from '../shared/handlers/problem';

/**
 * GET /v1/admin/invariants: runs the incremental invariant checker once, as its schedule would
 * (what changed since its last run, within its limits). 200 with what the run checked when no
 * violation is on record; 500 `invariants-violated` with the recorded violations otherwise (they
 * stay on record until an operator clears them after repair, docs/operations.md). `?full=true`
 * runs `ledger.check_invariants()` over the whole ledger instead, as the tests do after each test:
 * a load run (or a monitor) checks a deployed stage that way.
 */
export default defineHttpFunction({
  name: 'admin-invariants',
  method: 'GET',
  path: '/v1/admin/invariants',
  request: { query: invariantsQuerySchema },
  operation: {
    operationId: 'checkAdminInvariants',
    summary:
      "Admin: run the ledger's invariant check, incremental or (full=true) whole (500 invariants-violated with the violations)",
    success: { status: 200, schema: invariantsResponseSchema, description: 'Every invariant holds.' },
    problems: [400, 401, 503],
  },
  access: [{ kind: 'database' }, { kind: 'bus-put', bus: 'events' }],
  // The full check reads the whole ledger, and the incremental run stops starting steps after its
  // time budget (20 s by default); API Gateway waits at most 29 s for an integration.
  limits: { timeoutS: 28, memoryMiB: 512 },
  build: ({ services }) => ({
    handle: async ({ query }) => {
      const headers = { 'cache-control': 'no-store' };
      if (query.full) {
        const report = await services.admin.checkInvariants();
        if (report.violations.length > 0) {
          throw new InvariantsViolatedProblem(report.violations, report.truncated);
        }
        return {
          status: 200,
          body: { checked_at: new Date().toISOString(), mode: 'full', violations: [] },
          headers,
        };
      }
      const run = await services.invariantChecker.run();
      if (run.recorded.count > 0) {
        throw new InvariantsViolatedProblem(
          run.recorded.violations.map(({ invariant, subject, detail }) => ({ invariant, subject, detail })),
          run.recorded.truncated,
          'the invariant checker',
        );
      }
      return {
        status: 200,
        body: {
          checked_at: new Date().toISOString(),
          mode: 'incremental',
          violations: [],
          run: {
            stopped_by: run.stoppedBy,
            entries_checked: run.entryCount,
            accounts_checked: run.accountCount,
            entries_scrubbed: run.scrubEntryCount,
            entry_id_checked: run.entryIdChecked.toString(),
            entry_backlog: run.entryBacklogCount.toString(),
          },
        },
        headers,
      };
    },
  }),
});
