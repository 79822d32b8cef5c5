/**
 * Keeps a dead-lettered transfer visible: when a transfer's message fails its last delivery (SQS
 * moves it to the dead-letter queue at its next receive), the API's record of the queued transfer
 * is noted, so GET /v1/transfers/{id} answers that it waits there rather than "queued" forever.
 */
import { parseTransferMessage } from '../domain/transfer';
import type { Logger } from '../ports/logger';
import type { DeadLetterNotes } from '../ports/transfer-status';

/** A queue record as this service reads it. */
export interface DeadLetterRecord {
  readonly messageId: string;
  readonly body: string;
  readonly receiveCount: number;
}

export class DeadLetterService {
  public constructor(
    private readonly notes: DeadLetterNotes,
    private readonly logger: Logger,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /**
   * Notes the transfers of records that failed their last delivery. A body that is not a transfer
   * message is skipped: it is no transfer anyone can ask about (and the posting service records
   * such bodies as poison before they could fail at all). Throws when the notes cannot be written.
   */
  public async noteRecords(records: readonly DeadLetterRecord[]): Promise<{ readonly notedCount: number }> {
    const at = this.now().toISOString();
    const notes = records.flatMap((record) => {
      const parsed = parseTransferMessage(record.body);
      return parsed.ok ? [{ transferId: parsed.value.id, at, receiveCount: record.receiveCount }] : [];
    });
    if (notes.length === 0) return { notedCount: 0 };
    const outcome = await this.notes.noteDeadLettered(notes);
    this.logger.error('transfers dead-lettered: they wait in the dead-letter queue for a redrive', {
      transferIds: notes.map((note) => note.transferId),
      notedCount: outcome.notedCount,
    });
    return outcome;
  }
}
