import type pg from 'pg';
import {
  type AccountAction,
  type AccountActionOutcome,
  accountActionRefusals,
  parseAccountStatus,
} from '../../domain/accounts';
import {
  type AccountChangeId,
  type AccountId,
  newAccountId,
  parseAccountId,
  parseTransferId,
  type TransferId,
} from '../../domain/ids';
import type { Metadata } from '../../domain/metadata';
import { type CurrencyCode, parseCurrency } from '../../domain/money';
import type { VelocityOverrides } from '../../domain/velocity';
import type {
  Account,
  AccountOpening,
  AccountStore,
  BalanceAsOf,
  BeforeCommit,
  Entry,
} from '../../ports/accounts';
import { classifyDatabaseError } from './errors';
import { int8, timestamp } from './rows';
import { inTransaction } from './transaction';

const accountColumns = `id, currency, code, debits_must_not_exceed_credits, credits_must_not_exceed_debits,
  status, debits_posted, credits_posted, debits_pending, credits_pending, metadata, created_at, version,
  velocity_window_s, velocity_max_transfers, velocity_max_amount, velocity_version`;

interface AccountRow {
  readonly id: string;
  readonly currency: string;
  readonly code: number;
  readonly debits_must_not_exceed_credits: boolean;
  readonly credits_must_not_exceed_debits: boolean;
  readonly status: string;
  readonly debits_posted: string;
  readonly credits_posted: string;
  readonly debits_pending: string;
  readonly credits_pending: string;
  readonly metadata: Metadata;
  readonly created_at: Date;
  readonly version: string;
  readonly velocity_window_s: number | null;
  readonly velocity_max_transfers: number | null;
  readonly velocity_max_amount: string | null;
  readonly velocity_version: string;
}

interface BalanceRow {
  readonly id: string;
  readonly currency: string;
  readonly entry_id: string | null;
  readonly debits_posted_after: string | null;
  readonly credits_posted_after: string | null;
}

interface EntryRow {
  readonly id: string | null;
  readonly transfer_id: string;
  readonly account_id: string;
  readonly direction: string;
  readonly amount: string;
  readonly currency: string;
  readonly debits_posted_after: string;
  readonly credits_posted_after: string;
  readonly created_at: Date;
}

/** Accounts and their entries in Postgres (`ledger.accounts`, `ledger.entries`). */
export class PostgresAccountStore implements AccountStore {
  public constructor(private readonly pool: pg.Pool) {}

  public async createAccount(opening: AccountOpening, beforeCommit?: BeforeCommit): Promise<Account> {
    const { velocity } = opening;
    // Without work before the commit, one statement is its own transaction: one round trip.
    const run =
      beforeCommit === undefined
        ? <Result>(work: (client: pg.Pool | pg.PoolClient) => Promise<Result>) =>
            this.withPool('createAccount', work)
        : <Result>(work: (client: pg.Pool | pg.PoolClient) => Promise<Result>) =>
            this.transaction('createAccount', work);
    const row = await run(async (client) => {
      const result = await client.query<AccountRow>(
        `insert into ledger.accounts
           (id, currency, code, debits_must_not_exceed_credits, credits_must_not_exceed_debits, metadata,
            velocity_window_s, velocity_max_transfers, velocity_max_amount)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         returning ${accountColumns}`,
        [
          newAccountId(),
          opening.currency,
          opening.code,
          opening.debitsMustNotExceedCredits,
          opening.creditsMustNotExceedDebits,
          JSON.stringify(opening.metadata),
          velocity.windowS,
          velocity.transferCountMax,
          velocity.amountMax?.toString() ?? null,
        ],
      );
      const inserted = result.rows[0];
      if (inserted === undefined) throw new Error('assertion failed: insert … returning gives the row');
      await beforeCommit?.(toAccount(inserted));
      return inserted;
    });
    return toAccount(row);
  }

  public async setVelocity(
    id: AccountId,
    velocity: VelocityOverrides,
    beforeCommit: BeforeCommit,
  ): Promise<Account | undefined> {
    const row = await this.transaction('setVelocity', async (client) => {
      const result = await client.query<AccountRow>(
        `update ledger.accounts
            set velocity_window_s = $2, velocity_max_transfers = $3, velocity_max_amount = $4,
                velocity_version = velocity_version + 1
          where id = $1
          returning ${accountColumns}`,
        [id, velocity.windowS, velocity.transferCountMax, velocity.amountMax?.toString() ?? null],
      );
      const updated = result.rows[0];
      if (updated !== undefined) await beforeCommit(toAccount(updated));
      return updated;
    });
    return row === undefined ? undefined : toAccount(row);
  }

  public async findAccount(id: AccountId): Promise<Account | undefined> {
    const rows = await this.query<AccountRow>(
      'findAccount',
      `select ${accountColumns} from ledger.accounts where id = $1`,
      [id],
    );
    const row = rows[0];
    return row === undefined ? undefined : toAccount(row);
  }

  /**
   * One transaction: `ledger.change_account_status` locks the row, decides and records the change
   * with its event; the account is then read as that transaction left it.
   */
  public async changeStatus(
    id: AccountId,
    action: AccountAction,
    changeId: AccountChangeId,
  ): Promise<{ readonly outcome: AccountActionOutcome; readonly account: Account } | undefined> {
    return this.transaction('changeStatus', async (client) => {
      const changed = await client.query<{ outcome: string }>(
        'select ledger.change_account_status($1, $2, $3) as outcome',
        [id, action, changeId],
      );
      const outcome = changed.rows[0]?.outcome;
      if (outcome === 'not_found') return undefined;
      const { rows } = await client.query<AccountRow>(
        `select ${accountColumns} from ledger.accounts where id = $1`,
        [id],
      );
      const row = rows[0];
      if (row === undefined) throw new Error(`assertion failed: account ${id} exists after its change`);
      const account = toAccount(row);
      if (outcome === 'changed' || outcome === 'unchanged') {
        return { outcome: { kind: outcome, status: account.status }, account };
      }
      const reason = accountActionRefusals.find((refusal) => refusal === outcome);
      if (reason === undefined) throw new Error(`assertion failed: account action outcome ${outcome}`);
      return { outcome: { kind: 'refused', reason }, account };
    });
  }

  /**
   * One round trip: the account's row decides between "no such account" (no row) and "no
   * entries" (one row of nulls); the page is read from the entries' primary key (account_id, id)
   * backwards, one row more than asked to learn whether older entries remain. With `asOf`, the
   * page starts at the newest entry at or before it, found in the as-of index
   * (account_id, created_at, id): an account's entries are in the same order by time as by id
   * (an invariant), so the entries at or before an instant are those up to that one.
   */
  public async listEntries(
    accountId: AccountId,
    page: {
      readonly limit: number;
      readonly beforeId: bigint | undefined;
      readonly asOf: string | undefined;
    },
  ): Promise<{ readonly entries: readonly Entry[]; readonly hasMore: boolean } | undefined> {
    const rows = await this.query<EntryRow>(
      'listEntries',
      `select e.id, e.transfer_id, e.account_id, e.direction, e.amount, e.currency,
              e.debits_posted_after, e.credits_posted_after, e.created_at
         from ledger.accounts a
         left join lateral (
           select * from ledger.entries x
            where x.account_id = a.id and ($2::bigint is null or x.id < $2::bigint)
              and ($4::timestamptz is null or x.id <= (
                    select y.id from ledger.entries y
                     where y.account_id = a.id and y.created_at <= $4::timestamptz
                     order by y.created_at desc, y.id desc
                     limit 1))
            order by x.id desc
            limit $3
         ) e on true
        where a.id = $1
        order by e.id desc`,
      [accountId, page.beforeId?.toString() ?? null, page.limit + 1, page.asOf ?? null],
    );
    if (rows.length === 0) return undefined;
    const entries = rows.filter((row) => row.id !== null).map(toEntry);
    return { entries: entries.slice(0, page.limit), hasMore: entries.length > page.limit };
  }

  /**
   * One index lookup: the newest entry of the account at or before `asOf`, read backwards in the
   * as-of index (account_id, created_at, id), carries the account's totals just after it. The
   * account's row tells "no such account" (no row) from "no entry yet" (nulls).
   */
  public async balanceAsOf(id: AccountId, asOf: string): Promise<BalanceAsOf | undefined> {
    const rows = await this.query<BalanceRow>(
      'balanceAsOf',
      `select a.id, a.currency, e.id as entry_id, e.debits_posted_after, e.credits_posted_after
         from ledger.accounts a
         left join lateral (
           select x.id, x.debits_posted_after, x.credits_posted_after
             from ledger.entries x
            where x.account_id = a.id and x.created_at <= $2::timestamptz
            order by x.created_at desc, x.id desc
            limit 1
         ) e on true
        where a.id = $1`,
      [id, asOf],
    );
    const row = rows[0];
    if (row === undefined) return undefined;
    return {
      accountId: accountId(row.id),
      currency: currency(row.currency),
      asOf,
      debitsPosted:
        row.debits_posted_after === null ? 0n : int8(row.debits_posted_after, 'debits_posted_after'),
      creditsPosted:
        row.credits_posted_after === null ? 0n : int8(row.credits_posted_after, 'credits_posted_after'),
      lastEntryId: row.entry_id === null ? undefined : int8(row.entry_id, 'entry_id'),
    };
  }

  /**
   * A page of the accounts that have, or had, velocity limits of their own, in id order after
   * `afterId`: what a copy of the limits is rebuilt from.
   */
  public async listVelocityLimits(
    afterId: AccountId | undefined,
    limit: number,
  ): Promise<{ id: AccountId; velocity: VelocityOverrides; velocityVersion: bigint }[]> {
    const rows = await this.query<AccountRow>(
      'listVelocityLimits',
      `select ${accountColumns} from ledger.accounts
        where (velocity_version > 0 or velocity_window_s is not null
               or velocity_max_transfers is not null or velocity_max_amount is not null)
          and ($1::uuid is null or id > $1::uuid)
        order by id
        limit $2`,
      [afterId ?? null, limit],
    );
    return rows
      .map(toAccount)
      .map(({ id, velocity, velocityVersion }) => ({ id, velocity, velocityVersion }));
  }

  /** Runs `work` on the pool (each statement its own transaction); errors are classified. */
  private async withPool<Result>(
    operation: string,
    work: (client: pg.Pool) => Promise<Result>,
  ): Promise<Result> {
    try {
      return await work(this.pool);
    } catch (error) {
      throw classifyDatabaseError(error, { operation });
    }
  }

  /** Runs `work` in a transaction (see `inTransaction`). */
  private transaction<Result>(
    operation: string,
    work: (client: pg.PoolClient) => Promise<Result>,
  ): Promise<Result> {
    return inTransaction(this.pool, { operation }, work);
  }

  private async query<Row extends pg.QueryResultRow>(
    operation: string,
    text: string,
    values: unknown[],
  ): Promise<Row[]> {
    try {
      const result = await this.pool.query<Row>(text, values);
      return result.rows;
    } catch (error) {
      throw classifyDatabaseError(error, { operation });
    }
  }
}

function toAccount(row: AccountRow): Account {
  return {
    id: accountId(row.id),
    currency: currency(row.currency),
    code: row.code,
    debitsMustNotExceedCredits: row.debits_must_not_exceed_credits,
    creditsMustNotExceedDebits: row.credits_must_not_exceed_debits,
    status: accountStatus(row.status),
    debitsPosted: int8(row.debits_posted, 'debits_posted'),
    creditsPosted: int8(row.credits_posted, 'credits_posted'),
    debitsPending: int8(row.debits_pending, 'debits_pending'),
    creditsPending: int8(row.credits_pending, 'credits_pending'),
    metadata: row.metadata,
    createdAt: timestamp(row.created_at, 'created_at'),
    version: int8(row.version, 'version'),
    velocity: {
      windowS: row.velocity_window_s,
      transferCountMax: row.velocity_max_transfers,
      amountMax:
        row.velocity_max_amount === null ? null : int8(row.velocity_max_amount, 'velocity_max_amount'),
    },
    velocityVersion: int8(row.velocity_version, 'velocity_version'),
  };
}

function toEntry(row: EntryRow): Entry {
  if (row.direction !== 'debit' && row.direction !== 'credit') {
    throw new Error(`assertion failed: entry direction ${row.direction}`);
  }
  return {
    id: int8(row.id, 'id'),
    transferId: transferId(row.transfer_id),
    accountId: accountId(row.account_id),
    direction: row.direction,
    amount: int8(row.amount, 'amount'),
    currency: currency(row.currency),
    debitsPostedAfter: int8(row.debits_posted_after, 'debits_posted_after'),
    creditsPostedAfter: int8(row.credits_posted_after, 'credits_posted_after'),
    createdAt: timestamp(row.created_at, 'created_at'),
  };
}

function accountStatus(value: string): Account['status'] {
  const status = parseAccountStatus(value);
  if (status === undefined) throw new Error(`assertion failed: stored account status ${value} is known`);
  return status;
}

/** Ids and currencies the database hands back were checked on the way in; a bad one is a bug. */
export function accountId(value: string): AccountId {
  const id = parseAccountId(value);
  if (id === undefined) throw new Error(`assertion failed: stored account id ${value} is canonical`);
  return id;
}

export function transferId(value: string): TransferId {
  const id = parseTransferId(value);
  if (id === undefined) throw new Error(`assertion failed: stored transfer id ${value} is canonical`);
  return id;
}

export function currency(value: string): CurrencyCode {
  const code = parseCurrency(value);
  if (code === undefined) throw new Error(`assertion failed: stored currency ${value} is known`);
  return code;
}
