import type { AccountId } from './ids';
import type { Metadata } from './metadata';
import { amountMax, type CurrencyCode } from './money';
import type { TransferResult } from './results';
import type { TransferCommand } from './transfer';

/** An account as the posting rules see it: its currency, flags and totals. */
export interface AccountState {
  readonly id: AccountId;
  readonly currency: CurrencyCode;
  readonly debitsMustNotExceedCredits: boolean;
  readonly creditsMustNotExceedDebits: boolean;
  readonly debitsPosted: bigint;
  readonly creditsPosted: bigint;
  readonly debitsPending: bigint;
  readonly creditsPending: bigint;
}

/** The fields of a transfer already recorded under an id, as far as `exists` compares them. */
export type RecordedTransfer = Pick<
  TransferCommand,
  'debitAccountId' | 'creditAccountId' | 'amount' | 'currency' | 'metadata'
>;

/**
 * Decides one transfer against the state before it, checking in a fixed order: the `exists`
 * family first (an id is taken once, whatever its outcome), then the transfer itself, then the
 * accounts, then the overflow bounds, then the balance limits.
 *
 * This is the executable specification of `ledger.post_transfers`, which is read in
 * migrations/repeatable/post_transfers.sql: the SQL engine applies the same order, and a property
 * test holds the two together.
 */
export function decideTransfer(
  transfer: TransferCommand,
  recorded: RecordedTransfer | undefined,
  debit: AccountState | undefined,
  credit: AccountState | undefined,
): TransferResult {
  if (recorded !== undefined) {
    if (recorded.debitAccountId !== transfer.debitAccountId) return 'exists_with_different_debit_account_id';
    if (recorded.creditAccountId !== transfer.creditAccountId)
      return 'exists_with_different_credit_account_id';
    if (recorded.amount !== transfer.amount) return 'exists_with_different_amount';
    if (recorded.currency !== transfer.currency) return 'exists_with_different_currency';
    if (!metadataEqual(recorded.metadata, transfer.metadata)) return 'exists_with_different_metadata';
    return 'exists';
  }
  if (transfer.debitAccountId === transfer.creditAccountId) return 'accounts_must_be_different';
  if (debit === undefined) return 'debit_account_not_found';
  if (credit === undefined) return 'credit_account_not_found';
  if (debit.currency !== transfer.currency || credit.currency !== transfer.currency)
    return 'currency_mismatch';
  if (debit.debitsPosted > amountMax - transfer.amount) return 'overflows_debits_posted';
  if (credit.creditsPosted > amountMax - transfer.amount) return 'overflows_credits_posted';
  if (
    debit.debitsMustNotExceedCredits &&
    transfer.amount > debit.creditsPosted - debit.debitsPosted - debit.debitsPending
  ) {
    return 'exceeds_credits';
  }
  if (
    credit.creditsMustNotExceedDebits &&
    transfer.amount > credit.debitsPosted - credit.creditsPosted - credit.creditsPending
  ) {
    return 'exceeds_debits';
  }
  return 'posted';
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
