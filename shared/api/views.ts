/**
 * Domain values as the API answers them: snake_case, amounts and versions as decimal strings.
 * Each function's return type is the response schema's, so the OpenAPI document describes what
 * is actually sent.
 */
import { formatMinorUnits } from '../domain/money';
import { type TransferCommand, toTransferMessage } from '../domain/transfer';
import type { VelocityOverrides } from '../domain/velocity';
import type { Account, BalanceAsOf, EntryPage } from '../ports/accounts';
import type { FraudFlag } from '../ports/fraud';
import type { TransferStatus } from '../services/transfer-status';
import {
  type AccountResponse,
  type BalanceResponse,
  type EntryPageResponse,
  encodeEntryCursor,
  type FraudFlagPageResponse,
  type TransferAcceptedResponse,
  type TransferResponse,
  type VelocityLimitsBody,
} from './schemas';

export function accountView(account: Account): AccountResponse {
  return {
    id: account.id,
    currency: account.currency,
    code: account.code,
    flags: {
      debits_must_not_exceed_credits: account.debitsMustNotExceedCredits,
      credits_must_not_exceed_debits: account.creditsMustNotExceedDebits,
    },
    debits_posted: formatMinorUnits(account.debitsPosted),
    credits_posted: formatMinorUnits(account.creditsPosted),
    debits_pending: formatMinorUnits(account.debitsPending),
    credits_pending: formatMinorUnits(account.creditsPending),
    metadata: account.metadata,
    created_at: account.createdAt,
    version: account.version.toString(),
    velocity: {
      window_s: account.velocity.windowS,
      max_transfers: account.velocity.transferCountMax,
      max_amount: account.velocity.amountMax === null ? null : formatMinorUnits(account.velocity.amountMax),
    },
  };
}

export function balanceView(balance: BalanceAsOf): BalanceResponse {
  return {
    account_id: balance.accountId,
    currency: balance.currency,
    as_of: balance.asOf,
    debits_posted: formatMinorUnits(balance.debitsPosted),
    credits_posted: formatMinorUnits(balance.creditsPosted),
    // Signed, so not an amount: a difference of two totals is written as it is.
    balance: (balance.creditsPosted - balance.debitsPosted).toString(),
    last_entry_id: balance.lastEntryId === undefined ? null : balance.lastEntryId.toString(),
  };
}

export function entryPageView(page: EntryPage): EntryPageResponse {
  return {
    items: page.entries.map((entry) => ({
      id: entry.id.toString(),
      transfer_id: entry.transferId,
      direction: entry.direction,
      amount: formatMinorUnits(entry.amount),
      currency: entry.currency,
      debits_posted_after: formatMinorUnits(entry.debitsPostedAfter),
      credits_posted_after: formatMinorUnits(entry.creditsPostedAfter),
      created_at: entry.createdAt,
    })),
    next_cursor: page.nextBeforeId === undefined ? null : encodeEntryCursor(page.nextBeforeId),
  };
}

export function transferAcceptedView(transfer: TransferCommand): TransferAcceptedResponse {
  const { id, ...fields } = toTransferMessage(transfer);
  return { id, status: 'queued', ...fields };
}

export function transferView(status: TransferStatus): TransferResponse {
  const { transfer } = status;
  return {
    id: transfer.id,
    status: status.status,
    reason: status.reason,
    debit_account_id: transfer.debitAccountId,
    credit_account_id: transfer.creditAccountId,
    amount: formatMinorUnits(transfer.amount),
    currency: transfer.currency,
    metadata: transfer.metadata,
    accepted_at: transfer.acceptedAt,
    processed_at: status.processedAt,
    timeline: status.timeline.map((step) => ({ step: step.step, at: step.at })),
    fraud: { status: status.fraud.status, score: status.fraud.score, reasons: [...status.fraud.reasons] },
  };
}

export function fraudFlagPageView(page: {
  readonly flags: readonly FraudFlag[];
  readonly nextBeforeFlagId: bigint | undefined;
}): FraudFlagPageResponse {
  return {
    items: page.flags.map((flag) => ({
      transfer_id: flag.transferId,
      debit_account_id: flag.debitAccountId,
      credit_account_id: flag.creditAccountId,
      amount: formatMinorUnits(flag.amount),
      currency: flag.currency,
      score: flag.score,
      reasons: [...flag.reasons],
      flagged_at: flag.flaggedAt,
    })),
    next_cursor: page.nextBeforeFlagId === undefined ? null : encodeEntryCursor(page.nextBeforeFlagId),
  };
}

/** An account's velocity limits as a request gives them: a field left out takes the default. */
export function velocityOverridesFrom(body: VelocityLimitsBody | undefined): VelocityOverrides {
  return {
    windowS: body?.window_s ?? null,
    transferCountMax: body?.max_transfers ?? null,
    amountMax: body?.max_amount ?? null,
  };
}
