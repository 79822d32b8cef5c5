import type pg from 'pg';
import { formatMinorUnits } from '../../domain/money';
import { parseTransferResult, type TransferResult } from '../../domain/results';
import type { TransferCommand } from '../../domain/transfer';
import { SerializationRetriesExhaustedError } from '../../errors';
import type { LedgerStore, PoisonRecord, PostBatchOutcome } from '../../ports/ledger-store';
import { classifyDatabaseError, isRetryable } from './errors';

/** How a batch is retried after a serialization failure or deadlock (SQLSTATE 40001, 40P01). */
export interface RetryPolicy {
  /** Retries after the first attempt; past it the batch fails and the queue redelivers it. */
  readonly retryCountMax: number;
  /** The first backoff's upper bound; each retry doubles it, with full jitter. */
  readonly backoffBaseMs: number;
  /** No backoff is longer than this. */
  readonly backoffCapMs: number;
}

export const defaultRetryPolicy: RetryPolicy = { retryCountMax: 12, backoffBaseMs: 1, backoffCapMs: 32 };

/** The most transfers one call of `ledger.post_transfers` takes (the SQL function checks it too). */
export const postBatchSizeMax = 1000;

const postTransfersSql = 'select transfer_id, result from ledger.post_transfers($1::jsonb)';
const insertPoisonSql = `insert into ledger.poison_messages (message_id, body, reason)
  select * from unnest($1::text[], $2::text[], $3::text[])
  on conflict (message_id) do nothing`;

/** Options a test may set: the retry policy, and hooks that make jitter and waiting observable. */
export interface PostgresLedgerStoreOptions {
  readonly retryPolicy?: RetryPolicy;
  readonly random?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

const sleepMs = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The ledger in Postgres. A batch is one SERIALIZABLE transaction around one call of
 * `ledger.post_transfers`, which locks the touched accounts in id order and decides every
 * transfer in message order; the whole transaction is retried on 40001 and 40P01.
 */
export class PostgresLedgerStore implements LedgerStore {
  private readonly retryPolicy: RetryPolicy;
  private readonly random: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  public constructor(
    private readonly pool: pg.Pool,
    options: PostgresLedgerStoreOptions = {},
  ) {
    this.retryPolicy = options.retryPolicy ?? defaultRetryPolicy;
    this.random = options.random ?? Math.random;
    this.sleep = options.sleep ?? sleepMs;
  }

  public async postBatch(
    transfers: readonly TransferCommand[],
    poison: readonly PoisonRecord[],
  ): Promise<PostBatchOutcome> {
    if (transfers.length > postBatchSizeMax) {
      throw new RangeError(`a batch holds at most ${postBatchSizeMax} transfers, got ${transfers.length}`);
    }
    if (transfers.length === 0 && poison.length === 0) return { results: [], attemptCount: 0 };
    const payload = JSON.stringify(transfers.map(toRow));
    let lastError: unknown;
    for (let attempt = 0; attempt <= this.retryPolicy.retryCountMax; attempt += 1) {
      if (attempt > 0) await this.sleep(this.backoffMs(attempt));
      try {
        const results = await this.postOnce(payload, transfers.length, poison);
        return { results, attemptCount: attempt + 1 };
      } catch (error) {
        if (!isRetryable(error))
          throw classifyDatabaseError(error, { transferCount: transfers.length, attempt });
        lastError = error;
      }
    }
    throw new SerializationRetriesExhaustedError({
      cause: lastError,
      context: { transferCount: transfers.length, attemptCount: this.retryPolicy.retryCountMax + 1 },
    });
  }

  private backoffMs(attempt: number): number {
    const ceilingMs = Math.min(
      this.retryPolicy.backoffCapMs,
      this.retryPolicy.backoffBaseMs * 2 ** (attempt - 1),
    );
    return this.random() * ceilingMs;
  }

  private async postOnce(
    payload: string,
    transferCount: number,
    poison: readonly PoisonRecord[],
  ): Promise<TransferResult[]> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('begin isolation level serializable');
      try {
        const results = transferCount > 0 ? await postTransfers(client, payload, transferCount) : [];
        if (poison.length > 0) {
          await client.query(insertPoisonSql, [
            poison.map((record) => record.messageId),
            poison.map((record) => record.body),
            poison.map((record) => record.reason),
          ]);
        }
        await client.query('commit');
        return results;
      } catch (error) {
        await client.query('rollback').catch((rollbackError: unknown) => {
          broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
        });
        throw error;
      }
    } catch (error) {
      // A connection that failed outside SQL (a timeout, a reset) is not trusted again.
      if (broken === undefined && !(typeof error === 'object' && error !== null && 'severity' in error)) {
        broken = error instanceof Error ? error : new Error(String(error));
      }
      throw error;
    } finally {
      client.release(broken);
    }
  }
}

async function postTransfers(
  client: pg.PoolClient,
  payload: string,
  transferCount: number,
): Promise<TransferResult[]> {
  const { rows } = await client.query<{ transfer_id: string; result: string }>(postTransfersSql, [payload]);
  if (rows.length !== transferCount) {
    throw new Error(`post_transfers returned ${rows.length} results for ${transferCount} transfers`);
  }
  return rows.map((row) => {
    const result = parseTransferResult(row.result);
    if (result === undefined) throw new Error(`post_transfers returned an unknown result ${row.result}`);
    return result;
  });
}

function toRow(transfer: TransferCommand): Record<string, unknown> {
  return {
    id: transfer.id,
    debit_account_id: transfer.debitAccountId,
    credit_account_id: transfer.creditAccountId,
    amount: formatMinorUnits(transfer.amount),
    currency: transfer.currency,
    metadata: transfer.metadata,
    accepted_at: transfer.acceptedAt,
  };
}
