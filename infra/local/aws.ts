/**
 * The AWS endpoint the local runtime and the tests talk to: the one `AWS_ENDPOINT_URL` names
 * (LocalStack from docker-compose.yml, a shared moto), or a moto server of our own, started as a
 * child process. moto needs no Docker and no account, which is why it is the default.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { AwsClientSettings } from '../../shared/wiring';
import { freePort } from './postgres';

/** A reachable AWS endpoint and how to stop it (a no-op for an endpoint we did not start). */
export interface AwsEndpoint {
  readonly endpoint: string;
  /** Whether this process started the server (and so owns it). */
  readonly owned: boolean;
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
 * Starts moto_server as `python3 -m moto.server` would, after two fixes:
 * - moto 5 rebuilds a jsonpath parser (a PLY grammar, about 45 ms) eight times for every event an
 *   EventBridge rule sends to a target, so PutEvents takes ~0.4 s per event. Caching the parse,
 *   which returns an immutable expression, makes it take milliseconds. Without jsonpath_ng the
 *   server runs as is.
 * - moto serves requests on threads and checks a DynamoDB condition, then writes, with no lock
 *   between: on a busy machine two conditional puts of one key could both succeed, which
 *   DynamoDB never allows (seen: two racing requests with one Idempotency-Key both ran, about one
 *   run in four under load). Each item operation runs under one lock, so a condition and its
 *   write are atomic, as on AWS.
 * - moto's TransactWriteItems deep-copies every table it touches, whole, to roll back on failure:
 *   each completed transfer submission (one transaction on the idempotency table) cost time in
 *   proportion to every record the table held, under the lock above. A table is not copied any
 *   more; the items the transaction names are, and are put back if it fails.
 */
const motoLauncher = [
  'import functools, sys, threading',
  'try:',
  '    import jsonpath_ng.ext',
  '    jsonpath_ng.ext.parse = functools.lru_cache(maxsize=256)(jsonpath_ng.ext.parse)',
  'except ImportError:',
  '    pass',
  'from moto.dynamodb.models import DynamoDBBackend',
  '_item_lock = threading.RLock()',
  'def _atomic(operation):',
  '    @functools.wraps(operation)',
  '    def run(*args, **kwargs):',
  '        with _item_lock:',
  '            return operation(*args, **kwargs)',
  '    return run',
  'import copy',
  'from moto.dynamodb.models.table import Table',
  'Table.__deepcopy__ = lambda self, memo: self',
  '_transact_write_items = DynamoDBBackend.transact_write_items',
  'def _transact_with_item_backups(self, transact_items):',
  '    backups = []',
  '    for entry in transact_items:',
  '        op = next(iter(entry.values()))',
  "        table = self.tables.get(op.get('TableName'))",
  "        keys = op.get('Key')",
  "        if table is not None and keys is None and 'Item' in op:",
  "            keys = {name: op['Item'][name] for name in (table.hash_key_attr, table.range_key_attr) if name and name in op['Item']}",
  '        if table is None or not keys:',
  '            continue',
  '        try:',
  '            hash_key, range_key = self.get_keys_value(table, keys)',
  '        except Exception:',
  '            continue',
  '        backups.append((table, hash_key, range_key, copy.deepcopy(table.get_item(hash_key, range_key))))',
  '    try:',
  '        return _transact_write_items(self, transact_items)',
  '    except Exception:',
  '        for table, hash_key, range_key, item in reversed(backups):',
  '            home = table.items[hash_key] if range_key is not None else table.items',
  '            slot = range_key if range_key is not None else hash_key',
  '            if item is None:',
  '                home.pop(slot, None)',
  '            else:',
  '                home[slot] = item',
  '        raise',
  'DynamoDBBackend.transact_write_items = _transact_with_item_backups',
  "for _name in ('get_item', 'put_item', 'update_item', 'delete_item', 'batch_write_item', 'transact_write_items'):",
  '    setattr(DynamoDBBackend, _name, _atomic(getattr(DynamoDBBackend, _name)))',
  'from moto.server import main',
  'main(sys.argv[1:])',
].join('\n');

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
 * moto_server (see `motoLauncher`) on a free loopback port and waits until it answers HTTP.
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

/** Starts a moto server of our own on the given port (see `motoLauncher`). */
export async function startMoto(port: number): Promise<AwsEndpoint> {
  const endpoint = `http://127.0.0.1:${port}`;
  const logLines: string[] = [];
  const child = spawn('python3', ['-c', motoLauncher, '-H', '127.0.0.1', '-p', String(port)], {
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

  let stopping: Promise<void> | undefined;
  return {
    endpoint,
    owned: true,
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
