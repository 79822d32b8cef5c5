import pg from 'pg';
import { atomicSetLegCountMax } from '../../domain/atomic-set';
import type { AccountId, TransferId } from '../../domain/ids';
import { parseTransferResult, type TransferResult } from '../../domain/results';
import {
  isReferring,
  type LedgerCommand,
  type TransferCommand,
  toTransferMessage,
} from '../../domain/transfer';
import { SerializationRetriesExhaustedError } from '../../errors';
import type {
  LedgerStore,
  PendingExpiryStore,
  PoisonRecord,
  PostBatchOutcome,
} from '../../ports/ledger-store';
import { transferId } from './accounts-store';
import { classifyDatabaseError, isRetryable, isTakenIdBet } from './errors';

const { escapeLiteral } = pg;

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

/** The most holds one call of `ledger.expire_pending_transfers` releases (the SQL function checks it too). */
export const expiryBatchSizeMax = 1000;

/** The SQL functions that post: transfers one by one, or an atomic set all or nothing. */
type PostingFunction = 'ledger.post_transfers' | 'ledger.post_transfer_set';

/** The most characters of a poison record's body that are kept (the column's bound). */
const poisonBodyCharsMax = 262_144;

/**
 * Which accounts' lock stripes a batch takes (see `postOnce`). Stripes only spare a batch the
 * 40001 it would meet on an account another batch is changing; correctness never depends on
 * them. So a batch takes them for the accounts that are likely contended: an account it touches
 * more than once (a hot account fills batches), an account of a batch that recently failed with
 * 40001 or 40P01, and every account on a retry. Other accounts cost no lock.
 */
export interface ContentionPolicy {
  /** How long an account of a failed batch is still treated as contended. */
  readonly rememberMs: number;
  /** The most accounts remembered; the oldest are forgotten first. */
  readonly accountCountMax: number;
}

export const defaultContentionPolicy: ContentionPolicy = { rememberMs: 10_000, accountCountMax: 4096 };

/** Options a test may set: the retry policy, and hooks that make jitter and waiting observable. */
export interface PostgresLedgerStoreOptions {
  readonly retryPolicy?: RetryPolicy;
  readonly contentionPolicy?: ContentionPolicy;
  /** Milliseconds on a monotonic clock, for the contention memory. */
  readonly nowMs?: () => number;
  readonly random?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

const sleepMs = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The ledger in Postgres. A batch is one SERIALIZABLE transaction around one call of
 * `ledger.post_transfers`, which locks the touched accounts in id order and decides every
 * transfer in message order; the whole transaction is retried on 40001 and 40P01. The expiry
 * sweep is one READ COMMITTED call of `ledger.expire_pending_transfers`, retried the same way.
 */
export class PostgresLedgerStore implements LedgerStore, PendingExpiryStore {
  private readonly retryPolicy: RetryPolicy;
  private readonly random: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly contended: ContendedAccounts;

  public constructor(
    private readonly pool: pg.Pool,
    options: PostgresLedgerStoreOptions = {},
  ) {
    this.retryPolicy = options.retryPolicy ?? defaultRetryPolicy;
    this.random = options.random ?? Math.random;
    this.sleep = options.sleep ?? sleepMs;
    this.contended = new ContendedAccounts(
      options.contentionPolicy ?? defaultContentionPolicy,
      options.nowMs ?? (() => performance.now()),
    );
  }

  public async postBatch(
    transfers: readonly LedgerCommand[],
    poison: readonly PoisonRecord[],
    receivedAt?: Date,
  ): Promise<PostBatchOutcome> {
    if (transfers.length > postBatchSizeMax) {
      throw new RangeError(`a batch holds at most ${postBatchSizeMax} transfers, got ${transfers.length}`);
    }
    if (transfers.length === 0 && poison.length === 0) return { results: [], attemptCount: 0 };
    return this.post('ledger.post_transfers', transfers, poison, receivedAt);
  }

  /**
   * Posts an atomic set with `ledger.post_transfer_set`, retried as a batch is: every leg posted,
   * or every leg rejected (see the port).
   */
  public async postSet(legs: readonly TransferCommand[], receivedAt?: Date): Promise<PostBatchOutcome> {
    if (legs.length < 1 || legs.length > atomicSetLegCountMax) {
      throw new RangeError(`a set holds 1 to ${atomicSetLegCountMax} legs, got ${legs.length}`);
    }
    return this.post('ledger.post_transfer_set', legs, [], receivedAt);
  }

  /** One posting function's call in a SERIALIZABLE transaction, retried within the policy. */
  private async post(
    postingFunction: PostingFunction,
    transfers: readonly LedgerCommand[],
    poison: readonly PoisonRecord[],
    receivedAt: Date | undefined,
  ): Promise<PostBatchOutcome> {
    const payload = JSON.stringify(transfers.map(toTransferMessage));
    const receivedAtSql = receivedAt === undefined ? 'null' : escapeLiteral(receivedAt.toISOString());
    let lastError: unknown;
    // Bet that the batch's ids are new (see migration 0002); a lost bet costs one more attempt.
    let idsAreNew = true;
    let backoff = false;
    let stripeAll = false;
    for (let attempt = 0; attempt <= this.retryPolicy.retryCountMax; attempt += 1) {
      if (backoff) await this.sleep(this.backoffMs(attempt));
      try {
        const stripes = lockStripes(stripeAll ? accountsOf(transfers) : this.contended.filter(transfers));
        const results = await this.postOnce(
          postingFunction,
          transfers,
          payload,
          receivedAtSql,
          stripes,
          poison,
          idsAreNew,
        );
        return { results, attemptCount: attempt + 1 };
      } catch (error) {
        backoff = !(idsAreNew && isTakenIdBet(error));
        if (!backoff) {
          idsAreNew = false;
          lastError = error;
          continue;
        }
        if (!isRetryable(error))
          throw classifyDatabaseError(error, { transferCount: transfers.length, attempt });
        // Contended: this batch's accounts wait in line from now on, this retry included.
        this.contended.remember(transfers);
        stripeAll = true;
        lastError = error;
      }
    }
    throw new SerializationRetriesExhaustedError({
      cause: lastError,
      context: { transferCount: transfers.length, attemptCount: this.retryPolicy.retryCountMax + 1 },
    });
  }

  public async expirePending(now: Date, countMax: number): Promise<readonly TransferId[]> {
    if (!Number.isInteger(countMax) || countMax < 1 || countMax > expiryBatchSizeMax) {
      throw new RangeError(`a sweep releases 1 to ${expiryBatchSizeMax} holds, got ${countMax}`);
    }
    let lastError: unknown;
    for (let attempt = 0; attempt <= this.retryPolicy.retryCountMax; attempt += 1) {
      if (attempt > 0) await this.sleep(this.backoffMs(attempt));
      try {
        const { rows } = await this.pool.query<{ transfer_id: string }>(
          'select transfer_id from ledger.expire_pending_transfers($1::timestamptz, $2::int)',
          [now.toISOString(), countMax],
        );
        return rows.map((row) => transferId(row.transfer_id));
      } catch (error) {
        // It locks accounts in id order, as batches do; a deadlock is still retried, like a batch's.
        if (!isRetryable(error)) throw classifyDatabaseError(error, { operation: 'expirePending', attempt });
        lastError = error;
      }
    }
    throw new SerializationRetriesExhaustedError({
      cause: lastError,
      context: { operation: 'expirePending', attemptCount: this.retryPolicy.retryCountMax + 1 },
    });
  }

  private backoffMs(attempt: number): number {
    const ceilingMs = Math.min(
      this.retryPolicy.backoffCapMs,
      this.retryPolicy.backoffBaseMs * 2 ** (attempt - 1),
    );
    return this.random() * ceilingMs;
  }

  /**
   * One attempt, in one round trip: begin, lock the given stripes of touched accounts (LOCK TABLE
   * takes no snapshot, so the transaction's snapshot is taken after the batch before it on the
   * same accounts committed, and its row locks then never fail with 40001), post, commit.
   * SHARE UPDATE EXCLUSIVE is the weakest mode that conflicts with itself, and unlike EXCLUSIVE
   * it is not a "strong" lock, so taking it does not make Postgres sweep every backend's
   * fast-path lock slots.
   */
  private async postOnce(
    postingFunction: PostingFunction,
    transfers: readonly LedgerCommand[],
    payload: string,
    receivedAtSql: string,
    stripes: readonly string[],
    poison: readonly PoisonRecord[],
    idsAreNew: boolean,
  ): Promise<TransferResult[]> {
    const statements = ['begin isolation level serializable'];
    if (stripes.length > 0)
      statements.push(`lock table ${stripes.join(', ')} in share update exclusive mode`);
    if (transfers.length > 0) {
      statements.push(
        `select transfer_id, result from ${postingFunction}(${escapeLiteral(payload)}::jsonb, ${idsAreNew}, ${receivedAtSql}::timestamptz)`,
      );
    }
    if (poison.length > 0) statements.push(insertPoisonSql(poison));
    statements.push('commit');

    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      const replies = await client.query(statements.join(';\n'));
      const select = (Array.isArray(replies) ? (replies as pg.QueryResult[]) : [replies]).find(
        (reply) => reply.command === 'SELECT',
      );
      return transfers.length > 0 ? readResults(select, transfers.length) : [];
    } catch (error) {
      // After a failed statement the transaction is left aborted (or already ended): end it. A
      // connection that failed outside SQL (a timeout, a reset) is not trusted again.
      if (isServerError(error)) {
        await client.query('rollback').catch((rollbackError: unknown) => {
          broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
        });
      } else {
        broken = error instanceof Error ? error : new Error(String(error));
      }
      throw error;
    } finally {
      client.release(broken);
    }
  }
}

/** The lock stripes of the given accounts, each once, in stripe order (see migration 0004). */
export function lockStripes(accountIds: Iterable<AccountId>): string[] {
  const stripes = new Set<string>();
  for (const id of accountIds) stripes.add(id.slice(-3));
  return [...stripes].sort().map((stripe) => `ledger_lock.stripe_${stripe}`);
}

/**
 * Every account a batch touches, as far as the commands say: a post, void or reversal touches the
 * accounts of the transfer it names, which the API found (and the engine checks).
 */
function accountsOf(transfers: readonly LedgerCommand[]): AccountId[] {
  return transfers.flatMap((transfer) => {
    if (!isReferring(transfer)) return [transfer.debitAccountId, transfer.creditAccountId];
    const { referenced } = transfer;
    return referenced === undefined ? [] : [referenced.debitAccountId, referenced.creditAccountId];
  });
}

/**
 * Accounts that recently took part in a batch that failed with 40001 or 40P01, each remembered
 * for a while and at most `accountCountMax` of them (a Map keeps insertion order, so the first
 * key is the oldest).
 */
export class ContendedAccounts {
  private readonly untilMs = new Map<AccountId, number>();

  public constructor(
    private readonly policy: ContentionPolicy,
    private readonly nowMs: () => number,
  ) {}

  public remember(transfers: readonly LedgerCommand[]): void {
    const untilMs = this.nowMs() + this.policy.rememberMs;
    for (const id of accountsOf(transfers)) {
      this.untilMs.delete(id);
      this.untilMs.set(id, untilMs);
    }
    for (const oldest of this.untilMs.keys()) {
      if (this.untilMs.size <= this.policy.accountCountMax) break;
      this.untilMs.delete(oldest);
    }
  }

  /** The batch's accounts to take stripes for: those it touches twice or more, and remembered ones. */
  public filter(transfers: readonly LedgerCommand[]): AccountId[] {
    const nowMs = this.nowMs();
    const seen = new Set<AccountId>();
    const contended = new Set<AccountId>();
    for (const id of accountsOf(transfers)) {
      if (seen.has(id)) contended.add(id);
      seen.add(id);
      const untilMs = this.untilMs.get(id);
      if (untilMs === undefined) continue;
      if (untilMs > nowMs) contended.add(id);
      else this.untilMs.delete(id);
    }
    return [...contended];
  }
}

function isServerError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'severity' in error;
}

function insertPoisonSql(poison: readonly PoisonRecord[]): string {
  const rows = poison.map(
    (record) =>
      `(${escapeLiteral(storableText(record.messageId, 128))}, ${escapeLiteral(storableText(record.body, poisonBodyCharsMax))}, ${escapeLiteral(storableText(record.reason, 1024))})`,
  );
  return `insert into ledger.poison_messages (message_id, body, reason) values ${rows.join(', ')}
    on conflict (message_id) do nothing`;
}

const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * Text as Postgres can store it: no NUL characters (escaped as \\u0000), no lone surrogates, and
 * cut at the column's bound. A poison record must always be storable, or it would block its batch.
 */
function storableText(text: string, charsMax: number): string {
  return text.replaceAll('\u0000', '\\u0000').slice(0, charsMax).replace(loneSurrogate, '\uFFFD');
}

function readResults(reply: pg.QueryResult | undefined, transferCount: number): TransferResult[] {
  const rows = (reply?.rows ?? []) as { transfer_id: string; result: string }[];
  if (rows.length !== transferCount) {
    throw new Error(`post_transfers returned ${rows.length} results for ${transferCount} transfers`);
  }
  return rows.map((row) => {
    const result = parseTransferResult(row.result);
    if (result === undefined) throw new Error(`post_transfers returned an unknown result ${row.result}`);
    return result;
  });
}
