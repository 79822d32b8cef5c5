import { randomBytes } from 'node:crypto';
import { Logger } from '@aws-lambda-powertools/logger';
import { inject } from 'vitest';
import { type LocalRuntime, type LocalRuntimeOptions, startLocalRuntime } from '../../infra/local/runtime';

/**
 * Options e2e tests start runtimes with: quick polls, quick redelivery, short bounds. The
 * consumers' backoff is shortened through its settings as the visibility timeouts are, from
 * 30 s doubling to 900 s down to 1 s doubling to 4 s.
 */
export const testRuntimeDefaults = {
  port: 0,
  pollWaitS: 1,
  stopTimeoutMs: 2_000,
  scheduleRateS: 1,
  visibilityTimeoutS: { transfers: 2, transferEvents: 2 },
  settings: { LEDGER_CONSUMER_BACKOFF_BASE_S: '1', LEDGER_CONSUMER_BACKOFF_CAP_S: '4' },
} as const;

/**
 * Starts the local runtime the way `npm start` does, on a free port, against the test file's own
 * database and its own prefixed resources on the suite's AWS endpoint.
 */
export function startTestRuntime(
  options: Pick<LocalRuntimeOptions, 'databaseUrl' | 'namePrefix'> & Partial<LocalRuntimeOptions>,
): Promise<LocalRuntime> {
  return startLocalRuntime({
    ...testRuntimeDefaults,
    apiKey: `test_${randomBytes(12).toString('hex')}`,
    awsEndpoint: inject('awsEndpoint'),
    logger: new Logger({ serviceName: 'e2e', logLevel: 'SILENT' }),
    ...options,
  });
}

/** A small HTTP client for the front door. */
export function client(runtime: Pick<LocalRuntime, 'url' | 'apiKey'>) {
  const request = async (
    method: string,
    path: string,
    options: { body?: unknown; headers?: Record<string, string>; apiKey?: string | null } = {},
  ): Promise<{ status: number; body: unknown; headers: Headers }> => {
    const apiKey = options.apiKey === undefined ? runtime.apiKey : options.apiKey;
    const response = await fetch(`${runtime.url}${path}`, {
      method,
      headers: {
        ...(apiKey === null ? {} : { 'x-api-key': apiKey }),
        ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...options.headers,
      },
      ...(options.body === undefined
        ? {}
        : { body: typeof options.body === 'string' ? options.body : JSON.stringify(options.body) }),
    });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // Not JSON: the test sees the text.
    }
    return { status: response.status, body, headers: response.headers };
  };
  return {
    request,
    get: (path: string) => request('GET', path),
    post: (path: string, body: unknown, headers: Record<string, string> = {}) =>
      request('POST', path, { body, headers }),
  };
}

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 30_000,
  intervalMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: last });
}
