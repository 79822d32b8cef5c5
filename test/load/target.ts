/** Where a load run goes: LEDGER_URL and LEDGER_API_KEY, or the runtime `npm start` wrote. */
import { readFile } from 'node:fs/promises';
import { runtimeFilePath as localRuntimeFilePath } from '../../infra/local/runtime';
import { readLocalSettings } from '../../shared/settings';

const settings = readLocalSettings();
export const runtimeFilePath = localRuntimeFilePath(settings);

/** A flag or the target is wrong: the run prints its usage and exits 2. */
export class UsageError extends Error {
  public constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface Target {
  readonly url: string;
  readonly apiKey: string;
  /** The local runtime's process, when the target is the one `npm start` wrote: its CPU is read. */
  readonly runtimePid: number | undefined;
}

/** Where the load goes: LEDGER_URL and LEDGER_API_KEY, or what `npm start` wrote. */
export async function resolveTarget(): Promise<Target> {
  let runtime: { url?: unknown; apiKey?: unknown; pid?: unknown } | undefined;
  const readRuntime = async () => {
    try {
      runtime ??= JSON.parse(await readFile(runtimeFilePath, 'utf8')) as typeof runtime;
    } catch (error) {
      throw new UsageError(
        `no target: set LEDGER_URL and LEDGER_API_KEY, or run 'npm start' (it writes ${runtimeFilePath}): ${String(error)}`,
      );
    }
    return runtime ?? {};
  };
  const url = settings.ledgerUrl ?? (await readRuntime()).url;
  if (typeof url !== 'string' || !/^https?:\/\//.test(url))
    throw new UsageError('the target URL is not an http(s) URL');
  const apiKey =
    settings.apiKey ?? (settings.ledgerUrl === undefined ? (await readRuntime()).apiKey : undefined);
  if (typeof apiKey !== 'string' || apiKey === '')
    throw new UsageError(
      'no API key: set LEDGER_API_KEY (npm start prints it and writes it to its runtime file)',
    );
  let runtimePid: number | undefined;
  try {
    const written = await readRuntime();
    if (written.url === url && typeof written.pid === 'number') runtimePid = written.pid;
  } catch {
    runtimePid = undefined;
  }
  return { url: url.replace(/\/+$/, ''), apiKey, runtimePid };
}
