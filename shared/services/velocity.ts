/**
 * The velocity check: before a transfer is queued, its debit account's sliding window must admit
 * it. The window is read, decided on in memory (`decideVelocity`) and written back with a
 * condition on the version that was read, so two requests that read the same window cannot both
 * take its last place: the second write fails its condition, and that request reads again. The
 * number of admitted transfers in a window is therefore exact however many requests race.
 */
import type { AccountId } from '../domain/ids';
import {
  decideVelocity,
  effectiveVelocityLimits,
  noVelocityOverrides,
  type VelocityEntry,
  type VelocityLimits,
  type VelocityOverrides,
} from '../domain/velocity';
import { LedgerError, TransientError } from '../errors';
import type { Logger } from '../ports/logger';

/** A debit account's window as stored, and the account's own limits if it has any. */
export interface VelocityState {
  readonly entries: readonly VelocityEntry[];
  /** The window's version, for the conditional write; undefined when there is no window yet. */
  readonly version: number | undefined;
  /** The account's limits; undefined when none were ever set (the defaults apply). */
  readonly overrides: VelocityOverrides | undefined;
}

/**
 * Where windows and the accounts' limits are kept (DynamoDB).
 *
 * - `read` returns the window and the account's limits, read consistently.
 * - `write` stores the window if its version is still `expectedVersion` (undefined: there is no
 *   window yet) and returns 'written', or 'conflict' when another request wrote first.
 * - `putOverrides` stores an account's limits unless a newer version of them is stored.
 *
 * Each throws `TransientError` when the store is unavailable.
 */
export interface VelocityStore {
  read(accountId: AccountId): Promise<VelocityState>;
  write(
    accountId: AccountId,
    window: {
      readonly entries: readonly VelocityEntry[];
      readonly expectedVersion: number | undefined;
      readonly expiresAtS: number;
    },
  ): Promise<'written' | 'conflict'>;
  putOverrides(accountId: AccountId, overrides: VelocityOverrides, version: bigint): Promise<void>;
}

/** The transfer would pass its debit account's velocity limit. */
export class VelocityExceededError extends LedgerError {
  public constructor(
    public readonly limit: 'transfer_count' | 'amount',
    public readonly limits: VelocityLimits,
    /** Whole seconds until the window would admit the transfer; undefined: never. */
    public readonly retryAfterS: number | undefined,
    options: { context?: Record<string, unknown> } = {},
  ) {
    super(`the transfer would pass the debit account's velocity limit (${limit})`, options);
    this.name = 'VelocityExceededError';
  }
}

/** Concurrent requests kept winning the window past the retry bound; the request may be retried. */
export class VelocityContentionError extends TransientError {
  public constructor(options: { context?: Record<string, unknown> } = {}) {
    super('the velocity window was contended past the retry bound', options);
    this.name = 'VelocityContentionError';
  }
}

/** Conditional-write conflicts one check retries before it gives up with 503. */
export const velocityRetryCountMax = 12;
const backoffBaseMs = 4;
const backoffCapMs = 100;

export interface VelocityOptions {
  readonly store: VelocityStore;
  readonly defaults: VelocityLimits;
  readonly logger: Logger;
  readonly now?: () => Date;
  readonly retryCountMax?: number;
}

export class VelocityService {
  private readonly now: () => Date;

  public constructor(private readonly options: VelocityOptions) {
    this.now = options.now ?? (() => new Date());
  }

  /**
   * Counts the transfer in its debit account's window and returns when it was admitted. A
   * transfer id already in the window is admitted again without being counted twice.
   *
   * Throws `VelocityExceededError` when it does not fit, `VelocityContentionError` when the
   * window stayed contended past the retry bound, `TransientError` when the store is unavailable.
   */
  public async admit(transfer: {
    readonly transferId: string;
    readonly debitAccountId: AccountId;
    readonly amount: bigint;
  }): Promise<Date> {
    const retryCountMax = this.options.retryCountMax ?? velocityRetryCountMax;
    for (let attempt = 0; attempt <= retryCountMax; attempt += 1) {
      const state = await this.options.store.read(transfer.debitAccountId);
      const limits = effectiveVelocityLimits(this.options.defaults, state.overrides ?? noVelocityOverrides);
      const now = this.now();
      const decision = decideVelocity(state.entries, limits, {
        transferId: transfer.transferId,
        amount: transfer.amount,
        nowMs: now.getTime(),
      });
      if (decision.kind === 'already_counted') return now;
      if (decision.kind === 'exceeded') {
        throw new VelocityExceededError(decision.limit, limits, decision.retryAfterS, {
          context: { debitAccountId: transfer.debitAccountId, transferId: transfer.transferId },
        });
      }
      const written = await this.options.store.write(transfer.debitAccountId, {
        entries: decision.entries,
        expectedVersion: state.version,
        // Every entry leaves the window by then, the new one last.
        expiresAtS: Math.ceil(now.getTime() / 1000) + limits.windowS,
      });
      if (written === 'written') return now;
      // Full jitter, so the requests that lost one round do not collide again in step.
      const delayMs = Math.random() * Math.min(backoffCapMs, backoffBaseMs * 2 ** attempt);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
    this.options.logger.warn('velocity window contended past the retry bound', {
      debitAccountId: transfer.debitAccountId,
      retryCountMax,
    });
    throw new VelocityContentionError({ context: { debitAccountId: transfer.debitAccountId } });
  }
}
