/**
 * A real crash: `npm start`'s runtime process is killed with SIGKILL while it posts under a steady
 * stream of submissions, then started again on the same Postgres and the same AWS endpoint. Only
 * the runtime dies: the test passes the suite's AWS endpoint (AWS_ENDPOINT_URL) and its own
 * database (DATABASE_URL), so neither moto's memory nor Postgres goes with it (docs/faults.md says
 * what a moto of the runtime's own would lose).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { localAwsSettings } from '../../infra/local/aws';
import { freePort, projectRoot } from '../../infra/local/postgres';
import type { RuntimeFile } from '../../infra/local/runtime';
import { awsClients } from '../../shared/wiring';
import { uniqueNamePrefix } from '../support/aws';
import { useTestDatabase } from '../support/database';
import { client, waitFor } from '../support/runtime';
import { completeTrail, openAccount, trailOf, waitForCompleteTrail } from './ledger';

const database = useTestDatabase();
const apiKey = `kill-${randomUUID()}`;
const namePrefix = uniqueNamePrefix();
/** Submissions in flight at once: a steady stream, not a flood moto cannot keep up with. */
const submitterCount = 4;
const accountCount = 8;
/** The stream runs until this many transfers are acknowledged, then the runtime is killed. */
const acknowledgedBeforeKillMin = 80;
/** How long the test looks for a posting transaction in progress to kill the runtime under. */
const postingWatchMs = 10_000;
/**
 * The queues' visibility timeout during the first run. A message the killed runtime had received
 * comes back only after it, so the default (60 s) would make the test wait a minute; the
 * restarted runtime provisions the default again.
 */
const crashVisibilityTimeoutS = 8;
/** Retries of a submission whose answer the kill swallowed (409 while its first attempt holds the key). */
const resubmitAttemptCountMax = 40;
const resubmitPauseMs = 500;
const requestTimeoutMs = 15_000;
const uuidPattern = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

interface RuntimeProcess {
  readonly supervisor: ChildProcess;
  readonly file: RuntimeFile;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
}

const started: RuntimeProcess[] = [];
let directory: string | undefined;

afterAll(async () => {
  for (const each of started) {
    for (const pid of [each.file.pid, each.supervisor.pid]) {
      if (pid === undefined) continue;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }
  if (directory !== undefined) await rm(directory, { recursive: true, force: true });
});

/**
 * Runs `infra/local/start.ts` as `npm start` does (a supervisor and the runtime in a child process
 * of its own) on the test's database and the suite's AWS endpoint, and waits until it is ready.
 */
async function startRuntimeProcess(port: number, runtimeFile: string): Promise<RuntimeProcess> {
  let output = '';
  const supervisor = spawn(process.execPath, ['--import', 'tsx', 'infra/local/start.ts'], {
    cwd: projectRoot,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      DATABASE_URL: database.url,
      AWS_ENDPOINT_URL: inject('awsEndpoint'),
      LEDGER_LOCAL_NAME_PREFIX: namePrefix,
      PORT: String(port),
      LEDGER_API_KEY: apiKey,
      LEDGER_LOCAL_RUNTIME_FILE: runtimeFile,
      // The stream spreads over a few debit accounts; the velocity window must not refuse it.
      LEDGER_VELOCITY_MAX_TRANSFERS: '1000',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
    },
  });
  const append = (chunk: Buffer): void => {
    output += chunk.toString('utf8');
  };
  supervisor.stdout?.on('data', append);
  supervisor.stderr?.on('data', append);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    supervisor.once('exit', (code, signal) => resolve({ code, signal })),
  );
  await waitFor(
    'npm start to be ready',
    async () => {
      if (supervisor.exitCode !== null) throw new Error(`npm start exited: ${output}`);
      return output.includes('Press Ctrl+C') ? true : undefined;
    },
    90_000,
  );
  const file = JSON.parse(await readFile(runtimeFile, 'utf8')) as RuntimeFile;
  const handle = { supervisor, file, exited, output: () => output };
  started.push(handle);
  return handle;
}

/** One submission the stream made: its key and body, and the transfer id if the API answered 202. */
interface Submission {
  readonly idempotencyKey: string;
  readonly body: Record<string, unknown>;
  acknowledgedId?: string;
  /** The answer when it was not 202: a status, or the error the kill caused. */
  lastAnswer?: string;
}

async function submit(url: string, submission: Submission): Promise<number | string> {
  try {
    const response = await fetch(`${url}/v1/transfers`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-api-key': apiKey,
        'Idempotency-Key': submission.idempotencyKey,
      },
      body: JSON.stringify(submission.body),
      signal: AbortSignal.timeout(requestTimeoutMs),
    });
    const answer = (await response.json()) as { id?: string };
    if (response.status === 202 && typeof answer.id === 'string') submission.acknowledgedId = answer.id;
    return response.status;
  } catch (error) {
    return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  }
}

describe('a runtime killed with SIGKILL while it posts', () => {
  it('posts every acknowledged transfer exactly once after a restart, and nothing half', async () => {
    directory = await mkdtemp(path.join(tmpdir(), 'ledgerx-kill-'));
    const runtimeFile = path.join(directory, 'runtime.json');
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const first = await startRuntimeProcess(port, runtimeFile);
    const sqs = awsClients(localAwsSettings(inject('awsEndpoint'))).sqs;
    for (const [key, queueUrl] of Object.entries(first.file.resources.queueUrls)) {
      if (key.endsWith('DeadLetter')) continue;
      await sqs.send(
        new SetQueueAttributesCommand({
          QueueUrl: queueUrl,
          Attributes: { VisibilityTimeout: String(crashVisibilityTimeoutS) },
        }),
      );
    }
    const api = client({ url, apiKey });
    const accounts: string[] = [];
    for (let index = 0; index < accountCount; index += 1) accounts.push(await openAccount(api));

    // A steady stream: each submitter sends one transfer after another until the kill.
    const submissions: Submission[] = [];
    let streaming = true;
    const submitters = Array.from({ length: submitterCount }, async (_, submitter) => {
      for (let sequence = 0; streaming; sequence += 1) {
        const debit = accounts[(submitter + sequence) % accountCount] ?? '';
        const credit = accounts[(submitter + sequence * 3 + 1) % accountCount] ?? '';
        if (debit === credit) continue;
        const idempotencyKey = `kill-${randomUUID()}`;
        const submission: Submission = {
          idempotencyKey,
          body: {
            debit_account_id: debit,
            credit_account_id: credit,
            amount: String(1 + ((submitter * 7919 + sequence * 104_729) % 5_000)),
            currency: 'USD',
            metadata: { idempotency_key: idempotencyKey },
          },
        };
        submissions.push(submission);
        const answer = await submit(url, submission);
        if (answer !== 202) submission.lastAnswer = String(answer);
      }
    });
    const acknowledgedCount = (): number =>
      submissions.filter((submission) => submission.acknowledgedId !== undefined).length;
    const postedCount = async (): Promise<number> =>
      (await database.pool.query<{ count: number }>('select count(*)::int as count from ledger.transfers'))
        .rows[0]?.count ?? 0;
    await waitFor(
      `${acknowledgedBeforeKillMin} transfers acknowledged and some posted`,
      async () =>
        acknowledgedCount() >= acknowledgedBeforeKillMin && (await postedCount()) > 0 ? true : undefined,
      60_000,
      50,
    );
    // Kill it while a posting transaction is running, when one is seen in time; the transfer ids
    // its statement names (as far as Postgres shows the text) say what the kill cut into.
    const inFlightIds = await waitFor(
      'a posting transaction in progress',
      async () => {
        const { rows } = await database.pool.query<{ query: string }>(
          `select query from pg_stat_activity
            where pid <> pg_backend_pid() and datname = current_database()
              and state in ('active', 'idle in transaction') and query like '%ledger.post_transfers%'`,
        );
        return rows.length > 0 ? rows.flatMap((row) => row.query.match(uuidPattern) ?? []) : undefined;
      },
      postingWatchMs,
      1,
    ).catch(() => undefined);
    // The submitters send nothing new from here; the requests in flight die with the runtime.
    streaming = false;
    process.kill(first.file.pid, 'SIGKILL');
    const acknowledgedAtKill = acknowledgedCount();
    const supervisorExit = await first.exited;
    await Promise.all(submitters);
    const postedAtKill = await postedCount();
    const acknowledgedIdsAtKill = submissions.flatMap((submission) => submission.acknowledgedId ?? []);
    const { rows: notPostedAtKill } = await database.pool.query<{ id: string }>(
      'select id from unnest($1::uuid[]) as id where not exists (select 1 from ledger.transfers t where t.id = id)',
      [acknowledgedIdsAtKill],
    );
    const { rows: inFlightCommitted } = await database.pool.query<{ count: number }>(
      'select count(*)::int as count from ledger.transfers where id = any($1::uuid[])',
      [inFlightIds ?? []],
    );

    const second = await startRuntimeProcess(port, runtimeFile);
    // A client whose request the kill cut off retries it under the same key, as the API asks.
    const unanswered = submissions.filter((submission) => submission.acknowledgedId === undefined);
    for (const submission of unanswered) {
      for (let attempt = 0; attempt < resubmitAttemptCountMax; attempt += 1) {
        const answer = await submit(url, submission);
        if (answer === 202) break;
        submission.lastAnswer = String(answer);
        await sleep(resubmitPauseMs);
      }
    }
    const transferIds = submissions.map((submission) => submission.acknowledgedId ?? '');
    const trail = await waitForCompleteTrail(database.pool, transferIds, 90_000);
    const { rows: transfers } = await database.pool.query<{
      id: string;
      status: string;
      idempotencyKey: string;
      entryCount: number;
      entrySum: string;
    }>(
      `select t.id, t.status, t.metadata->>'idempotency_key' as "idempotencyKey",
              count(e.id)::int as "entryCount",
              coalesce(sum(case e.direction when 'debit' then e.amount else -e.amount end), 0)::text as "entrySum"
         from ledger.transfers t left join ledger.entries e on e.transfer_id = t.id
        group by t.id`,
    );
    const { rows: orphans } = await database.pool.query<{ count: number }>(
      `select count(*)::int as count from ledger.entries e
        where not exists (select 1 from ledger.transfers t where t.id = e.transfer_id)`,
    );
    const transfersPerKey = new Map<string, number>();
    for (const transfer of transfers) {
      transfersPerKey.set(transfer.idempotencyKey, (transfersPerKey.get(transfer.idempotencyKey) ?? 0) + 1);
    }
    const postedTwice = [...transfersPerKey.values()].filter((count) => count > 1).length;
    const counts = {
      submitted: submissions.length,
      acknowledgedBeforeKill: acknowledgedAtKill,
      postedAtKill,
      cutOffByTheKill: unanswered.length,
      acknowledgedAfterRetry: unanswered.filter((submission) => submission.acknowledgedId !== undefined)
        .length,
      posted: transfers.filter((transfer) => transfer.status === 'posted').length,
      postedTwice,
      acknowledgedNotPostedAtKill: notPostedAtKill.length,
      inFlightTransferIdsSeen: new Set((inFlightIds ?? []).filter((id) => transferIds.includes(id))).size,
      inFlightCommittedDespiteKill: inFlightCommitted[0]?.count ?? 0,
    };
    console.info(`runtime kill: ${JSON.stringify(counts)}`);

    // The runtime died of the signal; its supervisor reported the death rather than a clean stop.
    expect(supervisorExit.code).toBe(1);
    expect(inFlightIds).toBeDefined();
    // Every submission ends acknowledged: before the kill, or on its retry under the same key.
    expect(unanswered.filter((submission) => submission.acknowledgedId === undefined)).toEqual([]);
    // Each acknowledged transfer is posted once, with its two entries summing to zero, and no
    // transfer exists that no submission asked for.
    expect(trail).toEqual(completeTrail(submissions.length));
    expect(postedTwice).toBe(0);
    expect(new Set(transfers.map((transfer) => transfer.id))).toEqual(new Set(transferIds));
    expect(transfers.filter((transfer) => transfer.status !== 'posted')).toEqual([]);
    expect(transfers.filter((transfer) => transfer.entryCount !== 2 || transfer.entrySum !== '0')).toEqual(
      [],
    );
    expect(orphans[0]?.count).toBe(0);
    expect(await trailOf(database.pool, transferIds)).toEqual(completeTrail(submissions.length));

    // The restarted runtime stops cleanly.
    if (second.supervisor.pid === undefined) throw new Error('test: npm start has no pid');
    process.kill(-second.supervisor.pid, 'SIGINT');
    expect((await second.exited).code, second.output()).toBe(0);
  }, 240_000);
});
