/**
 * Where a transfer is: recorded in the ledger (posted, pending, voided or rejected, and whether
 * its event has left through the outbox; for a pending transfer, what became of its hold), or
 * accepted by the API and still in the queue, or unknown. The ledger is the truth: a transfer it
 * holds is answered from it; the API's own record of the request only answers for transfers the
 * consumer has not reached yet.
 */

import { batchTransferId, batchTransferIdRange } from '../domain/batch';
import type { TransferId } from '../domain/ids';
import type { RejectionReason } from '../domain/results';
import { type TimelineStep, type TransferFields, transferFieldsOf } from '../domain/transfer';
import type { FraudVerdict, FraudVerdictReader } from '../ports/fraud';
import type { Logger } from '../ports/logger';
import type {
  DeadLetterNote,
  Hold,
  QueuedTransfer,
  QueuedTransferReader,
  RecordedCounts,
  RecordedTransfer,
  Reversal,
  TransferLedgerReader,
} from '../ports/transfer-status';
import { pendingVerdict } from './fraud';

/**
 * A transfer's status: `queued` until the consumer decides it; then `posted`, `voided` or
 * `rejected` for good, or for a pending transfer `pending` until its hold is `posted`, `voided`
 * or `expired`.
 */
export type TransferStatusName = 'queued' | 'pending' | 'posted' | 'voided' | 'expired' | 'rejected';

export interface TransferStatus extends TransferFields {
  readonly status: TransferStatusName;
  readonly reason: RejectionReason | null;
  readonly processedAt: string | null;
  /** The steps the transfer went through, in the order they happen. */
  readonly timeline: readonly { readonly step: TimelineStep; readonly at: string }[];
  /** The fraud checks' verdict: pending until scored; a transfer that moved no money is clear. */
  readonly fraud: FraudVerdict;
  /**
   * Set while a queued transfer's message waits in the dead-letter queue (it failed every
   * delivery); null once the ledger has decided it, and for every transfer that was not.
   */
  readonly deadLetter: DeadLetterNote | null;
  /** A pending transfer's hold, once the ledger recorded it. */
  readonly hold: Hold | null;
  readonly reversals: readonly Reversal[];
  readonly reversedAmount: bigint;
}

/**
 * The fraud listeners score posted transfers only: one that was rejected, is a hold or a void
 * moved no money of its own and is clear.
 */
const unscoredVerdict: FraudVerdict = { status: 'clear', score: null, reasons: [], scoredAt: null };

/** The step that says what became of a hold. */
const holdSteps = {
  posted: 'pending_posted',
  voided: 'pending_voided',
  expired: 'pending_expired',
} as const satisfies Record<Exclude<Hold['status'], 'pending'>, TimelineStep>;

export class TransferStatusService {
  public constructor(
    private readonly ledger: TransferLedgerReader,
    private readonly queued: QueuedTransferReader,
    private readonly logger: Logger,
    private readonly fraud: Pick<FraudVerdictReader, 'findVerdict'>,
  ) {}

  /**
   * How many of a batch's transfers the ledger has recorded, by outcome; undefined when the id
   * cannot name a batch (a batch is named by its item 0's id, whose item bits are zero). The
   * client compares the sum with the batch's `queued_count`: the rest are still queued.
   */
  public async batchProgress(batchId: TransferId): Promise<RecordedCounts | undefined> {
    if (batchTransferId(batchId, 0) !== batchId) return undefined;
    const { first, last } = batchTransferIdRange(batchId);
    return this.ledger.countRecorded(first, last);
  }

  /**
   * Reads both records at once (the queue record gives the timeline its `queued` step even after
   * posting); the ledger's answer wins. Undefined when neither knows the id.
   *
   * A transfer the ledger holds is answered even when the queue record cannot be read (its
   * timeline then lacks the `queued` step); otherwise a failed read throws, as the answer would
   * be a guess.
   */
  public async find(id: TransferId): Promise<TransferStatus | undefined> {
    const [ledgerRead, queueRead, fraudRead] = await Promise.allSettled([
      this.ledger.findTransfer(id),
      this.queued.findQueued(id),
      this.fraud.findVerdict(id),
    ]);
    if (ledgerRead.status === 'rejected') throw ledgerRead.reason;
    if (fraudRead.status === 'rejected') throw fraudRead.reason;
    const verdict = fraudRead.value ?? pendingVerdict;
    const recorded = ledgerRead.value;
    if (queueRead.status === 'rejected') {
      if (recorded === undefined) throw queueRead.reason;
      this.logger.warn('queued transfer record unreadable; answering from the ledger alone', {
        transferId: id,
        error: queueRead.reason,
      });
    }
    const queued = queueRead.status === 'fulfilled' ? queueRead.value : undefined;
    if (recorded !== undefined) return recordedStatus(recorded, queued, verdict);
    if (queued !== undefined) {
      return {
        ...transferFieldsOf(queued.transfer),
        status: 'queued',
        reason: null,
        processedAt: null,
        timeline: [{ step: 'accepted', at: queued.transfer.acceptedAt }, ...apiSteps(queued)],
        fraud: pendingVerdict,
        deadLetter: queued.deadLetter ?? null,
        hold: null,
        reversals: [],
        reversedAmount: 0n,
      };
    }
    return undefined;
  }
}

function recordedStatus(
  recorded: RecordedTransfer,
  queued: QueuedTransfer | undefined,
  verdict: FraudVerdict,
): TransferStatus {
  const { status, reason, processedAt, hold, reversals, reversedAmount } = recorded;
  const timeline: { step: TimelineStep; at: string }[] = [{ step: 'accepted', at: recorded.acceptedAt }];
  if (queued !== undefined) timeline.push(...apiSteps(queued));
  if (recorded.pickedUpAt !== null) timeline.push({ step: 'picked_up', at: recorded.pickedUpAt });
  timeline.push({ step: status, at: processedAt });
  if (recorded.outboxWrittenAt !== null)
    timeline.push({ step: 'outbox_written', at: recorded.outboxWrittenAt });
  if (recorded.eventPublishedAt !== null) {
    timeline.push({ step: 'event_published', at: recorded.eventPublishedAt });
  }
  const scored = status === 'posted';
  if (scored && verdict.scoredAt !== null) timeline.push({ step: 'fraud_scored', at: verdict.scoredAt });
  if (hold !== null && hold.status !== 'pending' && hold.resolvedAt !== null) {
    timeline.push({ step: holdSteps[hold.status], at: hold.resolvedAt });
  }
  const {
    pickedUpAt: _pickedUpAt,
    outboxWrittenAt: _outboxWrittenAt,
    eventPublishedAt: _eventPublishedAt,
    ...fields
  } = recorded;
  return {
    ...fields,
    // A pending transfer's status is its hold's: pending, then posted, voided or expired.
    status: hold === null ? status : hold.status,
    reason,
    processedAt,
    timeline,
    fraud: scored ? verdict : unscoredVerdict,
    hold,
    reversals,
    reversedAmount,
    deadLetter: null,
  };
}

/** The steps the API recorded, in the order of `timelineSteps`. */
function apiSteps(queued: QueuedTransfer): { step: TimelineStep; at: string }[] {
  const steps: { step: TimelineStep; at: string }[] = [];
  if (queued.idempotencyCheckedAt !== undefined) {
    steps.push({ step: 'idempotency_checked', at: queued.idempotencyCheckedAt });
  }
  if (queued.velocityCheckedAt !== undefined) {
    steps.push({ step: 'velocity_checked', at: queued.velocityCheckedAt });
  }
  steps.push({ step: 'queued', at: queued.queuedAt });
  return steps;
}
