/**
 * Asynchronous fraud checks of posted transfers, fed by EventBridge through SQS: the scorer (each
 * transfer against its debit account's learned profile) and the pattern listener (the account's
 * transfers over a window). Both are idempotent per event id and flag without blocking: a flag is
 * a verdict plus a `transfer.flagged` event in the ledger's outbox, written in one transaction.
 */

import { z } from 'zod';
import {
  detectPatterns,
  type FraudSettings,
  patternWindowS,
  type ScoredTransfer,
  scoreAgainstProfile,
  type WindowTransfer,
} from '../domain/fraud';
import { parseMinorUnits } from '../domain/money';
import type { ParseResult } from '../domain/transfer';
import { isTransient } from '../errors';
import type {
  FraudFlag,
  FraudPatternStore,
  FraudScoreStore,
  FraudVerdict,
  FraudVerdictReader,
} from '../ports/fraud';
import type { Logger } from '../ports/logger';

/** A `transfer.posted` event as the fraud listeners read it. */
export interface PostedEvent {
  readonly eventId: string;
  readonly transfer: ScoredTransfer;
}

const postedEnvelopeSchema = z.object({
  'detail-type': z.literal('transfer.posted'),
  detail: z.object({
    event_id: z.guid(),
    type: z.literal('transfer.posted'),
    transfer: z.looseObject({
      id: z.guid(),
      debit_account_id: z.guid(),
      credit_account_id: z.guid(),
      amount: z.string(),
      processed_at: z.string(),
    }),
  }),
});

/** Reads a `transfer.posted` delivery from an SQS body holding the EventBridge envelope. */
export function parsePostedEvent(body: string): ParseResult<PostedEvent> {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { ok: false, reason: 'body is not valid JSON' };
  }
  const parsed = postedEnvelopeSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return {
      ok: false,
      reason: `not a transfer.posted event: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`,
    };
  }
  const { event_id: eventId, transfer } = parsed.data.detail;
  const amount = parseMinorUnits(transfer.amount);
  if (amount === undefined || amount === 0n)
    return { ok: false, reason: 'detail.transfer.amount is not an amount' };
  const postedMs = Date.parse(transfer.processed_at);
  if (Number.isNaN(postedMs)) return { ok: false, reason: 'detail.transfer.processed_at is not a timestamp' };
  return {
    ok: true,
    value: {
      eventId,
      transfer: {
        transferId: transfer.id,
        debitAccountId: transfer.debit_account_id,
        creditAccountId: transfer.credit_account_id,
        amount,
        postedAt: new Date(postedMs).toISOString(),
      },
    },
  };
}

/** One queue record as the fraud listeners see it. */
export interface FraudRecord {
  readonly messageId: string;
  readonly body: string;
}

/** What became of one record: done (scored, checked or a duplicate), or failed (back to the queue). */
export type FraudRecordOutcome =
  | { readonly kind: 'done'; readonly duplicate: boolean }
  /** `transient`: the failure may pass (the database is down), so the record is worth waiting for. */
  | { readonly kind: 'failed'; readonly reason: string; readonly transient: boolean };

/** Runs each record on its own, so one bad record or failed write does not fail the batch. */
async function eachRecord(
  records: readonly FraudRecord[],
  logger: Logger,
  process: (event: PostedEvent) => Promise<boolean>,
): Promise<FraudRecordOutcome[]> {
  const outcomes: FraudRecordOutcome[] = [];
  for (const record of records) {
    const parsed = parsePostedEvent(record.body);
    if (!parsed.ok) {
      logger.error('not a transfer.posted event; it goes to the dead-letter queue', {
        messageId: record.messageId,
        reason: parsed.reason,
      });
      outcomes.push({ kind: 'failed', reason: parsed.reason, transient: false });
      continue;
    }
    try {
      outcomes.push({ kind: 'done', duplicate: await process(parsed.value) });
    } catch (error) {
      logger.warn('fraud check not stored; the event will be delivered again', {
        messageId: record.messageId,
        eventId: parsed.value.eventId,
        error,
      });
      outcomes.push({ kind: 'failed', reason: String(error), transient: isTransient(error) });
    }
  }
  return outcomes;
}

/** Scores posted transfers against their debit account's profile. */
export class FraudScoringService {
  public constructor(
    private readonly store: FraudScoreStore,
    private readonly settings: FraudSettings,
    private readonly logger: Logger,
  ) {}

  /** Scores one event; true when it was a duplicate. */
  public async score(event: PostedEvent): Promise<boolean> {
    const outcome = await this.store.scoreOnce(
      event.eventId,
      event.transfer,
      (profile, counterpartyTransferCount) =>
        scoreAgainstProfile(event.transfer, profile, counterpartyTransferCount, this.settings),
    );
    return outcome === 'duplicate';
  }

  public scoreRecords(records: readonly FraudRecord[]): Promise<FraudRecordOutcome[]> {
    return eachRecord(records, this.logger, (event) => this.score(event));
  }
}

/** Looks for fan-outs and structuring over each debit account's recent transfers. */
export class FraudPatternService {
  public constructor(
    private readonly store: FraudPatternStore,
    private readonly settings: FraudSettings,
    private readonly logger: Logger,
  ) {}

  /** Checks one event; true when it was a duplicate. */
  public async check(event: PostedEvent): Promise<boolean> {
    const current: WindowTransfer = {
      transferId: event.transfer.transferId,
      creditAccountId: event.transfer.creditAccountId,
      amount: event.transfer.amount,
      postedAt: event.transfer.postedAt,
    };
    const outcome = await this.store.checkOnce(
      event.eventId,
      event.transfer,
      patternWindowS(this.settings),
      (recent, firstPaidAt) => detectPatterns(current, recent, firstPaidAt, this.settings),
    );
    return outcome.kind === 'duplicate';
  }

  public checkRecords(records: readonly FraudRecord[]): Promise<FraudRecordOutcome[]> {
    return eachRecord(records, this.logger, (event) => this.check(event));
  }
}

// ---------------------------------------------------------------------------------------------
// Reading verdicts

export const pendingVerdict: FraudVerdict = { status: 'pending', score: null, reasons: [], scoredAt: null };

/** The paging bounds of the flags list. */
export interface FlagPaging {
  readonly pageSizeDefault: number;
  readonly pageSizeMax: number;
}

export class FraudFlagService {
  public constructor(
    private readonly reader: FraudVerdictReader,
    private readonly paging: FlagPaging,
  ) {}

  /** A page of flagged transfers, newest flag first. */
  public async listFlags(request: {
    readonly limit?: number;
    readonly beforeFlagId?: bigint;
  }): Promise<{ readonly flags: readonly FraudFlag[]; readonly nextBeforeFlagId: bigint | undefined }> {
    const limit = request.limit ?? this.paging.pageSizeDefault;
    if (!Number.isInteger(limit) || limit < 1 || limit > this.paging.pageSizeMax) {
      throw new RangeError(`a page holds 1 to ${this.paging.pageSizeMax} flags, got ${limit}`);
    }
    const page = await this.reader.listFlags({ limit, beforeFlagId: request.beforeFlagId });
    const last = page.flags.at(-1);
    return {
      flags: page.flags,
      nextBeforeFlagId: page.hasMore && last !== undefined ? last.flagId : undefined,
    };
  }
}
