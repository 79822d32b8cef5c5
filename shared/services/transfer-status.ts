/**
 * Where a transfer is: recorded in the ledger (posted or rejected, and whether its event has
 * left through the outbox), or accepted by the API and still in the queue, or unknown. The
 * ledger is the truth: a transfer it holds is answered from it; the API's own record of the
 * request only answers for transfers the consumer has not reached yet.
 */

import type { TimelineStep } from '../api/schemas';
import type { TransferId } from '../domain/ids';
import type { RejectionReason } from '../domain/results';
import type { TransferCommand } from '../domain/transfer';
import type { Logger } from '../ports/logger';

/** A transfer as the ledger recorded it. */
export interface RecordedTransfer {
  readonly transfer: TransferCommand;
  readonly status: 'posted' | 'rejected';
  readonly reason: RejectionReason | null;
  readonly processedAt: string;
  /** When the consumer received the batch that decided it (null for rows older than the column). */
  readonly pickedUpAt: string | null;
  /** When its event was written to the outbox, in the transaction that recorded it. */
  readonly outboxWrittenAt: string | null;
  /** When its event was published to the bus, or null while it waits in the outbox. */
  readonly eventPublishedAt: string | null;
}

/** A transfer the API accepted and sent to the queue. */
export interface QueuedTransfer {
  readonly transfer: TransferCommand;
  readonly queuedAt: string;
}

/**
 * The ledger's transfers. `findTransfer` returns the recorded transfer, or undefined when the
 * ledger has none with that id; throws `TransientError` when the database is unavailable.
 */
export interface TransferLedgerReader {
  findTransfer(id: TransferId): Promise<RecordedTransfer | undefined>;
}

/**
 * The API's record of accepted transfers (kept for a bounded time). `findQueued` returns it, or
 * undefined when there is none (never accepted, or expired); throws `TransientError` when the
 * store is unavailable.
 */
export interface QueuedTransferReader {
  findQueued(id: TransferId): Promise<QueuedTransfer | undefined>;
}

export interface TransferStatus {
  readonly transfer: TransferCommand;
  readonly status: 'queued' | 'posted' | 'rejected';
  readonly reason: RejectionReason | null;
  readonly processedAt: string | null;
  /** The steps the transfer went through, in the order they happen. */
  readonly timeline: readonly { readonly step: TimelineStep; readonly at: string }[];
}

export class TransferStatusService {
  public constructor(
    private readonly ledger: TransferLedgerReader,
    private readonly queued: QueuedTransferReader,
    private readonly logger: Logger,
  ) {}

  /**
   * Reads both records at once (the queue record gives the timeline its `queued` step even after
   * posting); the ledger's answer wins. Undefined when neither knows the id.
   *
   * A transfer the ledger holds is answered even when the queue record cannot be read (its
   * timeline then lacks the `queued` step); otherwise a failed read throws, as the answer would
   * be a guess.
   */
  public async find(id: TransferId): Promise<TransferStatus | undefined> {
    const [ledgerRead, queueRead] = await Promise.allSettled([
      this.ledger.findTransfer(id),
      this.queued.findQueued(id),
    ]);
    if (ledgerRead.status === 'rejected') throw ledgerRead.reason;
    const recorded = ledgerRead.value;
    if (queueRead.status === 'rejected') {
      if (recorded === undefined) throw queueRead.reason;
      this.logger.warn('queued transfer record unreadable; answering from the ledger alone', {
        transferId: id,
        error: queueRead.reason,
      });
    }
    const queued = queueRead.status === 'fulfilled' ? queueRead.value : undefined;
    if (recorded !== undefined) {
      const timeline: { step: TimelineStep; at: string }[] = [
        { step: 'accepted', at: recorded.transfer.acceptedAt },
      ];
      if (queued !== undefined) timeline.push({ step: 'queued', at: queued.queuedAt });
      if (recorded.pickedUpAt !== null) timeline.push({ step: 'picked_up', at: recorded.pickedUpAt });
      timeline.push({ step: recorded.status, at: recorded.processedAt });
      if (recorded.outboxWrittenAt !== null) {
        timeline.push({ step: 'outbox_written', at: recorded.outboxWrittenAt });
      }
      if (recorded.eventPublishedAt !== null) {
        timeline.push({ step: 'event_published', at: recorded.eventPublishedAt });
      }
      return {
        transfer: recorded.transfer,
        status: recorded.status,
        reason: recorded.reason,
        processedAt: recorded.processedAt,
        timeline,
      };
    }
    if (queued !== undefined) {
      return {
        transfer: queued.transfer,
        status: 'queued',
        reason: null,
        processedAt: null,
        timeline: [
          { step: 'accepted', at: queued.transfer.acceptedAt },
          { step: 'queued', at: queued.queuedAt },
        ],
      };
    }
    return undefined;
  }
}
