import type { TestProject } from 'vitest/node';
import { setupTestServices } from './global-setup';

/**
 * The e2e tier's global setup: Postgres and the AWS endpoint, shared with the integration tier,
 * and the System Internals page built when it is stale, for the browser test that loads it.
 */
export default function setup(project: TestProject): Promise<() => Promise<void>> {
  return setupTestServices(project, { buildDashboard: true });
}
