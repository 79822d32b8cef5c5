/**
 * What the account state routes (freeze, unfreeze, close) share: the answer to an action's
 * outcome. A change, or an action that changes nothing, answers 200 with the account; a refusal
 * answers 409 naming why; an unknown account 404.
 */

import { accountView } from '../api/views';
import type { AccountAction, AccountActionOutcome } from '../domain/accounts';
import { balanceOf } from '../domain/accounts';
import { formatSignedMinorUnits } from '../domain/money';
import type { Account } from '../ports/accounts';
import type { HttpResponse } from './http';
import { AccountClosedProblem, AccountNotClosableProblem, NotFoundProblem } from './problem';

/** What 409 means on these routes, for the OpenAPI document. */
export const accountActionConflict = {
  status: 409,
  description:
    'account-closed: a closed account takes no freeze or unfreeze. account-not-closable (close only): the posted balance is not zero, or money is pending on the account; nothing changed.',
} as const;

export function accountActionResponse(
  action: AccountAction,
  id: string,
  result: { readonly outcome: AccountActionOutcome; readonly account: Account } | undefined,
): HttpResponse {
  if (result === undefined) throw new NotFoundProblem(`account ${id} does not exist`);
  const { outcome, account } = result;
  if (outcome.kind !== 'refused') return { status: 200, body: accountView(account) };
  const balance = balanceOf(account);
  switch (outcome.reason) {
    case 'account_closed':
      throw new AccountClosedProblem(`account ${id} is closed; it cannot ${action}`);
    case 'balance_not_zero':
      throw new AccountNotClosableProblem(
        `account ${id} has a posted balance of ${formatSignedMinorUnits(balance.posted)}; it closes only at 0`,
      );
    case 'pending_not_zero':
      throw new AccountNotClosableProblem(
        `account ${id} has ${account.debitsPending} pending debits and ${account.creditsPending} pending credits; it closes only with nothing pending`,
      );
  }
}
