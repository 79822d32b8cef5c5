import { gaugesView } from '../shared/api/admin-views';
import { type Dependencies, lazyHandler } from '../shared/config';
import { type ApiHandler, httpHandler } from '../shared/http/handler';
import { adminService } from './admin-activity';

/**
 * GET /v1/admin/gauges: queue and dead-letter queue depths, transfers per second over the last
 * minutes, consumer batch sizes and times, fraud flags.
 */
export function createHandler(dependencies: Dependencies): ApiHandler {
  const admin = adminService(dependencies);
  return httpHandler({
    name: 'GET /v1/admin/gauges',
    logger: dependencies.logger,
    handle: async () => ({
      status: 200,
      body: gaugesView(await admin.gauges()),
      headers: { 'cache-control': 'no-store' },
    }),
  });
}

export const handler = lazyHandler('admin-gauges', createHandler);
