/**
 * The closed set of results a transfer can have when it is posted, named subject-must-predicate
 * like TigerBeetle's CreateTransferResult. A rejection is a recorded outcome, not a failure.
 */
import type { TransferKind } from './transfer';

/**
 * Reasons recorded with a rejected transfer, in the order they are checked: the first that
 * applies wins. Each kind of transfer is checked against the reasons that concern it
 * (`rejectionReasonsOf`), in this same order.
 *
 * Adding a reason takes five places, kept in step by tests: this list (in its place in the
 * order), `reasonsByKind` below (the kinds it can reject), the CHECK constraint
 * `transfers_reason_check` (redefined by the migration that adds it, as 0012 did), the engine in
 * migrations/repeatable/post_transfers.sql with its TypeScript twin in rules.ts, and the list in
 * docs/ledger.md.
 */
export const rejectionReasons = [
  'accounts_must_be_different',
  'pending_transfer_not_found',
  'pending_transfer_not_pending',
  'pending_transfer_already_posted',
  'pending_transfer_already_voided',
  'pending_transfer_expired',
  'exceeds_pending_transfer_amount',
  'transfer_not_found',
  'transfer_not_posted',
  'exceeds_reversible_amount',
  'debit_account_not_found',
  'credit_account_not_found',
  'debit_account_closed',
  'credit_account_closed',
  'debit_account_frozen',
  'credit_account_frozen',
  'currency_mismatch',
  'overflows_debits_pending',
  'overflows_credits_pending',
  'overflows_debits_posted',
  'overflows_credits_posted',
  'exceeds_credits',
  'exceeds_debits',
] as const;

/**
 * The reason of every leg of a rejected atomic set but one: the first leg, in set order, that a
 * rule above rejected keeps that rule's reason, and every other leg gets this one, whatever its
 * own checks said. It comes after every rule in the documented order.
 */
export const linkedTransferFailed = 'linked_transfer_failed';

/** Every reason a rejected transfer may be recorded with. */
export const recordedRejectionReasons = [...rejectionReasons, linkedTransferFailed] as const;

export type RejectionReason = (typeof recordedRejectionReasons)[number];

/** A reason a rule of the engine gives (every reason but `linked_transfer_failed`). */
export type RuleRejectionReason = (typeof rejectionReasons)[number];

/** The reasons that can reject each kind of transfer, in the order they are checked. */
const reasonsByKind: Readonly<Record<TransferKind, ReadonlySet<RuleRejectionReason>>> = {
  transfer: new Set([
    'accounts_must_be_different',
    'debit_account_not_found',
    'credit_account_not_found',
    'debit_account_closed',
    'credit_account_closed',
    'debit_account_frozen',
    'credit_account_frozen',
    'currency_mismatch',
    'overflows_debits_posted',
    'overflows_credits_posted',
    'exceeds_credits',
    'exceeds_debits',
  ]),
  pending: new Set([
    'accounts_must_be_different',
    'debit_account_not_found',
    'credit_account_not_found',
    'debit_account_closed',
    'credit_account_closed',
    'debit_account_frozen',
    'credit_account_frozen',
    'currency_mismatch',
    'overflows_debits_pending',
    'overflows_credits_pending',
    'exceeds_credits',
    'exceeds_debits',
  ]),
  post_pending: new Set([
    'pending_transfer_not_found',
    'pending_transfer_not_pending',
    'pending_transfer_already_posted',
    'pending_transfer_already_voided',
    'pending_transfer_expired',
    'exceeds_pending_transfer_amount',
    'debit_account_closed',
    'credit_account_closed',
    'debit_account_frozen',
    'credit_account_frozen',
    'overflows_debits_posted',
    'overflows_credits_posted',
  ]),
  // A void releases a hold: it is allowed on frozen accounts, and a closed account holds nothing.
  void_pending: new Set([
    'pending_transfer_not_found',
    'pending_transfer_not_pending',
    'pending_transfer_already_posted',
    'pending_transfer_already_voided',
    'pending_transfer_expired',
  ]),
  reversal: new Set([
    'transfer_not_found',
    'transfer_not_posted',
    'exceeds_reversible_amount',
    'debit_account_closed',
    'credit_account_closed',
    'debit_account_frozen',
    'credit_account_frozen',
    'overflows_debits_posted',
    'overflows_credits_posted',
    'exceeds_credits',
    'exceeds_debits',
  ]),
};

/** The reasons that can reject a transfer of this kind, in check order. */
export function rejectionReasonsOf(kind: TransferKind): RuleRejectionReason[] {
  return rejectionReasons.filter((reason) => reasonsByKind[kind].has(reason));
}

/**
 * Results for a transfer whose id was taken before: nothing is written. They are checked first,
 * field by field in this order, so a redelivered transfer always reads back the same way. Only the
 * fields a request of its kind names are compared: a post, void or reversal names no accounts or
 * currency (they are the referenced transfer's), and an amount it leaves out matches any.
 */
export const existsResults = [
  'exists_with_different_kind',
  'exists_with_different_pending_id',
  'exists_with_different_reverses',
  'exists_with_different_timeout',
  'exists_with_different_debit_account_id',
  'exists_with_different_credit_account_id',
  'exists_with_different_amount',
  'exists_with_different_currency',
  'exists_with_different_metadata',
  'exists',
] as const;

export type ExistsResult = (typeof existsResults)[number];

/**
 * What a transfer that took effect became: `posted` (money moved: a transfer, the post of a
 * pending transfer, a reversal), `pending` (money held), `voided` (a hold released).
 */
export const acceptedResults = ['posted', 'pending', 'voided'] as const;

export type AcceptedResult = (typeof acceptedResults)[number];

export type TransferResult = AcceptedResult | RejectionReason | ExistsResult;

const transferResults: ReadonlySet<string> = new Set<string>([
  ...acceptedResults,
  ...recordedRejectionReasons,
  ...existsResults,
]);

/** Narrows a result read back from the database; anything else is a bug. */
export function parseTransferResult(value: unknown): TransferResult | undefined {
  return typeof value === 'string' && transferResults.has(value) ? (value as TransferResult) : undefined;
}

/** Whether a result recorded a new transfer (accepted or rejected), as opposed to finding an old one. */
export function isRecorded(result: TransferResult): boolean {
  return !(existsResults as readonly string[]).includes(result);
}

/** Whether a result is one of the accepted ones (the transfer took effect). */
export function isAccepted(result: TransferResult): result is AcceptedResult {
  return (acceptedResults as readonly string[]).includes(result);
}

/** Narrows a stored rejection reason; anything else is a bug. */
export function parseRejectionReason(value: unknown): RejectionReason | undefined {
  return recordedRejectionReasons.find((reason) => reason === value);
}
