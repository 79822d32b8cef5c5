/**
 * Accounts as the API sees them: opened with a currency and flags, read with their totals, and
 * their entries read newest first, a page at a time. The store (port below) does the work; this
 * service holds the paging bounds so every adapter applies the same ones.
 */
import type { AccountId, TransferId } from '../domain/ids';
import type { Metadata } from '../domain/metadata';
import type { CurrencyCode } from '../domain/money';

/** What a client gives to open an account. */
export interface AccountOpening {
  readonly currency: CurrencyCode;
  readonly code: number;
  readonly debitsMustNotExceedCredits: boolean;
  readonly creditsMustNotExceedDebits: boolean;
  readonly metadata: Metadata;
}

/** An account with its totals, amounts in minor units. */
export interface Account extends AccountOpening {
  readonly id: AccountId;
  readonly debitsPosted: bigint;
  readonly creditsPosted: bigint;
  readonly debitsPending: bigint;
  readonly creditsPending: bigint;
  readonly createdAt: string;
  readonly version: bigint;
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
 * The accounts' store.
 *
 * - `createAccount` inserts a new account with zero totals and returns it as stored.
 * - `findAccount` returns the account, or undefined when no account has that id.
 * - `listEntries` returns up to `limit` entries of the account older than `beforeId` (all when
 *   undefined), newest first, and whether older ones remain; undefined when the account does not
 *   exist.
 *
 * Each throws `TransientError` when the database is unavailable (the call may be retried) and
 * `PermanentError` when the database refused the work.
 */
export interface AccountStore {
  createAccount(opening: AccountOpening): Promise<Account>;
  findAccount(id: AccountId): Promise<Account | undefined>;
  listEntries(
    accountId: AccountId,
    page: { readonly limit: number; readonly beforeId: bigint | undefined },
  ): Promise<{ readonly entries: readonly Entry[]; readonly hasMore: boolean } | undefined>;
}

/** The paging bounds: a page holds at most `pageSizeMax` entries, `pageSizeDefault` when unsaid. */
export interface EntryPaging {
  readonly pageSizeDefault: number;
  readonly pageSizeMax: number;
}

export class AccountService {
  public constructor(
    private readonly store: AccountStore,
    private readonly paging: EntryPaging,
  ) {}

  public openAccount(opening: AccountOpening): Promise<Account> {
    return this.store.createAccount(opening);
  }

  public findAccount(id: AccountId): Promise<Account | undefined> {
    return this.store.findAccount(id);
  }

  /** A page of the account's entries, newest first; undefined when the account does not exist. */
  public async listEntries(
    accountId: AccountId,
    request: { readonly limit?: number; readonly beforeId?: bigint },
  ): Promise<EntryPage | undefined> {
    const limit = request.limit ?? this.paging.pageSizeDefault;
    if (!Number.isInteger(limit) || limit < 1 || limit > this.paging.pageSizeMax) {
      throw new RangeError(`a page holds 1 to ${this.paging.pageSizeMax} entries, got ${limit}`);
    }
    const page = await this.store.listEntries(accountId, { limit, beforeId: request.beforeId });
    if (page === undefined) return undefined;
    const last = page.entries.at(-1);
    return { entries: page.entries, nextBeforeId: page.hasMore && last !== undefined ? last.id : undefined };
  }
}
