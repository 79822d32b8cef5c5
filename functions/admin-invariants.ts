import { type Dependencies, lazyHandler } from '../shared/config';
import { type ApiHandler, httpHandler } from '../shared/http/handler';
import { InvariantsViolatedProblem } from '../shared/http/problem';
import { adminService } from './admin-activity';

/**
 * GET /v1/admin/invariants: runs `ledger.check_invariants()`. 200 when every invariant holds;
 * 500 `invariants-violated` with the violations when any does not, so a load run (or a monitor)
 * can check a deployed stage as the tests check their databases.
 */
export function createHandler(dependencies: Dependencies): ApiHandler {
  const admin = adminService(dependencies);
  return httpHandler({
    name: 'GET /v1/admin/invariants',
    logger: dependencies.logger,
    handle: async () => {
      const report = await admin.checkInvariants();
      if (report.violations.length > 0)
        throw new InvariantsViolatedProblem(report.violations, report.truncated);
      return {
        status: 200,
        body: { checked_at: new Date().toISOString(), violations: [] },
        headers: { 'cache-control': 'no-store' },
      };
    },
  });
}

export const handler = lazyHandler('admin-invariants', createHandler);
