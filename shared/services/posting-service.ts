import { parseQueuedPosting } from '../domain/atomic-set';
import type { TransferResult } from '../domain/results';
import type { LedgerCommand, TransferCommand } from '../domain/transfer';
import { InvalidDataError, isTransient } from '../errors';
import type { LedgerStore, PoisonRecord } from '../ports/ledger-store';
import type { Logger } from '../ports/logger';

/** One queue record as the posting service sees it, whatever queue delivered it. */
export interface QueuedRecord {
  readonly messageId: string;
  readonly messageGroupId: string;
  readonly body: string;
}

/** What became of one record. `failed` records go back to the queue; the rest are done. */
export type RecordOutcome =
  | { readonly kind: 'decided'; readonly result: TransferResult }
  /** An atomic set's record: one result per leg, in set order. */
  | { readonly kind: 'decided_set'; readonly results: readonly TransferResult[] }
  | { readonly kind: 'poison'; readonly reason: string }
  | { readonly kind: 'failed'; readonly error: unknown };

/** The most records one batch may hold: SQS FIFO event source mappings deliver at most 10. */
export const recordCountMax = 10;

type ParsedRecord =
  | { readonly record: QueuedRecord; readonly transfer: LedgerCommand }
  | { readonly record: QueuedRecord; readonly poison: PoisonRecord };

/** A record that holds an atomic set. */
interface SetRecord {
  readonly record: QueuedRecord;
  readonly legs: readonly TransferCommand[];
}

/**
 * Posts batches of queued transfer records.
 *
 * The batch posts in one transaction; a record holding an atomic set posts in a transaction of
 * its own, all legs or none, in message order with the rest (`postInSegments`). Records that can never post (bad JSON, bad shape) are
 * recorded as poison in that same transaction and not retried. When the transaction fails for a
 * reason that may pass, every record fails and the queue redelivers the batch. When it fails for a
 * reason that will not pass, the records are posted one by one in order to isolate the culprit,
 * with FIFO semantics: after a record fails, every later record of its message group fails too.
 */
export class PostingService {
  public constructor(
    private readonly store: LedgerStore,
    private readonly logger: Logger,
  ) {}

  /**
   * Posts the records and says, for each in order, what became of it. `receivedAt` is when the
   * consumer received them, kept as their pickup time.
   */
  public async postRecords(
    records: readonly QueuedRecord[],
    receivedAt = new Date(),
  ): Promise<RecordOutcome[]> {
    if (records.length > recordCountMax) {
      throw new RangeError(`a batch holds at most ${recordCountMax} records, got ${records.length}`);
    }
    const parsed = records.map(parseRecord);
    for (const item of parsed) {
      if ('poison' in item) {
        this.logger.warn('poison record refused', {
          messageId: item.record.messageId,
          reason: item.poison.reason,
        });
      }
    }
    if (parsed.some((item) => 'legs' in item)) return this.postInSegments(parsed, receivedAt);
    return this.postPlain(parsed as ParsedRecord[], receivedAt);
  }

  /**
   * Posts records that hold atomic sets among others, in message order: each run of records
   * without a set in one transaction, as a batch without sets is, and each set in a transaction
   * of its own. After a record fails, every later record of its message group fails too.
   */
  private async postInSegments(
    parsed: readonly (ParsedRecord | SetRecord)[],
    receivedAt: Date,
  ): Promise<RecordOutcome[]> {
    const outcomes: RecordOutcome[] = [];
    const failedGroups = new Set<string>();
    let run: ParsedRecord[] = [];
    const settle = (
      items: readonly (ParsedRecord | SetRecord)[],
      settled: readonly RecordOutcome[],
    ): void => {
      settled.forEach((outcome, index) => {
        const group = items[index]?.record.messageGroupId;
        if (outcome.kind === 'failed' && group !== undefined) failedGroups.add(group);
        outcomes.push(outcome);
      });
    };
    const flushRun = async (): Promise<void> => {
      if (run.length === 0) return;
      const held = run.filter((item) => failedGroups.has(item.record.messageGroupId));
      const posted = run.filter((item) => !failedGroups.has(item.record.messageGroupId));
      const postedOutcomes = posted.length === 0 ? [] : await this.postPlain(posted, receivedAt);
      const byItem = new Map<ParsedRecord, RecordOutcome>();
      posted.forEach((item, index) => {
        const outcome = postedOutcomes[index];
        if (outcome !== undefined) byItem.set(item, outcome);
      });
      for (const item of held) byItem.set(item, heldBack());
      const items = run;
      run = [];
      settle(
        items,
        items.map((item) => byItem.get(item) ?? heldBack()),
      );
    };
    for (const item of parsed) {
      if (!('legs' in item)) {
        run.push(item);
        continue;
      }
      await flushRun();
      settle(
        [item],
        [
          failedGroups.has(item.record.messageGroupId)
            ? heldBack()
            : await this.postSetRecord(item, receivedAt),
        ],
      );
    }
    await flushRun();
    return outcomes;
  }

  /**
   * Posts one atomic set in its own transaction. A set whose data the database refuses can never
   * post, so it is recorded as poison.
   */
  private async postSetRecord(item: SetRecord, receivedAt: Date): Promise<RecordOutcome> {
    try {
      const { results } = await this.store.postSet(item.legs, receivedAt);
      if (results.length !== item.legs.length) throw new Error('the store returned one result per leg');
      return { kind: 'decided_set', results };
    } catch (error) {
      if (!(error instanceof InvalidDataError)) {
        this.logger.warn('atomic set failed and will be redelivered', {
          messageId: item.record.messageId,
          legCount: item.legs.length,
          error,
        });
        return { kind: 'failed', error };
      }
      const reason = `the database refused the data: ${error.message}`;
      this.logger.warn('poison record refused', { messageId: item.record.messageId, reason });
      try {
        await this.store.postBatch(
          [],
          [{ messageId: item.record.messageId, body: item.record.body, reason }],
        );
      } catch (poisonError) {
        return { kind: 'failed', error: poisonError };
      }
      return { kind: 'poison', reason };
    }
  }

  /** Posts records without atomic sets together, falling back to one by one (see the class). */
  private async postPlain(parsed: readonly ParsedRecord[], receivedAt: Date): Promise<RecordOutcome[]> {
    const records = parsed.map((item) => item.record);
    try {
      return await this.postTogether(parsed, receivedAt);
    } catch (error) {
      if (isTransient(error)) {
        this.logger.warn('batch failed and will be redelivered', { recordCount: records.length, error });
        return parsed.map(() => ({ kind: 'failed', error }));
      }
      this.logger.error('batch failed; posting its records one by one', {
        recordCount: records.length,
        error,
      });
      return this.postOneByOne(parsed, receivedAt);
    }
  }

  private async postTogether(parsed: readonly ParsedRecord[], receivedAt: Date): Promise<RecordOutcome[]> {
    const transfers: LedgerCommand[] = [];
    const poison: PoisonRecord[] = [];
    for (const item of parsed) {
      if ('transfer' in item) transfers.push(item.transfer);
      else poison.push(item.poison);
    }
    const { results } = await this.store.postBatch(transfers, poison, receivedAt);
    let next = 0;
    return parsed.map((item): RecordOutcome => {
      if ('poison' in item) return { kind: 'poison', reason: item.poison.reason };
      const result = results[next];
      next += 1;
      if (result === undefined) throw new Error('the store returned fewer results than transfers');
      return { kind: 'decided', result };
    });
  }

  private async postOneByOne(parsed: readonly ParsedRecord[], receivedAt: Date): Promise<RecordOutcome[]> {
    const failedGroups = new Set<string>();
    const outcomes: RecordOutcome[] = [];
    for (const item of parsed) {
      if (failedGroups.has(item.record.messageGroupId)) {
        outcomes.push({ kind: 'failed', error: new Error('an earlier record of this message group failed') });
        continue;
      }
      try {
        outcomes.push(await this.postAlone(item, receivedAt));
      } catch (error) {
        this.logger.error('record failed', { messageId: item.record.messageId, error });
        failedGroups.add(item.record.messageGroupId);
        outcomes.push({ kind: 'failed', error });
      }
    }
    return outcomes;
  }

  /**
   * Posts one record. A record whose data the database refuses (a value its types cannot hold)
   * can never post, so it is recorded as poison like a record with a bad shape.
   */
  private async postAlone(item: ParsedRecord, receivedAt: Date): Promise<RecordOutcome> {
    try {
      const [outcome] = await this.postTogether([item], receivedAt);
      if (outcome === undefined) throw new Error('the store returned no outcome');
      return outcome;
    } catch (error) {
      if (!(error instanceof InvalidDataError) || !('transfer' in item)) throw error;
      const reason = `the database refused the data: ${error.message}`;
      this.logger.warn('poison record refused', { messageId: item.record.messageId, reason });
      await this.store.postBatch([], [{ messageId: item.record.messageId, body: item.record.body, reason }]);
      return { kind: 'poison', reason };
    }
  }
}

function parseRecord(record: QueuedRecord): ParsedRecord | SetRecord {
  const parsed = parseQueuedPosting(record.body);
  if (!parsed.ok) {
    return { record, poison: { messageId: record.messageId, body: record.body, reason: parsed.reason } };
  }
  return parsed.value.kind === 'transfer'
    ? { record, transfer: parsed.value.transfer }
    : { record, legs: parsed.value.legs };
}

/** The outcome of a record held back because an earlier record of its message group failed. */
function heldBack(): RecordOutcome {
  return { kind: 'failed', error: new Error('an earlier record of this message group failed') };
}
