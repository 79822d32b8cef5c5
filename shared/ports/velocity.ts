/**
 * Where each debit account's velocity item is kept: the port the velocity service admits
 * transfers through, with the values it exchanges.
 */
import type { AccountId } from '../domain/ids';
import type { VelocityLimits, VelocityOverrides, VelocityWindow } from '../domain/velocity';

/** An account's velocity item: its own limits, if it has any, and its current window. */
export interface VelocityState {
  /** The account's limits and their version; undefined when none were ever stored. */
  readonly limits: { readonly overrides: VelocityOverrides; readonly version: bigint } | undefined;
  /** The last window opened; undefined when the account never had one. */
  readonly window: VelocityWindow | undefined;
}

/** One conditional write of admission (see `VelocityStore.count`). */
export interface VelocityWrite {
  readonly kind: 'count_in_window' | 'open_window';
  /** The limits the write assumes, and their version (undefined: the account stores none). */
  readonly limits: VelocityLimits;
  readonly limitsVersion: bigint | undefined;
  /** How many transfers the write counts (1 for a single submission; a batch's admitted ones). */
  readonly transferCount: number;
  /** Their amounts' sum, minor units. */
  readonly amount: bigint;
  readonly nowMs: number;
}

/**
 * Where each account's velocity item is kept (DynamoDB), written only with conditions.
 *
 * - `count` makes one conditional write: `count_in_window` adds the write's transfers to the
 *   window if it is open at `nowMs` and they all fit it under `limits`; `open_window` opens a
 *   window at `nowMs` holding only them if no window is open at `nowMs`; both only if the stored
 *   limits' version is `limitsVersion`. Returns `counted: true` with the item after the write, or
 *   `counted: false` with the item as it was when the condition failed.
 * - `read` answers the item as it is now (a strongly consistent read).
 * - `release` takes `transferCount` transfers of `amount` in all out of the window that started
 *   at `windowStartMs`, if that window is still the last one; returns the item after, or
 *   undefined when the window had moved on (nothing to give back).
 * - `putOverrides` stores an account's limits unless a newer version of them is stored.
 *
 * Each throws `TransientError` when the store is unavailable, or `signal` aborted the call.
 */
export interface VelocityStore {
  count(
    accountId: AccountId,
    write: VelocityWrite,
    signal?: AbortSignal,
  ): Promise<{ counted: boolean; state: VelocityState }>;
  read(accountId: AccountId, signal?: AbortSignal): Promise<VelocityState>;
  release(
    accountId: AccountId,
    slot: { readonly windowStartMs: number; readonly amount: bigint; readonly transferCount: number },
    signal?: AbortSignal,
  ): Promise<VelocityState | undefined>;
  putOverrides(accountId: AccountId, overrides: VelocityOverrides, version: bigint): Promise<void>;
}
