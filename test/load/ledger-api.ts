/**
 * The load driver's plain HTTP client of the LedgerX API, for everything but the load itself:
 * making and funding accounts, resolving answers the load left open, and reading the ledger back
 * to verify it. Every call has a timeout and every retry loop a bound.
 */

/** How long one API call may take before it counts as unanswered. */
const requestTimeoutMs = 30_000;
/** Attempts of one setup or read call that met a 5xx, a 409 or no answer. */
const attemptCountMax = 5;
const retryBackoffBaseMs = 200;
const retryBackoffCapMs = 3_000;

/** An answer: its status and its parsed JSON body (undefined when there was none). */
export interface ApiAnswer {
  readonly status: number;
  readonly body: unknown;
  readonly headers: Headers;
}

/** The API could not be reached, or kept answering errors past the retry bound. */
export class ApiCallError extends Error {
  public constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = 'ApiCallError';
  }
}

/** An answer that tells what happened: not a 5xx, not 409 (in progress). */
export function isDefinite(status: number): boolean {
  return status < 500 && status !== 409;
}

export class LedgerApi {
  public constructor(
    public readonly baseUrl: string,
    private readonly apiKey: string,
  ) {}

  /** One call, no retry; throws `ApiCallError` only when no answer came. */
  public async call(
    method: 'GET' | 'POST' | 'PUT',
    path: string,
    options: { readonly body?: string; readonly headers?: Record<string, string> } = {},
  ): Promise<ApiAnswer> {
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: {
          'x-api-key': this.apiKey,
          ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
          ...options.headers,
        },
        ...(options.body === undefined ? {} : { body: options.body }),
        signal: AbortSignal.timeout(requestTimeoutMs),
      });
    } catch (error) {
      throw new ApiCallError(`${method} ${path}: no answer`, { cause: error });
    }
    const text = await response.text();
    let body: unknown;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      body = text;
    }
    return { status: response.status, body, headers: response.headers };
  }

  /**
   * A call retried (bounded, with backoff) while the answer is not definite: reads, and writes
   * that are safe to repeat (an idempotency key, or a PUT). Returns the first definite answer.
   */
  public async callUntilDefinite(
    method: 'GET' | 'POST' | 'PUT',
    path: string,
    options: { readonly body?: string; readonly headers?: Record<string, string> } = {},
  ): Promise<ApiAnswer> {
    let last: unknown;
    for (let attempt = 1; attempt <= attemptCountMax; attempt++) {
      try {
        const answer = await this.call(method, path, options);
        if (isDefinite(answer.status)) return answer;
        last = new ApiCallError(
          `${method} ${path} answered ${answer.status}: ${JSON.stringify(answer.body)}`,
        );
      } catch (error) {
        last = error;
      }
      await sleep(Math.min(retryBackoffCapMs, retryBackoffBaseMs * 2 ** (attempt - 1)));
    }
    throw new ApiCallError(`${method} ${path}: no definite answer in ${attemptCountMax} attempts`, {
      cause: last,
    });
  }

  /** A call that must answer `status`; anything else is an `ApiCallError` naming the answer. */
  public async expect(
    status: number,
    method: 'GET' | 'POST' | 'PUT',
    path: string,
    options: { readonly body?: string; readonly headers?: Record<string, string> } = {},
  ): Promise<ApiAnswer> {
    const answer = await this.callUntilDefinite(method, path, options);
    if (answer.status !== status) {
      throw new ApiCallError(
        `${method} ${path} answered ${answer.status}, expected ${status}: ${JSON.stringify(answer.body)}`,
      );
    }
    return answer;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs `work` over `items` with at most `concurrency` at once; results in the items' order. */
export async function mapConcurrently<Item, Result>(
  items: readonly Item[],
  concurrency: number,
  work: (item: Item, index: number) => Promise<Result>,
): Promise<Result[]> {
  const results = new Array<Result>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const index = next++;
      if (index >= items.length) return;
      results[index] = await work(items[index] as Item, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

/** The value at quantile `q` (0..1) of ascending `sorted` values, nearest rank; 0 when empty. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] ?? 0;
}
