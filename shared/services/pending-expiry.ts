/**
 * The expiry of holds: a pending transfer that is neither posted nor voided by its timeout is
 * voided by the system. A post or void that comes too late is already refused by the engine
 * (`pending_transfer_expired`), so the sweep only gives the held money back and says so (a
 * `transfer.expired` event); until it runs, the hold still counts against the account's limits,
 * as in TigerBeetle until its expiry pulse.
 */
import type { PendingExpiryStore } from '../ports/ledger-store';
import type { Logger } from '../ports/logger';

/** What one sweep did. */
export interface SweepOutcome {
  readonly expiredCount: number;
  /** Transactions run: one per page of holds, at least one. */
  readonly pageCount: number;
  /** Whether it stopped at its page bound with holds possibly left for the next run. */
  readonly truncated: boolean;
}

export interface SweepLimits {
  /** Holds released per transaction (the SQL function takes at most 1000). */
  readonly pageSizeMax: number;
  /** Transactions per sweep: a backlog drains over several runs rather than one long one. */
  readonly pageCountMax: number;
}

export class PendingExpiryService {
  public constructor(
    private readonly store: PendingExpiryStore,
    private readonly logger: Logger,
    private readonly limits: SweepLimits,
    /** The clock; tests run it forward instead of waiting. */
    private readonly now: () => Date = () => new Date(),
  ) {}

  /**
   * Releases the holds expired by now, a page at a time, until a page comes back short or the
   * page bound is reached. All pages judge expiry by the same instant, taken once.
   */
  public async sweep(): Promise<SweepOutcome> {
    const now = this.now();
    let expiredCount = 0;
    for (let page = 1; page <= this.limits.pageCountMax; page += 1) {
      const expired = await this.store.expirePending(now, this.limits.pageSizeMax);
      expiredCount += expired.length;
      if (expired.length < this.limits.pageSizeMax) {
        if (expiredCount > 0)
          this.logger.info('pending transfers expired', { expiredCount, pageCount: page });
        return { expiredCount, pageCount: page, truncated: false };
      }
    }
    this.logger.warn('expiry sweep stopped at its page bound; the next run goes on', {
      expiredCount,
      pageCount: this.limits.pageCountMax,
    });
    return { expiredCount, pageCount: this.limits.pageCountMax, truncated: true };
  }
}
