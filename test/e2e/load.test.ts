import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../infra/local/postgres';
import type { LocalRuntime } from '../../infra/local/runtime';
import { uniqueNamePrefix } from '../support/aws';
import { useTestDatabase } from '../support/database';
import { client, startTestRuntime } from '../support/runtime';
import { openAccount, submitTransfer } from './ledger';

const database = useTestDatabase();
let runtime: LocalRuntime;

beforeAll(async () => {
  runtime = await startTestRuntime({ databaseUrl: database.url, namePrefix: uniqueNamePrefix() });
});

afterAll(async () => {
  await runtime?.stop();
});

/** A brief run's flags: a few accounts, a few seconds, a gentle rate. */
const briefRun = [
  '--duration-s',
  '3',
  '--rate-per-s',
  '20',
  '--connections',
  '4',
  '--accounts',
  '4',
  '--retry-share-percent',
  '20',
  '--settle-timeout-s',
  '60',
  '--json',
];

interface LoadRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `npm run load` against the test's runtime, as a user would against theirs. `onLine` sees
 * each progress line as it comes, so a test can act while the driver runs.
 */
function runLoad(
  args: readonly string[],
  onLine: (line: string) => void = () => undefined,
): Promise<LoadRun> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/load/load.ts', ...args], {
    cwd: projectRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LEDGER_URL: runtime.url, LEDGER_API_KEY: runtime.apiKey },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
  });
  child.stderr.on('data', (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    stderr += text;
    for (const line of text.split('\n')) if (line !== '') onLine(line);
  });
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
}

describe('npm run load', () => {
  it('drives transfers, verifies the ledger, prints one JSON line and exits 0', async () => {
    const run = await runLoad(briefRun);

    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const report = JSON.parse(lines[0] ?? '');
    expect(report).toMatchObject({
      target: runtime.url,
      consistent: true,
      problem_count: 0,
      problems: [],
      resolve: { unresolved: 0 },
      ledger: { not_final: 0, invariants: 'hold', quiet: true },
    });
    expect(report.accepted).toBeGreaterThan(0);
    expect(report.requests.retries_sent).toBeGreaterThan(0);
    // Every accepted transfer, in the load or while resolving, is posted (the accounts are funded).
    expect(report.ledger.posted).toBe(report.ledger.transfers_accepted);
    // A retry of an accepted key answers 202 again, with the same transfer: one transfer, two answers.
    expect(report.statuses['202']).toBeGreaterThanOrEqual(report.accepted);
    expect(report.latency_ms.max).toBeGreaterThanOrEqual(report.latency_ms.p99);
    expect(run.stderr).toMatch(/sent \d+ {2}accepted \d+/);
  });

  it('exits 1 and names the transfer when the ledger holds one on its accounts that it was not told about', async () => {
    // Someone else pays into the run's hot credit account while it runs: money the run cannot
    // account for, which its verification must find.
    const api = client(runtime);
    const outsider = await openAccount(api);
    let planted: Promise<string> | undefined;
    const run = await runLoad(briefRun, (line) => {
      const hotCredit = /hot credit ([0-9a-f-]{36})/.exec(line)?.[1];
      if (hotCredit !== undefined && planted === undefined) {
        planted = submitTransfer(
          api,
          { debit: outsider, credit: hotCredit, amount: '5' },
          `outsider-${hotCredit}`,
        );
      }
    });
    const plantedId = await planted;

    expect(plantedId).toBeDefined();
    expect(run.code, run.stderr).toBe(1);
    const report = JSON.parse(run.stdout.trim());
    expect(report.consistent).toBe(false);
    expect(report.problems).toEqual(
      expect.arrayContaining([
        expect.stringContaining(`transfer ${plantedId} on account`),
        expect.stringMatching(/^money is not conserved over the run's accounts: they sum to 5$/),
      ]),
    );
  });

  it('refuses unknown flags with its usage and exit code 2', async () => {
    const run = await runLoad(['--duration', '3']);

    expect(run.code).toBe(2);
    expect(run.stderr).toContain('Usage: npm run load');
  });
});
