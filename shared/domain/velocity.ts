/**
 * Velocity limits: how many transfers, and how much money, one debit account may send within a
 * sliding window. The window is a log of the transfers it admitted (id, time, amount), so the
 * limit is exact at every instant, not per fixed bucket; this module holds the arithmetic, the
 * settings and their bounds, with no I/O.
 */
import { amountMax } from './money';

/** The default window (LEDGER_VELOCITY_WINDOW_S unset): a minute. */
export const velocityWindowSDefault = 60;
/** The default transfers per window (LEDGER_VELOCITY_MAX_TRANSFERS unset). */
export const velocityTransferCountMaxDefault = 100;
/** The longest window (a day): the window item's TTL and the log stay short. */
export const velocityWindowSMax = 86_400;
/**
 * The largest transfer count a window may allow. The window item holds one short entry per
 * admitted transfer (about 80 bytes), so 1000 entries stay near 80 KB, far under DynamoDB's
 * 400 KB item limit, and each conditional write stays cheap.
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

/** One transfer the window admitted. */
export interface VelocityEntry {
  readonly transferId: string;
  /** When it was admitted, in milliseconds since the epoch. */
  readonly atMs: number;
  readonly amount: bigint;
}

/** What the window says about one more transfer. */
export type VelocityDecision =
  /** Admitted: `entries` is the window to store (the live entries and the new one). */
  | { readonly kind: 'admitted'; readonly entries: readonly VelocityEntry[] }
  /** The transfer id is in the window already (a retry): admitted, nothing to store. */
  | { readonly kind: 'already_counted' }
  /**
   * Refused. `retryAfterS`: whole seconds until the window would admit it, or undefined when it
   * never would (the amount alone is over the amount limit).
   */
  | {
      readonly kind: 'exceeded';
      readonly limit: 'transfer_count' | 'amount';
      readonly retryAfterS: number | undefined;
    };

/** Whether an entry still counts at `nowMs`: it counts for `windowS` after it was admitted. */
export function isLive(entry: VelocityEntry, windowS: number, nowMs: number): boolean {
  return entry.atMs + windowS * 1000 > nowMs;
}

/**
 * Decides whether the window admits a transfer of `amount` with id `transferId` at `nowMs`.
 * Entries that left the window are dropped. When the transfer does not fit, the retry time is
 * when enough of the oldest entries will have left for it to fit, rounded up to whole seconds.
 */
export function decideVelocity(
  entries: readonly VelocityEntry[],
  limits: VelocityLimits,
  request: { readonly transferId: string; readonly amount: bigint; readonly nowMs: number },
): VelocityDecision {
  const live = entries
    .filter((entry) => isLive(entry, limits.windowS, request.nowMs))
    .sort((a, b) => a.atMs - b.atMs);
  if (live.some((entry) => entry.transferId === request.transferId)) return { kind: 'already_counted' };
  if (limits.amountMax !== undefined && request.amount > limits.amountMax) {
    return { kind: 'exceeded', limit: 'amount', retryAfterS: undefined };
  }
  let liveAmount = live.reduce((sum, entry) => sum + entry.amount, 0n);
  const countFits = (count: number): boolean => count + 1 <= limits.transferCountMax;
  const amountFits = (sum: bigint): boolean =>
    limits.amountMax === undefined || sum + request.amount <= limits.amountMax;
  if (countFits(live.length) && amountFits(liveAmount)) {
    return {
      kind: 'admitted',
      entries: [...live, { transferId: request.transferId, atMs: request.nowMs, amount: request.amount }],
    };
  }
  const limit = countFits(live.length) ? 'amount' : 'transfer_count';
  // Drop the oldest entries until the transfer fits; it fits when the last dropped one leaves.
  for (let dropped = 0; dropped < live.length; dropped += 1) {
    const leaving = live[dropped];
    if (leaving === undefined) break;
    liveAmount -= leaving.amount;
    const remaining = live.length - dropped - 1;
    if (countFits(remaining) && amountFits(liveAmount)) {
      const admitAtMs = leaving.atMs + limits.windowS * 1000;
      return {
        kind: 'exceeded',
        limit,
        retryAfterS: Math.max(1, Math.ceil((admitAtMs - request.nowMs) / 1000)),
      };
    }
  }
  throw new Error('assertion failed: an empty window admits a transfer within the amount limit');
}
