import { gaugesView } from '../shared/api/admin-views';
import { gaugesResponseSchema } from '../shared/api/schemas';
import { defineHttpFunction } from '../shared/definitions';

/**
 * GET /v1/admin/gauges: queue and dead-letter queue depths, transfers per second over the last
 * minutes, consumer batch sizes and times, fraud flags.
 */
export default defineHttpFunction({
  name: 'admin-gauges',
  method: 'GET',
  path: '/v1/admin/gauges',
  request: {},
  operation: {
    operationId: 'getAdminGauges',
    summary: 'Admin: queue depths, transfers per second, consumer batches, fraud flags',
    success: {
      status: 200,
      schema: gaugesResponseSchema,
      description: 'The gauges; a source without data yet is null.',
    },
    problems: [401, 503],
  },
  access: [
    { kind: 'database' },
    // GetQueueAttributes on the transfers queue and its dead-letter queue.
    { kind: 'queue-admin', queue: 'transfers' },
    { kind: 'queue-admin', queue: 'transfersDeadLetter' },
  ],
  limits: { timeoutS: 10, memoryMiB: 512 },
  build: ({ services }) => ({
    handle: async () => ({
      status: 200,
      body: gaugesView(await services.admin.gauges()),
      headers: { 'cache-control': 'no-store' },
    }),
  }),
});
