/**
 * The AWS endpoint the local runtime and the tests talk to: the one `AWS_ENDPOINT_URL` names
 * (LocalStack from docker-compose.yml, a shared moto), or a moto server of our own, started as a
 * child process. moto needs no Docker and no account, which is why it is the default.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import type { AwsClientSettings } from '../../shared/wiring';
import { freePort, projectRoot } from './postgres';

/** A reachable AWS endpoint and how to stop it (a no-op for an endpoint we did not start). */
export interface AwsEndpoint {
  readonly endpoint: string;
  /** Whether this process started the server (and so owns it). */
  readonly owned: boolean;
  /** The server's process, when this process started it. */
  readonly pid?: number;
  /** Something the user should know about how it runs (moto without keep-alive), if anything. */
  readonly notice?: string;
  stop(): Promise<void>;
}

/** How long moto may take to answer its first request; it imports a lot of Python on start. */
const startTimeoutMs = 30_000;
/** Pause between readiness probes. */
const probeIntervalMs = 100;
/** How long one readiness probe may take. */
const probeTimeoutMs = 1_000;
/** How long a stopped moto gets to exit on SIGTERM before it is killed. */
const stopTimeoutMs = 5_000;
/** moto's output kept for the error message when it fails to start. */
const logLineCountMax = 50;

/**
 * The moto server of the local runtime and the tests: moto 5 with fixes for what is slow or wrong
 * in it under load (atomic DynamoDB item operations, O(1) SQS FIFO sends, receives and deletes,
 * cached request routing and jsonpath parses), served with keep-alive by Debian's waitress when it
 * is installed. Each fix is described in the file.
 */
const motoServerScript = path.join(projectRoot, 'infra', 'local', 'moto_server.py');

/** The children this process started, killed on exit so no moto outlives its parent. */
const children = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of children) child.kill('SIGKILL');
  });
}

/**
 * Returns the endpoint `AWS_ENDPOINT_URL` names when set; otherwise starts
 * moto_server (see `motoServerScript`) on a free loopback port and waits until it answers HTTP.
 */
export async function startAwsEndpoint(
  options: { readonly env?: NodeJS.ProcessEnv; readonly port?: number } = {},
): Promise<AwsEndpoint> {
  const configured = (options.env ?? process.env).AWS_ENDPOINT_URL;
  if (configured !== undefined && configured !== '') {
    await waitUntilAnswering(configured, startTimeoutMs, () => undefined);
    return { endpoint: configured, owned: false, stop: async () => undefined };
  }
  return startMoto(options.port ?? (await freePort()));
}

/** Starts a moto server of our own on the given port (see `motoServerScript`). */
export async function startMoto(port: number): Promise<AwsEndpoint> {
  const endpoint = `http://127.0.0.1:${port}`;
  const logLines: string[] = [];
  const child = spawn('python3', [motoServerScript, '-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: a Ctrl+C in the terminal reaches the runtime, which stops moto last,
    // after the pollers have finished with its queues, instead of moto dying first.
    detached: true,
  });
  installExitHook();
  children.add(child);
  const keep = (chunk: Buffer): void => {
    logLines.push(chunk.toString('utf8'));
    if (logLines.length > logLineCountMax) logLines.shift();
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      children.delete(child);
      resolve();
    });
  });
  let spawnError: unknown;
  child.once('error', (error) => {
    spawnError = error;
  });

  try {
    await waitUntilAnswering(endpoint, startTimeoutMs, () => {
      if (spawnError !== undefined) throw spawnError;
      if (child.exitCode !== null) throw new Error(`moto exited with code ${child.exitCode}`);
    });
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`moto_server did not start on ${endpoint}:\n${logLines.join('')}`, { cause: error });
  }

  const fallback = logLines.join('').match(/^moto \([^)]*\): waitress is not installed.*$/m);
  let stopping: Promise<void> | undefined;
  return {
    endpoint,
    owned: true,
    ...(child.pid === undefined ? {} : { pid: child.pid }),
    ...(fallback === null ? {} : { notice: fallback[0] }),
    stop: () => {
      stopping ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), stopTimeoutMs);
        await exited;
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
}

/**
 * Probes the endpoint until it answers any HTTP status, or throws after `timeoutMs`. `check`
 * runs between probes so a child that died stops the wait at once.
 */
async function waitUntilAnswering(endpoint: string, timeoutMs: number, check: () => void): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    check();
    try {
      await fetch(endpoint, { signal: AbortSignal.timeout(probeTimeoutMs) });
      return;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, probeIntervalMs));
  }
  throw new Error(`${endpoint} did not answer within ${timeoutMs} ms`, { cause: lastError });
}

/**
 * SDK settings for a local endpoint: the region from AWS_REGION (us-east-1 otherwise), and fake
 * credentials unless real ones are in the environment (moto and LocalStack accept any).
 */
export function localAwsSettings(endpoint: string, env: NodeJS.ProcessEnv = process.env): AwsClientSettings {
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  const hasCredentials =
    accessKeyId !== undefined &&
    accessKeyId !== '' &&
    secretAccessKey !== undefined &&
    secretAccessKey !== '';
  return {
    endpoint,
    region: env.AWS_REGION ?? 'us-east-1',
    credentials: hasCredentials
      ? { accessKeyId, secretAccessKey }
      : { accessKeyId: 'test', secretAccessKey: 'test' },
  };
}
