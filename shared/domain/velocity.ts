/**
 * Velocity limits: how many transfers, and how much money, one debit account may send within a
 * window. Windows are fixed and anchored: a window opens at the first transfer admitted after
 * the previous one closed and runs `windowS` seconds; within it, at most `transferCountMax`
 * transfers and `amountMax` minor units are admitted, exactly. Across a window's end up to twice
 * the limit can pass within `windowS` seconds (the end of one window and the start of the next):
 * the price of admitting with one atomic write of two counters instead of a log per transfer.
 * This module holds the settings, their bounds and the admission decision, with no I/O.
 */
import { amountMax } from './money';

/** The default window (LEDGER_VELOCITY_WINDOW_S unset): a minute. */
export const velocityWindowSDefault = 60;
/** The default transfers per window (LEDGER_VELOCITY_MAX_TRANSFERS unset). */
export const velocityTransferCountMaxDefault = 100;
/** The longest window (a day): the window item's TTL and the log stay short. */
export const velocityWindowSMax = 86_400;
/**
 * The largest transfer count a window may allow. The window holds two counters whatever the
 * count, so this bound is about what a limit means (a velocity check, not a throughput cap), not
 * about storage.
 */
export const velocityTransferCountMaxBound = 1_000;

/** The limits that apply to one debit account. `amountMax` undefined: no amount limit. */
export interface VelocityLimits {
  readonly windowS: number;
  readonly transferCountMax: number;
  readonly amountMax: bigint | undefined;
}

/** An account's own limits; a null field takes the deployment's default. */
export interface VelocityOverrides {
  readonly windowS: number | null;
  readonly transferCountMax: number | null;
  readonly amountMax: bigint | null;
}

export const noVelocityOverrides: VelocityOverrides = {
  windowS: null,
  transferCountMax: null,
  amountMax: null,
};

/** The limits an account gets: its overrides where it has them, the defaults elsewhere. */
export function effectiveVelocityLimits(
  defaults: VelocityLimits,
  overrides: VelocityOverrides,
): VelocityLimits {
  return {
    windowS: overrides.windowS ?? defaults.windowS,
    transferCountMax: overrides.transferCountMax ?? defaults.transferCountMax,
    amountMax: overrides.amountMax ?? defaults.amountMax,
  };
}

/** Whether a window length is one LedgerX takes (whole seconds, 1 to a day). */
export function isVelocityWindowS(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 1 && value <= velocityWindowSMax;
}

/** Whether a transfer count limit is one LedgerX takes (1 to `velocityTransferCountMaxBound`). */
export function isVelocityTransferCountMax(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 1 && value <= velocityTransferCountMaxBound;
}

/** Whether an amount limit is one LedgerX takes (1 to 2^63-1 minor units). */
export function isVelocityAmountMax(value: bigint): boolean {
  return value >= 1n && value <= amountMax;
}

/** A debit account's current window: when it opened, and what it has admitted since. */
export interface VelocityWindow {
  /** When the window opened, in milliseconds since the epoch. */
  readonly startMs: number;
  readonly transferCount: number;
  /** The sum of the admitted amounts, minor units (may pass 2^63-1: up to 1000 of them). */
  readonly amountTotal: bigint;
}

/** Whether the window still counts at `nowMs`: it runs `windowS` seconds from its start. */
export function isWindowOpen(window: VelocityWindow, windowS: number, nowMs: number): boolean {
  return window.startMs + windowS * 1000 > nowMs;
}

/** What admitting one more transfer takes, decided from a window and the limits. */
export type AdmissionPlan =
  /** The open window has room: count the transfer in it. */
  | { readonly kind: 'count_in_window' }
  /** No window is open (none yet, or the last one closed): open one now, holding this transfer. */
  | { readonly kind: 'open_window' }
  /**
   * Refused. `retryAfterS`: whole seconds until the open window closes (the next one admits the
   * transfer), or undefined when no window ever would (the amount alone is over the amount limit).
   */
  | {
      readonly kind: 'exceeded';
      readonly limit: 'transfer_count' | 'amount';
      readonly retryAfterS: number | undefined;
    };

/**
 * Decides how a transfer of `amount` is admitted at `nowMs` given the account's current window
 * (undefined: it never had one). Checked in this order: the amount alone against the amount
 * limit, then whether a window is open, then the open window's count, then its amount.
 */
export function planAdmission(
  window: VelocityWindow | undefined,
  limits: VelocityLimits,
  amount: bigint,
  nowMs: number,
): AdmissionPlan {
  if (limits.amountMax !== undefined && amount > limits.amountMax) {
    return { kind: 'exceeded', limit: 'amount', retryAfterS: undefined };
  }
  if (window === undefined || !isWindowOpen(window, limits.windowS, nowMs)) return { kind: 'open_window' };
  const retryAfterS = Math.max(1, Math.ceil((window.startMs + limits.windowS * 1000 - nowMs) / 1000));
  if (window.transferCount >= limits.transferCountMax) {
    return { kind: 'exceeded', limit: 'transfer_count', retryAfterS };
  }
  if (limits.amountMax !== undefined && window.amountTotal + amount > limits.amountMax) {
    return { kind: 'exceeded', limit: 'amount', retryAfterS };
  }
  return { kind: 'count_in_window' };
}

/** What one item of a batch gets from its debit account's window. */
export type BatchAdmissionDecision =
  | { readonly kind: 'admitted' }
  | {
      readonly kind: 'exceeded';
      readonly limit: 'transfer_count' | 'amount';
      readonly retryAfterS: number | undefined;
    };

/** How several transfers of one debit account are admitted together: one write for all of them. */
export interface BatchAdmissionPlan {
  /** The write the admitted transfers take; `none` when none is admitted. */
  readonly kind: 'count_in_window' | 'open_window' | 'none';
  /** Per transfer, in the order given. */
  readonly decisions: readonly BatchAdmissionDecision[];
  readonly admittedCount: number;
  /** The sum of the admitted amounts, minor units. */
  readonly admittedAmount: bigint;
}

/**
 * Decides, for transfers of one debit account in the order given, which the window admits at
 * `nowMs`: exactly what `planAdmission` would decide for each in turn if every admitted one had
 * been counted before the next (a refused one is not counted, and a later, smaller one may still
 * fit). The admitted ones all go into one window: the open one, or one that the first admitted
 * transfer opens (`nowMs` is one instant, so no window closes part-way).
 */
export function planBatchAdmission(
  window: VelocityWindow | undefined,
  limits: VelocityLimits,
  amounts: readonly bigint[],
  nowMs: number,
): BatchAdmissionPlan {
  let running = window;
  let kind: BatchAdmissionPlan['kind'] = 'none';
  let admittedCount = 0;
  let admittedAmount = 0n;
  const decisions = amounts.map((amount): BatchAdmissionDecision => {
    const plan = planAdmission(running, limits, amount, nowMs);
    if (plan.kind === 'exceeded') return plan;
    if (plan.kind === 'open_window') {
      if (kind !== 'none') throw new Error('assertion failed: a batch opens at most one window, first');
      kind = 'open_window';
      running = { startMs: nowMs, transferCount: 1, amountTotal: amount };
    } else {
      if (running === undefined) throw new Error('assertion failed: counting in a window needs one');
      if (kind === 'none') kind = 'count_in_window';
      running = {
        startMs: running.startMs,
        transferCount: running.transferCount + 1,
        amountTotal: running.amountTotal + amount,
      };
    }
    admittedCount += 1;
    admittedAmount += amount;
    return { kind: 'admitted' };
  });
  return { kind, decisions, admittedCount, admittedAmount };
}
