/**
 * The accounts' store, and the copy of an account's velocity limits the submission path reads:
 * the ports the account service needs, with the values they exchange.
 */
import type { AccountAction, AccountActionOutcome, AccountStatus } from '../domain/accounts';
import type { AccountChangeId, AccountId, TransferId } from '../domain/ids';
import type { Metadata } from '../domain/metadata';
import type { CurrencyCode } from '../domain/money';
import type { VelocityOverrides } from '../domain/velocity';

/** What a client gives to open an account. */
export interface AccountOpening {
  readonly currency: CurrencyCode;
  readonly code: number;
  readonly debitsMustNotExceedCredits: boolean;
  readonly creditsMustNotExceedDebits: boolean;
  readonly metadata: Metadata;
  /** The account's own velocity limits; null fields take the defaults. */
  readonly velocity: VelocityOverrides;
}

/** An account with its state and totals, amounts in minor units. */
export interface Account extends AccountOpening {
  readonly id: AccountId;
  readonly status: AccountStatus;
  readonly debitsPosted: bigint;
  readonly creditsPosted: bigint;
  readonly debitsPending: bigint;
  readonly creditsPending: bigint;
  readonly createdAt: string;
  readonly version: bigint;
  /** Grows by one with every change of the velocity limits. */
  readonly velocityVersion: bigint;
}

/** One leg of a posted transfer, with the account's posted totals just after it. */
export interface Entry {
  readonly id: bigint;
  readonly transferId: TransferId;
  readonly accountId: AccountId;
  readonly direction: 'debit' | 'credit';
  readonly amount: bigint;
  readonly currency: CurrencyCode;
  readonly debitsPostedAfter: bigint;
  readonly creditsPostedAfter: bigint;
  readonly createdAt: string;
}

/** A page of entries, newest first; `nextBeforeId` is where the next page starts, if there is one. */
export interface EntryPage {
  readonly entries: readonly Entry[];
  readonly nextBeforeId: bigint | undefined;
}

/**
 * An account's posted totals at an instant: those just after its newest entry at or before the
 * instant (`lastEntryId`), or zero with no entry then.
 */
export interface BalanceAsOf {
  readonly accountId: AccountId;
  readonly currency: CurrencyCode;
  readonly asOf: string;
  readonly debitsPosted: bigint;
  readonly creditsPosted: bigint;
  readonly lastEntryId: bigint | undefined;
}

/** Work that must succeed before a change of an account commits, or the change is undone. */
export type BeforeCommit = (account: Account) => Promise<void>;

/**
 * The accounts' store.
 *
 * - `createAccount` inserts a new account with zero totals and returns it as stored; `beforeCommit`
 *   runs inside the transaction, and the account is not created if it throws.
 * - `setVelocity` replaces the account's velocity limits (and grows `velocityVersion`) and returns
 *   the account, or undefined when no account has that id; `beforeCommit` runs while the change
 *   holds the account's row, so such work for one account happens in the order of the changes.
 * - `findAccount` returns the account, or undefined when no account has that id.
 * - `changeStatus` freezes, unfreezes or closes the account (`decideAccountAction` says which
 *   outcome when), recording a change under `changeId` with its event when the state changes, and
 *   returns the outcome with the account as it is after it; undefined when no account has that id.
 * - `listEntries` returns up to `limit` entries of the account older than `beforeId` (all when
 *   undefined) and made at or before `asOf` (an RFC 3339 time; all when undefined), newest first,
 *   and whether older ones remain; undefined when the account does not exist.
 * - `balanceAsOf` returns the account's posted totals at `asOf` (an RFC 3339 time), or undefined
 *   when the account does not exist.
 *
 * Each throws `TransientError` when the database is unavailable (the call may be retried) and
 * `PermanentError` when the database refused the work.
 */
export interface AccountStore {
  createAccount(opening: AccountOpening, beforeCommit?: BeforeCommit): Promise<Account>;
  setVelocity(
    id: AccountId,
    velocity: VelocityOverrides,
    beforeCommit: BeforeCommit,
  ): Promise<Account | undefined>;
  findAccount(id: AccountId): Promise<Account | undefined>;
  changeStatus(
    id: AccountId,
    action: AccountAction,
    changeId: AccountChangeId,
  ): Promise<{ readonly outcome: AccountActionOutcome; readonly account: Account } | undefined>;
  listEntries(
    accountId: AccountId,
    page: {
      readonly limit: number;
      readonly beforeId: bigint | undefined;
      readonly asOf: string | undefined;
    },
  ): Promise<{ readonly entries: readonly Entry[]; readonly hasMore: boolean } | undefined>;
  balanceAsOf(accountId: AccountId, asOf: string): Promise<BalanceAsOf | undefined>;
}

/**
 * Where the submission path reads an account's velocity limits: a copy kept beside the windows,
 * so submitting needs no Postgres. `putOverrides` stores the copy unless a newer version is there;
 * throws `TransientError` when the copy's store is unavailable.
 */
export interface VelocityLimitCopy {
  putOverrides(accountId: AccountId, overrides: VelocityOverrides, version: bigint): Promise<void>;
}
