/**
 * The page's HTTP client: the LedgerX API with the key the operator entered. Types come from the
 * API's own schemas (type-only imports, so nothing of the server is bundled).
 */
import type {
  AccountResponse,
  ActivityResponse,
  AdminTransferPageResponse,
  EntryPageResponse,
  GaugesResponse,
  TransferAcceptedResponse,
  TransferBatchResponse,
  TransferResponse,
} from '../../shared/api/schemas';
import type { TimelineStep } from '../../shared/domain/transfer';

export type {
  AccountResponse,
  ActivityResponse,
  AdminTransferPageResponse,
  EntryPageResponse,
  GaugesResponse,
  TimelineStep,
  TransferBatchResponse,
  TransferResponse,
};

/** A batch's progress through the ledger (GET /v1/transfers/batch/{id}). */
export interface TransferBatchProgress {
  readonly batch_id: string;
  readonly posted_count: number;
  readonly rejected_count: number;
  readonly recorded_count: number;
}
export type AdminTransfer = ActivityResponse['items'][number];

const keyStorageName = 'ledgerx.apiKey';

/** The key lives for the browser session only: never in localStorage, never in a cookie. */
export const apiKeyStore = {
  read: (): string | null => sessionStorage.getItem(keyStorageName),
  write: (key: string): void => sessionStorage.setItem(keyStorageName, key),
  forget: (): void => sessionStorage.removeItem(keyStorageName),
};

/** An answer other than 2xx, with the problem+json detail when there is one. */
export class ApiError extends Error {
  public constructor(
    public readonly status: number,
    message: string,
    public readonly field?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The API's origin: the page is served by the same front door (or API Gateway stage). */
function apiUrl(path: string): string {
  const stagePrefix = window.location.pathname.replace(/\/admin\/system\/?$/, '');
  return `${stagePrefix}${path}`;
}

async function request<T>(
  key: string,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<T> {
  const response = await fetch(apiUrl(path), {
    method,
    headers: {
      'x-api-key': key,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  const parsed: unknown = text === '' ? undefined : JSON.parse(text);
  if (!response.ok) {
    const problem = (parsed ?? {}) as { detail?: string; field?: string };
    throw new ApiError(response.status, problem.detail ?? `HTTP ${response.status}`, problem.field);
  }
  return parsed as T;
}

/** A random key for Idempotency-Key headers (randomUUID needs a secure context; localhost is one). */
export function newIdempotencyKey(prefix: string): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `${prefix}-${Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('')}`;
}

/** The calls the page makes, bound to one key. */
export function apiClient(key: string) {
  return {
    gauges: () => request<GaugesResponse>(key, 'GET', '/v1/admin/gauges'),
    activity: (cursor: string | null, limit = 100) =>
      request<ActivityResponse>(
        key,
        'GET',
        `/v1/admin/activity?limit=${limit}${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`,
      ),
    transfers: (status: 'posted' | 'rejected' | null, limit = 25) =>
      request<AdminTransferPageResponse>(
        key,
        'GET',
        `/v1/admin/transfers?limit=${limit}${status === null ? '' : `&status=${status}`}`,
      ),
    transfer: (id: string) =>
      request<TransferResponse>(key, 'GET', `/v1/transfers/${encodeURIComponent(id)}`),
    account: (id: string) => request<AccountResponse>(key, 'GET', `/v1/accounts/${encodeURIComponent(id)}`),
    entries: (id: string, cursor: string | null) =>
      request<EntryPageResponse>(
        key,
        'GET',
        `/v1/accounts/${encodeURIComponent(id)}/entries?limit=10${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`,
      ),
    openAccount: (
      flags: { debits_must_not_exceed_credits?: boolean } = {},
      metadata: Record<string, string> = {},
    ) => request<AccountResponse>(key, 'POST', '/v1/accounts', { currency: 'USD', flags, metadata }),
    submitTransfer: (
      transfer: { debit: string; credit: string; amount: bigint; pending?: boolean },
      idempotencyKey: string,
    ) =>
      request<TransferAcceptedResponse>(
        key,
        'POST',
        '/v1/transfers',
        {
          debit_account_id: transfer.debit,
          credit_account_id: transfer.credit,
          amount: transfer.amount.toString(),
          currency: 'USD',
          ...(transfer.pending === true ? { pending: true } : {}),
        },
        { 'Idempotency-Key': idempotencyKey },
      ),
    /** Posts a pending transfer: all of it, or `amount` (the rest is released). */
    postPending: (id: string, amount: bigint | undefined, idempotencyKey: string) =>
      request<TransferAcceptedResponse>(
        key,
        'POST',
        `/v1/transfers/${encodeURIComponent(id)}/post`,
        amount === undefined ? {} : { amount: amount.toString() },
        { 'Idempotency-Key': idempotencyKey },
      ),
    submitBatch: (
      transfers: readonly { debit: string; credit: string; amount: bigint }[],
      idempotencyKey: string,
    ) =>
      request<TransferBatchResponse>(
        key,
        'POST',
        '/v1/transfers/batch',
        {
          transfers: transfers.map((transfer) => ({
            debit_account_id: transfer.debit,
            credit_account_id: transfer.credit,
            amount: transfer.amount.toString(),
            currency: 'USD',
          })),
        },
        { 'Idempotency-Key': idempotencyKey },
      ),
    batchProgress: (batchId: string) =>
      request<TransferBatchProgress>(key, 'GET', `/v1/transfers/batch/${encodeURIComponent(batchId)}`),
  };
}

export type Api = ReturnType<typeof apiClient>;

/** Polls a transfer until the ledger has recorded it (posted or rejected), or gives up. */
export async function waitForRecorded(api: Api, id: string, timeoutMs = 30_000): Promise<TransferResponse> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const transfer = await api.transfer(id);
      if (transfer.status !== 'queued') return transfer;
    } catch (error) {
      // Just accepted: the read may briefly not find it; anything but 404 is a real failure.
      if (!(error instanceof ApiError) || error.status !== 404) throw error;
    }
    if (Date.now() > deadline)
      throw new Error(`transfer ${id} was not recorded within ${timeoutMs / 1000} s`);
    await sleep(250);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Minor units of USD as dollars and cents, from the decimal string (never through a float). */
export function formatUsd(minorUnits: string | bigint): string {
  const value = BigInt(minorUnits);
  const negative = value < 0n;
  const digits = (negative ? -value : value).toString().padStart(3, '0');
  const whole = digits.slice(0, -2).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${negative ? '−' : ''}$${whole}.${digits.slice(-2)}`;
}
