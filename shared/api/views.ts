/**
 * Domain values as the API answers them: snake_case, amounts and versions as decimal strings.
 * Each function's return type is the response schema's, so the OpenAPI document describes what
 * is actually sent.
 */
import { balanceOf } from '../domain/accounts';
import { formatMinorUnits, formatSignedMinorUnits } from '../domain/money';
import { type LedgerCommand, type TransferFields, transferFieldsOf } from '../domain/transfer';
import type { VelocityOverrides } from '../domain/velocity';
import { problemTypeBase } from '../handlers/problem';
import type { Account, BalanceAsOf, EntryPage } from '../ports/accounts';
import type { FraudFlag } from '../ports/fraud';
import type { BatchResult } from '../services/batch-submission';
import type { TransferStatus } from '../services/transfer-status';
import {
  type AccountResponse,
  type BalanceResponse,
  type EntryPageResponse,
  encodeEntryCursor,
  type FraudFlagPageResponse,
  type TransferAcceptedResponse,
  type TransferBatchResponse,
  type TransferResponse,
  type VelocityLimitsBody,
} from './schemas';

export function accountView(account: Account): AccountResponse {
  const balance = balanceOf(account);
  return {
    id: account.id,
    currency: account.currency,
    code: account.code,
    flags: {
      debits_must_not_exceed_credits: account.debitsMustNotExceedCredits,
      credits_must_not_exceed_debits: account.creditsMustNotExceedDebits,
    },
    status: account.status,
    debits_posted: formatMinorUnits(account.debitsPosted),
    credits_posted: formatMinorUnits(account.creditsPosted),
    debits_pending: formatMinorUnits(account.debitsPending),
    credits_pending: formatMinorUnits(account.creditsPending),
    balance: {
      posted: formatSignedMinorUnits(balance.posted),
      pending: formatSignedMinorUnits(balance.pending),
      available: formatSignedMinorUnits(balance.available),
    },
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

/** The fields every transfer answer shares. */
function transferFieldsView(fields: TransferFields) {
  return {
    id: fields.id,
    kind: fields.kind,
    debit_account_id: fields.debitAccountId,
    credit_account_id: fields.creditAccountId,
    amount: fields.amount === null ? null : formatMinorUnits(fields.amount),
    currency: fields.currency,
    metadata: fields.metadata,
    accepted_at: fields.acceptedAt,
    timeout_s: fields.timeoutS,
    pending_id: fields.pendingId,
    reverses: fields.reversesId,
  };
}

export function transferAcceptedView(transfer: LedgerCommand): TransferAcceptedResponse {
  return { ...transferFieldsView(transferFieldsOf(transfer)), status: 'queued' };
}

export function transferView(status: TransferStatus): TransferResponse {
  const { hold } = status;
  return {
    ...transferFieldsView(status),
    status: status.status,
    reason: status.reason,
    processed_at: status.processedAt,
    pending:
      hold === null
        ? null
        : {
            expires_at: hold.expiresAt,
            posted_amount: hold.postedAmount === null ? null : formatMinorUnits(hold.postedAmount),
            resolved_by: hold.resolvedBy,
            resolved_at: hold.resolvedAt,
          },
    reversed_amount: formatMinorUnits(status.reversedAmount),
    reversals: status.reversals.map((reversal) => ({
      id: reversal.id,
      amount: formatMinorUnits(reversal.amount),
      processed_at: reversal.processedAt,
    })),
    timeline: status.timeline.map((step) => ({ step: step.step, at: step.at })),
    fraud: { status: status.fraud.status, score: status.fraud.score, reasons: [...status.fraud.reasons] },
    dead_letter:
      status.deadLetter === null
        ? null
        : { at: status.deadLetter.at, receive_count: status.deadLetter.receiveCount },
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

/** The problem of a batch item a velocity window refused, as the single route would answer it. */
export interface BatchItemProblem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly field?: string;
}

/**
 * A batch's answer: per item, in order, its transfer id when queued, or its problem. `invalid`
 * holds the validation problem of each invalid item (by index); `refusal` words a velocity refusal.
 */
export function transferBatchView(
  result: BatchResult,
  atomic: boolean,
  invalid: ReadonlyMap<number, BatchItemProblem>,
  refusal: (
    index: number,
    outcome: Extract<BatchResult['items'][number], { kind: 'velocity_exceeded' }>,
  ) => BatchItemProblem,
): TransferBatchResponse {
  const items = result.items.map((item, index): TransferBatchResponse['items'][number] => {
    if (item.kind === 'queued') return { index, status: 'queued', id: item.transferId };
    if (item.kind === 'velocity_exceeded') {
      return {
        index,
        status: 'refused',
        problem: refusal(index, item),
        retry_after_s: item.retryAfterS ?? null,
      };
    }
    if (item.kind === 'linked_transfer_failed') {
      return {
        index,
        status: 'refused',
        problem: {
          type: `${problemTypeBase}linked_transfer_failed`,
          title: 'Linked transfer failed (linked_transfer_failed)',
          status: 422,
          detail: `transfers.${index}: another transfer of this atomic batch was refused, so this one was too; nothing of the batch was queued`,
          field: `transfers.${index}`,
        },
      };
    }
    // A replay after a deploy that changed validation may find the item valid now: it was not.
    const problem = invalid.get(index) ?? {
      type: `${problemTypeBase}validation`,
      title: 'Invalid request',
      status: 400,
      detail: `transfers.${index}: was invalid when this batch was first submitted`,
      field: `transfers.${index}`,
    };
    return { index, status: 'refused', problem };
  });
  const queuedCount = items.filter((item) => item.status === 'queued').length;
  return {
    batch_id: result.batchId ?? null,
    atomic,
    accepted_at: result.acceptedAt ?? null,
    queued_count: queuedCount,
    refused_count: items.length - queuedCount,
    items,
  };
}
