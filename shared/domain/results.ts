/**
 * The closed set of results a transfer can have when it is posted, named subject-must-predicate
 * like TigerBeetle's CreateTransferResult. A rejection is a recorded outcome, not a failure.
 */

/** Reasons recorded with a rejected transfer, in the order they are checked. */
export const rejectionReasons = [
  'accounts_must_be_different',
  'debit_account_not_found',
  'credit_account_not_found',
  'currency_mismatch',
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

/**
 * Results for a transfer whose id was taken before: nothing is written. They are checked first,
 * field by field in this order, so a redelivered transfer always reads back the same way.
 */
export const existsResults = [
  'exists_with_different_debit_account_id',
  'exists_with_different_credit_account_id',
  'exists_with_different_amount',
  'exists_with_different_currency',
  'exists_with_different_metadata',
  'exists',
] as const;

export type ExistsResult = (typeof existsResults)[number];

export type TransferResult = 'posted' | RejectionReason | ExistsResult;

const transferResults: ReadonlySet<string> = new Set<string>([
  'posted',
  ...recordedRejectionReasons,
  ...existsResults,
]);

/** Narrows a result read back from the database; anything else is a bug. */
export function parseTransferResult(value: unknown): TransferResult | undefined {
  return typeof value === 'string' && transferResults.has(value) ? (value as TransferResult) : undefined;
}

/** Whether a result recorded a new transfer (posted or rejected), as opposed to finding an old one. */
export function isRecorded(result: TransferResult): boolean {
  return !(existsResults as readonly string[]).includes(result);
}
