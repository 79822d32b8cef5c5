/**
 * Accounts as the API sees them: opened with a currency and flags, read with their totals, and
 * their entries read newest first, a page at a time. The store (`shared/ports/accounts.ts`) does the work; this
 * service holds the paging bounds so every adapter applies the same ones.
 */
import type { AccountAction, AccountActionOutcome } from '../domain/accounts';
import { type AccountId, newAccountChangeId } from '../domain/ids';
import type { VelocityOverrides } from '../domain/velocity';
import type {
  Account,
  AccountOpening,
  AccountStore,
  BalanceAsOf,
  EntryPage,
  VelocityLimitCopy,
} from '../ports/accounts';

/** The paging bounds: a page holds at most `pageSizeMax` entries, `pageSizeDefault` when unsaid. */
export interface EntryPaging {
  readonly pageSizeDefault: number;
  readonly pageSizeMax: number;
}

export class AccountService {
  public constructor(
    private readonly store: AccountStore,
    private readonly paging: EntryPaging,
    /** Needed to open accounts with limits of their own and to change them. */
    private readonly velocityCopy?: VelocityLimitCopy,
  ) {}

  /**
   * Opens an account. Its own velocity limits, if any, are copied for the submission path inside
   * the opening transaction: if the copy cannot be written, the account is not opened (the
   * request may be retried), so no account ever has limits its copy lacks.
   */
  public openAccount(opening: AccountOpening): Promise<Account> {
    const { velocity } = opening;
    if (velocity.windowS === null && velocity.transferCountMax === null && velocity.amountMax === null) {
      // No copy: an account without one takes the defaults, which is what it has.
      return this.store.createAccount(opening);
    }
    return this.store.createAccount(opening, (account) => this.copy(account));
  }

  /**
   * Replaces an account's velocity limits (null fields: the defaults); undefined when it does not
   * exist. The copy is written while the change holds the account's row, before it commits: a
   * failed copy undoes the change, and concurrent changes reach the copy in their commit order.
   */
  public setVelocity(id: AccountId, velocity: VelocityOverrides): Promise<Account | undefined> {
    return this.store.setVelocity(id, velocity, (account) => this.copy(account));
  }

  private copy(account: Account): Promise<void> {
    if (this.velocityCopy === undefined) {
      throw new Error('assertion failed: the service that changes velocity limits has their copy');
    }
    return this.velocityCopy.putOverrides(account.id, account.velocity, account.velocityVersion);
  }

  public findAccount(id: AccountId): Promise<Account | undefined> {
    return this.store.findAccount(id);
  }

  /**
   * Freezes, unfreezes or closes an account, at once: the change takes effect for every transfer
   * posted after it commits, those already queued included. Answers the outcome and the account
   * after it; undefined when the account does not exist.
   */
  public changeStatus(
    id: AccountId,
    action: AccountAction,
  ): Promise<{ readonly outcome: AccountActionOutcome; readonly account: Account } | undefined> {
    return this.store.changeStatus(id, action, newAccountChangeId());
  }

  /**
   * A page of the account's entries, newest first, only those made at or before `asOf` (an RFC
   * 3339 time) when it is given; undefined when the account does not exist.
   */
  public async listEntries(
    accountId: AccountId,
    request: { readonly limit?: number; readonly beforeId?: bigint; readonly asOf?: string },
  ): Promise<EntryPage | undefined> {
    const limit = request.limit ?? this.paging.pageSizeDefault;
    if (!Number.isInteger(limit) || limit < 1 || limit > this.paging.pageSizeMax) {
      throw new RangeError(`a page holds 1 to ${this.paging.pageSizeMax} entries, got ${limit}`);
    }
    const page = await this.store.listEntries(accountId, {
      limit,
      beforeId: request.beforeId,
      asOf: request.asOf,
    });
    if (page === undefined) return undefined;
    const last = page.entries.at(-1);
    return { entries: page.entries, nextBeforeId: page.hasMore && last !== undefined ? last.id : undefined };
  }

  /**
   * The account's posted totals at `asOf` (an RFC 3339 time): those of its newest entry at or
   * before it, zero before its first; undefined when the account does not exist.
   */
  public balanceAsOf(accountId: AccountId, asOf: string): Promise<BalanceAsOf | undefined> {
    return this.store.balanceAsOf(accountId, asOf);
  }
}
