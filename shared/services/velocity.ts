/**
 * The velocity check: before a transfer is queued, its debit account's window must admit it.
 *
 * Each account has one item holding its open window (start, transfer count, amount total) and its
 * own limits with their version. Admission is one conditional write, never a read first: "count
 * the transfer in the open window, if it is still open, has room, and the limits are the ones I
 * assumed", or "open a new window with this transfer, if none is open and the limits are the ones
 * I assumed". The store checks the condition and writes atomically, so however many requests race,
 * never more than the limit is admitted in one window.
 *
 * Which write to try is decided (`planAdmission`) from what this instance last saw of the account.
 * When the condition fails, the store answers the item as it was, and the next attempt decides
 * from that: a full window is a refusal, a closed window means opening one, new limits are taken.
 * Each failed attempt therefore learns the state that beat it, and plain contention ends in at
 * most three writes (try the window, find it closed; open one, find another request opened it
 * first; count in it, or find it full). `admissionAttemptCountMax` leaves one more for limits
 * that changed meanwhile; past it, only a pathological race is left, answered 503.
 *
 * A refusal is decided only from state a failed write of this request returned, never from the
 * cache alone: slots may have been given back, or the limits raised, since the cache saw them.
 */
import type { AccountId } from '../domain/ids';
import {
  effectiveVelocityLimits,
  noVelocityOverrides,
  planAdmission,
  planBatchAdmission,
  type VelocityLimits,
} from '../domain/velocity';
import type { BatchVelocityAdmission, SeveralAdmitted, SeveralSlot } from '../ports/batch-submission';
import type { Logger } from '../ports/logger';
import {
  type VelocityAdmission,
  VelocityContentionError,
  VelocityExceededError,
  type VelocitySlot,
} from '../ports/submission';
import type { VelocityState, VelocityStore } from '../ports/velocity';

/** Conditional writes one admission may make before it gives up with 503 (see the module comment). */
export const admissionAttemptCountMax = 4;
/** Accounts whose last seen state one instance remembers; the least recently used go first. */
export const velocityCacheAccountCountMax = 10_000;

const unknownState: VelocityState = { limits: undefined, window: undefined };

export interface VelocityOptions {
  readonly store: VelocityStore;
  readonly defaults: VelocityLimits;
  readonly logger: Logger;
  readonly now?: () => Date;
  readonly attemptCountMax?: number;
}

export class VelocityService implements VelocityAdmission, BatchVelocityAdmission {
  private readonly now: () => Date;
  /** What this instance last saw of each account's item: a guess to pick the first write with. */
  private readonly seen = new Map<AccountId, VelocityState>();

  public constructor(private readonly options: VelocityOptions) {
    this.now = options.now ?? (() => new Date());
  }

  /**
   * Counts the transfer in its debit account's window and returns its slot. Throws
   * `VelocityExceededError` when it does not fit, `VelocityContentionError` past the attempt
   * bound, `TransientError` when the store is unavailable.
   */
  public async admit(
    transfer: { readonly debitAccountId: AccountId; readonly amount: bigint },
    signal?: AbortSignal,
  ): Promise<VelocitySlot> {
    const { debitAccountId: accountId, amount } = transfer;
    const attemptCountMax = this.options.attemptCountMax ?? admissionAttemptCountMax;
    let assumed = this.seen.get(accountId) ?? unknownState;
    // Whether `assumed` came from a failed write of this request, so it may decide a refusal.
    let observed = false;
    for (let attempt = 1; attempt <= attemptCountMax; attempt += 1) {
      const now = this.now();
      const nowMs = now.getTime();
      const limits = effectiveVelocityLimits(
        this.options.defaults,
        assumed.limits?.overrides ?? noVelocityOverrides,
      );
      const plan = planAdmission(assumed.window, limits, amount, nowMs);
      if (plan.kind === 'exceeded' && observed) {
        throw new VelocityExceededError(plan.limit, limits, plan.retryAfterS, {
          context: { debitAccountId: accountId },
        });
      }
      // A refusal guessed from the cache is checked by trying the window: the write fails, and
      // says why, unless slots were given back or the limits raised since.
      const kind = plan.kind === 'open_window' ? 'open_window' : 'count_in_window';
      const { counted, state } = await this.options.store.count(
        accountId,
        { kind, limits, limitsVersion: assumed.limits?.version, transferCount: 1, amount, nowMs },
        signal,
      );
      this.remember(accountId, state);
      if (counted) {
        if (state.window === undefined) throw new Error('assertion failed: a counted transfer has a window');
        return { debitAccountId: accountId, amount, windowStartMs: state.window.startMs, admittedAt: now };
      }
      assumed = state;
      observed = true;
    }
    this.options.logger.warn('velocity admission gave up: the window changed under every attempt', {
      debitAccountId: accountId,
      attemptCountMax,
    });
    throw new VelocityContentionError({ context: { debitAccountId: accountId, attemptCountMax } });
  }

  /**
   * Gives a slot back to its window, when the transfer it was counted for was surely not queued.
   * Nothing happens when the window has closed since (its count no longer matters).
   */
  public async release(slot: VelocitySlot, signal?: AbortSignal): Promise<void> {
    const state = await this.options.store.release(
      slot.debitAccountId,
      { windowStartMs: slot.windowStartMs, amount: slot.amount, transferCount: 1 },
      signal,
    );
    if (state !== undefined) this.remember(slot.debitAccountId, state);
  }

  /**
   * Admits several transfers of one debit account, in the order given, as `admit` would one after
   * another (`planBatchAdmission`), with one conditional write for all the admitted ones. Returns
   * each transfer's decision and the slot the admitted ones hold together (undefined when none
   * was admitted). A refusal is decided only from the item as a failed write answered it or a
   * strongly consistent read returned it, never from this instance's cache alone. Throws
   * `VelocityContentionError` past the attempt bound, `TransientError` when the store is
   * unavailable; nothing is counted then.
   */
  public async admitSeveral(
    debitAccountId: AccountId,
    amounts: readonly bigint[],
    signal?: AbortSignal,
  ): Promise<SeveralAdmitted> {
    if (amounts.length === 0) throw new Error('assertion failed: admitSeveral is given transfers');
    // One attempt more than `admit`: a read that checks a refusal guessed from the cache.
    const attemptCountMax = (this.options.attemptCountMax ?? admissionAttemptCountMax) + 1;
    let assumed = this.seen.get(debitAccountId) ?? unknownState;
    let observed = false;
    for (let attempt = 1; attempt <= attemptCountMax; attempt += 1) {
      const now = this.now();
      const nowMs = now.getTime();
      const limits = effectiveVelocityLimits(
        this.options.defaults,
        assumed.limits?.overrides ?? noVelocityOverrides,
      );
      const plan = planBatchAdmission(assumed.window, limits, amounts, nowMs);
      const refused = plan.admittedCount < amounts.length;
      if (refused && !observed) {
        assumed = await this.options.store.read(debitAccountId, signal);
        this.remember(debitAccountId, assumed);
        observed = true;
        continue;
      }
      if (plan.kind === 'none') return { decisions: plan.decisions, limits, slot: undefined };
      const { counted, state } = await this.options.store.count(
        debitAccountId,
        {
          kind: plan.kind,
          limits,
          limitsVersion: assumed.limits?.version,
          transferCount: plan.admittedCount,
          amount: plan.admittedAmount,
          nowMs,
        },
        signal,
      );
      this.remember(debitAccountId, state);
      if (counted) {
        if (state.window === undefined) throw new Error('assertion failed: counted transfers have a window');
        return {
          decisions: plan.decisions,
          limits,
          slot: {
            debitAccountId,
            windowStartMs: state.window.startMs,
            transferCount: plan.admittedCount,
            amount: plan.admittedAmount,
            admittedAt: now,
          },
        };
      }
      assumed = state;
      observed = true;
    }
    this.options.logger.warn('velocity admission gave up: the window changed under every attempt', {
      debitAccountId,
      attemptCountMax,
      transferCount: amounts.length,
    });
    throw new VelocityContentionError({ context: { debitAccountId, attemptCountMax } });
  }

  /** Gives back the slots `admitSeveral` counted, if their window is still the open one. */
  public async releaseSeveral(slot: SeveralSlot, signal?: AbortSignal): Promise<void> {
    const state = await this.options.store.release(slot.debitAccountId, slot, signal);
    if (state !== undefined) this.remember(slot.debitAccountId, state);
  }

  private remember(accountId: AccountId, state: VelocityState): void {
    // Re-inserted, so the Map's order is least recently used first.
    this.seen.delete(accountId);
    this.seen.set(accountId, state);
    if (this.seen.size > velocityCacheAccountCountMax) {
      const oldest = this.seen.keys().next();
      if (oldest.done !== true) this.seen.delete(oldest.value);
    }
  }
}
