/**
 * An account's state and balance as the ledger defines them: open, frozen (takes part in no new
 * transfer, though its holds can still be voided or expire) or closed (final, allowed only when
 * empty); and its balances seen from its credit side.
 */

export const accountStatuses = ['open', 'frozen', 'closed'] as const;
export type AccountStatus = (typeof accountStatuses)[number];

export function parseAccountStatus(value: unknown): AccountStatus | undefined {
  return accountStatuses.find((status) => status === value);
}

/** What a client may do to an account's state. */
export const accountActions = ['freeze', 'unfreeze', 'close'] as const;
export type AccountAction = (typeof accountActions)[number];

/** Why an action was refused: the account is closed, or it is not empty enough to close. */
export const accountActionRefusals = ['account_closed', 'balance_not_zero', 'pending_not_zero'] as const;
export type AccountActionRefusal = (typeof accountActionRefusals)[number];

/** The outcome of an action: the state changed, was already so, or the action was refused. */
export type AccountActionOutcome =
  | { readonly kind: 'changed'; readonly status: AccountStatus }
  | { readonly kind: 'unchanged'; readonly status: AccountStatus }
  | { readonly kind: 'refused'; readonly reason: AccountActionRefusal };

/** What an action reads of an account. */
export interface AccountForAction {
  readonly status: AccountStatus;
  readonly debitsPosted: bigint;
  readonly creditsPosted: bigint;
  readonly debitsPending: bigint;
  readonly creditsPending: bigint;
}

/**
 * Decides an action on an account, checked in this order: a closed account takes no action but
 * closing again (which changes nothing); freezing a frozen account or unfreezing an open one
 * changes nothing; an account closes only with a posted balance of zero (`balance_not_zero`) and
 * nothing pending on either side (`pending_not_zero`).
 *
 * This is the executable specification of `ledger.change_account_status`
 * (migrations/repeatable/account_status.sql); the property test holds the two together.
 */
export function decideAccountAction(action: AccountAction, account: AccountForAction): AccountActionOutcome {
  if (account.status === 'closed') {
    return action === 'close'
      ? { kind: 'unchanged', status: 'closed' }
      : { kind: 'refused', reason: 'account_closed' };
  }
  if (action === 'freeze') {
    return account.status === 'frozen'
      ? { kind: 'unchanged', status: 'frozen' }
      : { kind: 'changed', status: 'frozen' };
  }
  if (action === 'unfreeze') {
    return account.status === 'open'
      ? { kind: 'unchanged', status: 'open' }
      : { kind: 'changed', status: 'open' };
  }
  if (account.debitsPosted !== account.creditsPosted) return { kind: 'refused', reason: 'balance_not_zero' };
  if (account.debitsPending !== 0n || account.creditsPending !== 0n) {
    return { kind: 'refused', reason: 'pending_not_zero' };
  }
  return { kind: 'changed', status: 'closed' };
}

/**
 * An account's balances from its credit side, in minor units (negative when debits are larger):
 * `posted` = credits posted - debits posted; `pending` = credits pending - debits pending;
 * `available` = credits posted - debits posted - debits pending: what the account could still
 * send, since money held for a pending debit is spoken for while a pending credit has not arrived.
 */
export interface Balance {
  readonly posted: bigint;
  readonly pending: bigint;
  readonly available: bigint;
}

export function balanceOf(account: Omit<AccountForAction, 'status'>): Balance {
  return {
    posted: account.creditsPosted - account.debitsPosted,
    pending: account.creditsPending - account.debitsPending,
    available: account.creditsPosted - account.debitsPosted - account.debitsPending,
  };
}
