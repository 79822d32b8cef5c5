import { defineConfig } from 'vitest/config';

/**
 * Four tiers, one vitest project each (docs/testing.md). `npx vitest run --project unit` needs
 * nothing but Node; `npm test` runs every project. Only the tiers that need Postgres and the AWS
 * endpoint start them (one global setup, shared by both), and only the e2e tier, whose browser
 * test serves the System Internals page, builds it.
 */
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Metrics are printed (the embedded metric format) only where a test reads them.
    env: { POWERTOOLS_LOG_LEVEL: 'SILENT', POWERTOOLS_METRICS_DISABLED: 'true' },
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'] },
      },
      {
        extends: true,
        test: { name: 'infra', include: ['test/infra/**/*.test.ts'] },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: ['test/support/global-setup-e2e.ts'],
        },
      },
    ],
  },
});
