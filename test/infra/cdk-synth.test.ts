import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../infra/cdk/bundling';

const run = promisify(execFile);
const outdir = mkdtempSync(path.join(tmpdir(), 'ledgerx-cdk-'));

afterAll(() => rmSync(outdir, { recursive: true, force: true }));

interface ValidationReport {
  readonly pluginReports: readonly {
    readonly pluginName: string;
    readonly violations?: readonly { readonly ruleName: string; readonly severity: string }[];
  }[];
}

describe('cdk synth (the pinned CLI, offline, with bundling and cdk-nag)', () => {
  it('synthesizes the dev stage with no AWS account, clean of cdk-nag errors, migrations beside their function', async () => {
    const cli = path.join(projectRoot, 'node_modules', '.bin', 'cdk');
    const { stdout, stderr } = await run(
      cli,
      ['synth', '--quiet', '--no-notices', '--output', outdir, '-c', 'stage=dev'],
      {
        cwd: projectRoot,
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          // No credentials and no region: the stacks are environment-agnostic.
          CDK_DISABLE_VERSION_CHECK: '1',
          CDK_DISABLE_CLI_TELEMETRY: 'true',
          // CDK's built-in CloudFormation schema check only ever warns (it cannot fail a synth)
          // and costs a third of the time; cdk-nag, the check that fails synth, still runs.
          CDK_VALIDATION: 'false',
        },
        maxBuffer: 32 * 1024 * 1024,
      },
    );
    expect(`${stdout}\n${stderr}`).not.toMatch(/AwsSolutions-\S+/);

    const report = JSON.parse(
      readFileSync(path.join(outdir, 'validation-report.json'), 'utf8'),
    ) as ValidationReport;
    const errors = report.pluginReports.flatMap((plugin) =>
      (plugin.violations ?? []).filter((violation) => violation.severity === 'error'),
    );
    expect(errors).toEqual([]);

    const bundles = readdirSync(outdir).filter((name) => existsSync(path.join(outdir, name, 'index.mjs')));
    const withMigrations = bundles.filter((name) =>
      existsSync(path.join(outdir, name, 'migrations', '0001_ledger', 'up.sql')),
    );
    expect(withMigrations).toHaveLength(1);
  }, 300_000);
});
