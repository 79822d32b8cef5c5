import type { AccountStatus } from './accounts';
import type { AccountId, TransferId } from './ids';
import type { Metadata } from './metadata';
import { amountMax, type CurrencyCode } from './money';
import type { ExistsResult, TransferResult } from './results';
import {
  commandKind,
  isReferring,
  type LedgerCommand,
  type ReferringCommand,
  type TransferCommand,
  type TransferKind,
} from './transfer';

/** An account as the posting rules see it: its currency, flags, state and totals. */
export interface AccountState {
  readonly id: AccountId;
  readonly currency: CurrencyCode;
  readonly debitsMustNotExceedCredits: boolean;
  readonly creditsMustNotExceedDebits: boolean;
  readonly status: AccountStatus;
  readonly debitsPosted: bigint;
  readonly creditsPosted: bigint;
  readonly debitsPending: bigint;
  readonly creditsPending: bigint;
}

/**
 * A transfer as the ledger recorded it under an id, as far as `exists` compares it. A post, void
 * or reversal records the accounts and currency of the transfer it names (swapped for a
 * reversal) and the amount it moved or released, or nulls when it named nothing the ledger knew.
 */
export interface RecordedTransfer {
  readonly kind: TransferKind;
  readonly debitAccountId: AccountId | null;
  readonly creditAccountId: AccountId | null;
  readonly amount: bigint | null;
  readonly currency: CurrencyCode | null;
  readonly metadata: Metadata;
  /** A pending transfer's timeout. */
  readonly timeoutS: number | null;
  /** The pending transfer a post or void names, or the transfer a reversal reverses. */
  readonly referenceId: TransferId | null;
}

/** The status the ledger records a transfer with, once and for good. */
export type RecordedStatus = 'posted' | 'pending' | 'voided' | 'rejected';

/** What a pending transfer became; `pending` while it holds its money. */
export type PendingStatus = 'pending' | 'posted' | 'voided' | 'expired';

/** A pending transfer that holds (or held) money, with what became of it. */
export interface PendingTransferState {
  readonly id: TransferId;
  readonly debitAccountId: AccountId;
  readonly creditAccountId: AccountId;
  readonly amount: bigint;
  readonly currency: CurrencyCode;
  readonly status: PendingStatus;
  /** When the hold expires (milliseconds since the epoch): a post or void at or after it is too late. */
  readonly expiresAtMs: number;
}

/**
 * What the ledger holds under the id a post or void names: nothing (or a rejected transfer, which
 * never held anything), a transfer that was never pending, or a pending transfer.
 */
export type PendingTarget =
  | { readonly kind: 'not_found' }
  | { readonly kind: 'not_pending' }
  | { readonly kind: 'pending'; readonly state: PendingTransferState };

/** The transfer a reversal names, as recorded, and how much of it posted reversals moved back. */
export interface ReversalTarget {
  readonly kind: TransferKind;
  readonly status: RecordedStatus;
  readonly debitAccountId: AccountId | null;
  readonly creditAccountId: AccountId | null;
  readonly amount: bigint | null;
  readonly currency: CurrencyCode | null;
  readonly reversedAmount: bigint;
}

/**
 * What a command is decided against. For a new transfer, `debit` and `credit` are the accounts
 * it names; for a post or void, the pending transfer's; for a reversal, the reversed transfer's
 * credit account (debited) and debit account (credited). Undefined: no such account.
 */
export interface Decision {
  readonly recorded: RecordedTransfer | undefined;
  readonly debit: AccountState | undefined;
  readonly credit: AccountState | undefined;
  /** For a post or void: what the named id holds. */
  readonly pending?: PendingTarget;
  /** For a reversal: the named transfer, or undefined when the ledger has none. */
  readonly original?: ReversalTarget | undefined;
  /** The batch's clock (milliseconds since the epoch): holds at or past their expiry are expired. */
  readonly nowMs: number;
}

/**
 * Decides one command against the state before it, checking in a fixed order: the `exists`
 * family first (an id is taken once, whatever its outcome), then the named transfer (for a post,
 * void or reversal), then the transfer itself, then the accounts and their states, then the
 * overflow bounds, then the balance limits; the reasons are listed in that order in `results.ts`.
 *
 * This is the executable specification of `ledger.post_transfers`, which is read in
 * migrations/repeatable/post_transfers.sql: the SQL engine applies the same order, and a property
 * test holds the two together.
 */
export function decideCommand(command: LedgerCommand, decision: Decision): TransferResult {
  if (decision.recorded !== undefined) return existsResult(command, decision.recorded);
  if (!isReferring(command)) return decideNew(command, decision.debit, decision.credit);
  if (command.kind === 'reversal') {
    return decideReversal(command, decision.original, decision.debit, decision.credit);
  }
  return decidePendingResolution(
    command,
    decision.pending ?? { kind: 'not_found' },
    decision.debit,
    decision.credit,
    decision.nowMs,
  );
}

/**
 * Decides a new transfer (plain or pending). Kept with the signature of the first engine: the
 * recorded transfer under its id, then its debit and credit accounts.
 */
export function decideTransfer(
  transfer: TransferCommand,
  recorded: RecordedTransfer | undefined,
  debit: AccountState | undefined,
  credit: AccountState | undefined,
): TransferResult {
  if (recorded !== undefined) return existsResult(transfer, recorded);
  return decideNew(transfer, debit, credit);
}

/** The `exists` result of a command whose id was taken: the first field that differs, in order. */
export function existsResult(command: LedgerCommand, recorded: RecordedTransfer): ExistsResult {
  const kind = commandKind(command);
  if (recorded.kind !== kind) return 'exists_with_different_kind';
  if (isReferring(command)) {
    if (recorded.referenceId !== command.referenceId) {
      return kind === 'reversal' ? 'exists_with_different_reverses' : 'exists_with_different_pending_id';
    }
    // A request without an amount asked for all of it, which is what was recorded.
    if (command.amount !== undefined && command.amount !== recorded.amount)
      return 'exists_with_different_amount';
  } else {
    if (command.pending !== undefined && recorded.timeoutS !== command.pending.timeoutS) {
      return 'exists_with_different_timeout';
    }
    if (recorded.debitAccountId !== command.debitAccountId) return 'exists_with_different_debit_account_id';
    if (recorded.creditAccountId !== command.creditAccountId)
      return 'exists_with_different_credit_account_id';
    if (recorded.amount !== command.amount) return 'exists_with_different_amount';
    if (recorded.currency !== command.currency) return 'exists_with_different_currency';
  }
  if (!metadataEqual(recorded.metadata, command.metadata)) return 'exists_with_different_metadata';
  return 'exists';
}

function decideNew(
  transfer: TransferCommand,
  debit: AccountState | undefined,
  credit: AccountState | undefined,
): TransferResult {
  const pending = transfer.pending !== undefined;
  if (transfer.debitAccountId === transfer.creditAccountId) return 'accounts_must_be_different';
  if (debit === undefined) return 'debit_account_not_found';
  if (credit === undefined) return 'credit_account_not_found';
  const state = accountStateResult(debit, credit);
  if (state !== undefined) return state;
  if (debit.currency !== transfer.currency || credit.currency !== transfer.currency)
    return 'currency_mismatch';
  if (pending) {
    if (debit.debitsPending > amountMax - transfer.amount) return 'overflows_debits_pending';
    if (credit.creditsPending > amountMax - transfer.amount) return 'overflows_credits_pending';
  } else {
    if (debit.debitsPosted > amountMax - transfer.amount) return 'overflows_debits_posted';
    if (credit.creditsPosted > amountMax - transfer.amount) return 'overflows_credits_posted';
  }
  return limitResult(debit, credit, transfer.amount) ?? (pending ? 'pending' : 'posted');
}

/**
 * Decides the post or void of a pending transfer. `debit` and `credit` are the pending
 * transfer's accounts. A hold at or past its expiry is expired even before the sweeper has
 * released it.
 */
export function decidePendingResolution(
  command: ReferringCommand,
  target: PendingTarget,
  debit: AccountState | undefined,
  credit: AccountState | undefined,
  nowMs: number,
): TransferResult {
  if (target.kind === 'not_found') return 'pending_transfer_not_found';
  if (target.kind === 'not_pending') return 'pending_transfer_not_pending';
  const { state } = target;
  if (state.status === 'posted') return 'pending_transfer_already_posted';
  if (state.status === 'voided') return 'pending_transfer_already_voided';
  if (state.status === 'expired' || state.expiresAtMs <= nowMs) return 'pending_transfer_expired';
  if (command.kind === 'void_pending') return 'voided';
  const amount = command.amount ?? state.amount;
  if (amount > state.amount) return 'exceeds_pending_transfer_amount';
  if (debit === undefined || credit === undefined) {
    throw new Error('assertion failed: a pending transfer has both its accounts');
  }
  const accountState = accountStateResult(debit, credit);
  if (accountState !== undefined) return accountState;
  if (debit.debitsPosted > amountMax - amount) return 'overflows_debits_posted';
  if (credit.creditsPosted > amountMax - amount) return 'overflows_credits_posted';
  // Posting moves held money: the limits already counted the whole hold, and less or as much posts.
  return 'posted';
}

/**
 * Decides a reversal. `debit` is the reversed transfer's credit account and `credit` its debit
 * account. Only a transfer that moved money can be reversed (a plain transfer, the post of a
 * pending transfer, another reversal), by at most its amount in all; without an amount a
 * reversal asks for the whole of the original's.
 */
export function decideReversal(
  command: ReferringCommand,
  original: ReversalTarget | undefined,
  debit: AccountState | undefined,
  credit: AccountState | undefined,
): TransferResult {
  if (original === undefined) return 'transfer_not_found';
  if (original.status !== 'posted' || original.amount === null) return 'transfer_not_posted';
  const amount = command.amount ?? original.amount;
  if (amount > original.amount - original.reversedAmount) return 'exceeds_reversible_amount';
  if (debit === undefined || credit === undefined) {
    throw new Error('assertion failed: a posted transfer has both its accounts');
  }
  const accountState = accountStateResult(debit, credit);
  if (accountState !== undefined) return accountState;
  if (debit.debitsPosted > amountMax - amount) return 'overflows_debits_posted';
  if (credit.creditsPosted > amountMax - amount) return 'overflows_credits_posted';
  return limitResult(debit, credit, amount) ?? 'posted';
}

/** What a post records as its amount: the amount asked for, or the whole hold. */
export function postedAmountOf(command: ReferringCommand, pending: PendingTransferState): bigint {
  return command.amount ?? pending.amount;
}

/** What a reversal records as its amount: the amount asked for, or the whole original. */
export function reversalAmountOf(
  command: ReferringCommand,
  original: ReversalTarget | undefined,
): bigint | null {
  return command.amount ?? original?.amount ?? null;
}

/** Closed before frozen, debit before credit. */
function accountStateResult(debit: AccountState, credit: AccountState): TransferResult | undefined {
  if (debit.status === 'closed') return 'debit_account_closed';
  if (credit.status === 'closed') return 'credit_account_closed';
  if (debit.status === 'frozen') return 'debit_account_frozen';
  if (credit.status === 'frozen') return 'credit_account_frozen';
  return undefined;
}

/**
 * The balance flags: a debits-limited account may not let debits posted plus pending exceed
 * credits posted; a credits-limited one the mirror. Pending debits count against the limit, so
 * a hold is as good as spent, and pending credits do not help, as they may never arrive.
 */
function limitResult(debit: AccountState, credit: AccountState, amount: bigint): TransferResult | undefined {
  if (
    debit.debitsMustNotExceedCredits &&
    amount > debit.creditsPosted - debit.debitsPosted - debit.debitsPending
  ) {
    return 'exceeds_credits';
  }
  if (
    credit.creditsMustNotExceedDebits &&
    amount > credit.debitsPosted - credit.creditsPosted - credit.creditsPending
  ) {
    return 'exceeds_debits';
  }
  return undefined;
}

/** Metadata equality as Postgres' jsonb sees it: key order does not matter. */
export function metadataEqual(left: Metadata, right: Metadata): boolean {
  return canonicalJson(left) === canonicalJson(right);
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
