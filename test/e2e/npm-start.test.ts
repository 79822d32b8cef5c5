import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, projectRoot } from '../../infra/local/postgres';
import type { RuntimeFile } from '../../infra/local/runtime';
import { useTestDatabase } from '../support/database';
import { client, waitFor } from '../support/runtime';
import { completeTrail, openAccount, submitTransfer, trailOf } from './ledger';

const database = useTestDatabase();
let started: ChildProcess | undefined;
let directory: string | undefined;

afterAll(async () => {
  if (started?.pid !== undefined && started.exitCode === null) process.kill(-started.pid, 'SIGKILL');
  if (directory !== undefined) await rm(directory, { recursive: true, force: true });
});

describe('npm start', () => {
  it('on Ctrl+C posts what it accepted, then stops moto and exits cleanly', async () => {
    directory = await mkdtemp(path.join(tmpdir(), 'ledgerx-start-'));
    const runtimeFile = path.join(directory, 'runtime.json');
    const port = await freePort();
    const { AWS_ENDPOINT_URL: _shared, ...env } = process.env;
    let output = '';
    // As `npm start` runs it, in a process group of its own, as a terminal's foreground job is.
    const child = spawn(process.execPath, ['--import', 'tsx', 'infra/local/start.ts'], {
      cwd: projectRoot,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...env,
        DATABASE_URL: database.url,
        PORT: String(port),
        LEDGER_API_KEY: 'npm-start-test-key',
        LEDGER_LOCAL_RUNTIME_FILE: runtimeFile,
        POWERTOOLS_LOG_LEVEL: 'SILENT',
      },
    });
    started = child;
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await waitFor('npm start to be ready', async () => (output.includes('Press Ctrl+C') ? true : undefined));
    const { awsEndpoint, apiKey } = JSON.parse(await readFile(runtimeFile, 'utf8')) as RuntimeFile;
    // The runtime file carries the key for the local tools, so only its owner may read it.
    expect(apiKey).toBe('npm-start-test-key');
    expect((await stat(runtimeFile)).mode & 0o777).toBe(0o600);
    const api = client({ url: `http://127.0.0.1:${port}`, apiKey: 'npm-start-test-key' });
    const [debit, credit] = [await openAccount(api), await openAccount(api)];
    const transferIds: string[] = [];
    for (let index = 0; index < 3; index += 1) {
      transferIds.push(await submitTransfer(api, { debit, credit, amount: '2' }, `start-${randomUUID()}`));
    }

    // Ctrl+C: SIGINT to the whole foreground process group.
    if (child.pid === undefined) throw new Error('test: npm start has no pid');
    process.kill(-child.pid, 'SIGINT');
    const code = await exited;
    const motoAnswers = await fetch(awsEndpoint, { signal: AbortSignal.timeout(1_000) }).then(
      () => true,
      () => false,
    );

    expect(code, output).toBe(0);
    expect(output).toMatch(/stopped/);
    expect(motoAnswers).toBe(false);
    // Everything accepted before the stop was posted, and its events received, before moto went.
    expect(await trailOf(database.pool, transferIds)).toEqual(completeTrail(3));
  });
});
