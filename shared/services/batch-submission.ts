/**
 * Submitting a batch of transfers under one idempotency key (`POST /v1/transfers/batch`): each
 * valid item is admitted by its debit account's velocity window and queued under its own
 * transfer id; the answer says, per item and in order, what became of it. A bad item never
 * refuses the rest: invalid items are answered by the caller's validation, and an item its
 * window refuses is answered `velocity_exceeded` while the others go on.
 *
 * An attempt under the key runs in three steps, so that a retry under the same key completes a
 * batch that failed part-way without counting or queueing anything twice:
 *
 * 1. **Admit.** Each debit account's items are admitted in their batch order with one conditional
 *    write per account (`admitSeveral`). If any account's admission fails (the window
 *    unavailable, or contended past its bound), the slots already counted are given back, nothing
 *    is sent, and the attempt fails: the client's retry decides admission afresh.
 * 2. **Record.** The decision (which items are admitted, which refused and why) is written under
 *    the key before anything is sent. A later attempt under the key reads it back and skips step
 *    1, so its items are never counted twice and an item admitted once is never refused later.
 *    If this write surely failed, the slots are given back; if its outcome is unknown, they are
 *    kept (a retry may find the decision and send).
 * 3. **Send.** Every admitted item is sent, ten per SQS call. If some were not (or may not have
 *    been) queued, the attempt fails with the decision kept: the retry sends every admitted item
 *    again under the same ids, and the queue drops the duplicates (the ledger's transfer id
 *    answers `exists` after the queue's five minutes).
 *
 * **Atomic batches** (`atomic: true`, at most `atomicSetLegCountMax` items) are all or nothing
 * at every step: an invalid item refuses the batch (the others answer `linked_transfer_failed`,
 * and nothing is touched); an item its window refuses gives every slot back and refuses the batch
 * the same way; otherwise the items travel as one message (`sendSet`) and post in one database
 * transaction, all or none.
 *
 * Item `i`'s transfer id is derived from the id the key reserved (`batchTransferId`), so every
 * attempt sends the same ids. The stored answer is the recorded decision: once every admitted
 * item is queued, "admitted" reads "queued".
 */
import { atomicSetLegCountMax, atomicSetMessageBytesMax, toAtomicSetMessage } from '../domain/atomic-set';
import {
  type BatchAnswer,
  type BatchItemOutcome,
  batchTransferId,
  decodeBatchAnswer,
  encodeBatchAnswer,
} from '../domain/batch';
import { type AccountId, parseTransferId, type TransferId } from '../domain/ids';
import { formatMinorUnits } from '../domain/money';
import type { TransferCommand } from '../domain/transfer';
import {
  AtomicSetTooLargeError,
  type BatchIdempotencyGuard,
  type BatchVelocityAdmission,
  ProgressNotRecordedError,
  type ProgressRecorder,
  type SeveralSlot,
  type TransferBatchQueue,
} from '../ports/batch-submission';
import type { Logger } from '../ports/logger';
import { cleanupCallTimeoutMs, type RequestKey, type Reservation } from '../ports/submission';
import type { TransferRequest } from './transfer-submission';

/**
 * How long a batch submission may run: the batch function's timeout. API Gateway gives an
 * integration 29 s; 25 s leaves it time to answer. An attempt holds its key that long.
 */
export const batchSubmissionTimeoutMs = 25_000;

/** The submission's calls end this long before its timeout: time to clean up and answer. */
export const batchSubmissionAnswerMarginMs = 2_500;

/** Debit accounts whose windows are written at once. */
export const admissionAccountConcurrencyMax = 16;

/** One item of a batch as the API validated it. */
export type BatchItemRequest =
  | { readonly kind: 'valid'; readonly transfer: TransferRequest }
  /** `input` is the item as sent: its hash tells this batch from another under the same key. */
  | { readonly kind: 'invalid'; readonly input: unknown };

/** What became of one item: its outcome, and its transfer when it was queued. */
export type BatchItemResult =
  | { readonly kind: 'queued'; readonly transferId: TransferId }
  | Exclude<BatchItemOutcome, { readonly kind: 'queued' }>;

/** The answer to a batch. */
export interface BatchResult {
  /** Item 0's transfer id, which names the batch; undefined when no item could be submitted. */
  readonly batchId: TransferId | undefined;
  /** When the key's first attempt was accepted; undefined when no item could be submitted. */
  readonly acceptedAt: string | undefined;
  readonly items: readonly BatchItemResult[];
}

/** How a batch is submitted. */
export interface BatchOptions {
  /** All items post together or none do (see the module's comment). */
  readonly atomic: boolean;
}

/** A fixed id and time of the real ones' lengths, to measure a set's message before ids exist. */
const placeholderId = batchTransferId(
  parseTransferId('00000000-0000-7000-8000-000000000000') ??
    (() => {
      throw new Error('assertion failed: the placeholder id is a UUID');
    })(),
  0,
);
const placeholderAcceptedAt = new Date(0).toISOString();

export interface TransferBatchSubmissionOptions {
  /** How long one submission's calls may take, all together (see `TransferSubmissionOptions`). */
  readonly budgetMs: number;
  readonly guard: BatchIdempotencyGuard;
  readonly velocity: BatchVelocityAdmission;
  readonly queue: TransferBatchQueue;
  readonly logger: Logger;
}

export class TransferBatchSubmission {
  public constructor(private readonly options: TransferBatchSubmissionOptions) {}

  /**
   * Submits a batch under a key and answers per item, in order: the same answer for every repeat
   * of the same request. A batch without a valid item is answered at once and touches nothing.
   *
   * Throws what the guard throws (`SubmissionInProgressError`, `IdempotencyKeyReusedError`,
   * `IdempotencyStoreUnavailableError`); `TransferBatchNotQueuedError` when some admitted items
   * may not be queued (a retry under the key completes the batch); another `TransientError` when
   * nothing was queued.
   */
  public async submit(
    key: RequestKey,
    items: readonly BatchItemRequest[],
    options: BatchOptions = { atomic: false },
  ): Promise<BatchResult> {
    if (items.every((item) => item.kind === 'invalid')) {
      return { batchId: undefined, acceptedAt: undefined, items: items.map(() => ({ kind: 'invalid' })) };
    }
    if (options.atomic) {
      if (items.length > atomicSetLegCountMax) {
        throw new Error(`assertion failed: an atomic batch holds at most ${atomicSetLegCountMax} items`);
      }
      // One invalid item refuses the set: answered at once, nothing touched, as invalid items are.
      if (items.some((item) => item.kind === 'invalid')) {
        return {
          batchId: undefined,
          acceptedAt: undefined,
          items: items.map((item) =>
            item.kind === 'invalid' ? { kind: 'invalid' } : { kind: 'linked_transfer_failed' },
          ),
        };
      }
      const bytes = Buffer.byteLength(
        toAtomicSetMessage(
          items.map((item) => ({
            ...validTransfer(item),
            id: placeholderId,
            acceptedAt: placeholderAcceptedAt,
          })),
        ),
      );
      if (bytes > atomicSetMessageBytesMax) throw new AtomicSetTooLargeError(bytes, atomicSetMessageBytesMax);
    }
    const signal = AbortSignal.timeout(this.options.budgetMs);
    const stored = await this.options.guard.run(
      key,
      canonicalBody(items, options),
      (reservation, progress) => this.submitOnce(items, options, reservation, progress, signal),
      signal,
    );
    const answer = decodeBatchAnswer(stored);
    if (answer === undefined || answer.outcomes.length !== items.length) {
      throw new Error('assertion failed: a stored batch answer has one outcome per item');
    }
    return {
      batchId: batchTransferId(answer.reservedId, 0),
      acceptedAt: answer.acceptedAt,
      items: answer.outcomes.map((outcome, index) =>
        outcome.kind === 'queued'
          ? { kind: 'queued', transferId: batchTransferId(answer.reservedId, index) }
          : outcome,
      ),
    };
  }

  /** One attempt under the key, with the id and progress the guard reserved for it. */
  private async submitOnce(
    items: readonly BatchItemRequest[],
    options: BatchOptions,
    reservation: Reservation,
    progress: ProgressRecorder,
    signal: AbortSignal,
  ): Promise<string> {
    let decided: BatchAnswer;
    if (reservation.progress !== undefined) {
      const recorded = decodeBatchAnswer(reservation.progress);
      if (
        recorded === undefined ||
        recorded.outcomes.length !== items.length ||
        recorded.reservedId !== reservation.transferId
      ) {
        throw new Error('assertion failed: the recorded progress is this batch');
      }
      decided = recorded;
    } else {
      const { outcomes, slots } = await this.admitAll(items, signal);
      decided = { reservedId: reservation.transferId, acceptedAt: reservation.acceptedAt, outcomes };
      if (options.atomic && outcomes.some((outcome) => outcome.kind !== 'queued')) {
        // A window refused an item of the set: the set is refused whole, and nothing is counted.
        await this.giveBack(slots);
        return encodeBatchAnswer({
          ...decided,
          outcomes: outcomes.map((outcome) =>
            outcome.kind === 'queued' ? { kind: 'linked_transfer_failed' } : outcome,
          ),
        });
      }
      if (slots.length > 0) {
        try {
          await progress.record(encodeBatchAnswer(decided), signal);
        } catch (error) {
          // Surely not recorded: nothing can be sent under this decision, so its slots go back.
          // Otherwise a retry may find it and send, and the slots must stay counted.
          if (error instanceof ProgressNotRecordedError) await this.giveBack(slots);
          throw error;
        }
      }
    }
    const transfers: TransferCommand[] = [];
    decided.outcomes.forEach((outcome, index) => {
      const item = items[index];
      if (outcome.kind !== 'queued') return;
      if (item?.kind !== 'valid') throw new Error('assertion failed: only a valid item is admitted');
      transfers.push({
        id: batchTransferId(decided.reservedId, index),
        ...validTransfer(item),
        acceptedAt: decided.acceptedAt,
      });
    });
    if (options.atomic) {
      if (transfers.length !== items.length) throw new Error('assertion failed: a set is queued whole');
      await this.options.queue.sendSet(transfers, signal);
    } else if (transfers.length > 0) {
      await this.options.queue.sendAll(transfers, signal);
    }
    this.options.logger.info('transfer batch queued', {
      itemCount: items.length,
      queuedCount: transfers.length,
      atomic: options.atomic,
      resumed: reservation.progress !== undefined,
    });
    return encodeBatchAnswer(decided);
  }

  /**
   * Admits every valid item by its debit account's window, each account's items in batch order.
   * All or nothing: if any account fails, every slot counted is given back and the error thrown.
   */
  private async admitAll(
    items: readonly BatchItemRequest[],
    signal: AbortSignal,
  ): Promise<{ outcomes: BatchItemOutcome[]; slots: SeveralSlot[] }> {
    const byAccount = new Map<AccountId, { indexes: number[]; amounts: bigint[] }>();
    items.forEach((item, index) => {
      if (item.kind !== 'valid') return;
      const account = byAccount.get(item.transfer.debitAccountId) ?? { indexes: [], amounts: [] };
      account.indexes.push(index);
      account.amounts.push(item.transfer.amount);
      byAccount.set(item.transfer.debitAccountId, account);
    });
    const outcomes: BatchItemOutcome[] = items.map(() => ({ kind: 'invalid' }));
    const slots: SeveralSlot[] = [];
    const settled = await mapBounded(
      [...byAccount],
      admissionAccountConcurrencyMax,
      async ([accountId, account]) => {
        const admitted = await this.options.velocity.admitSeveral(accountId, account.amounts, signal);
        if (admitted.slot !== undefined) slots.push(admitted.slot);
        admitted.decisions.forEach((decision, position) => {
          const index = account.indexes[position];
          if (index === undefined) throw new Error('assertion failed: one decision per item of the account');
          outcomes[index] =
            decision.kind === 'admitted'
              ? { kind: 'queued' }
              : {
                  kind: 'velocity_exceeded',
                  limit: decision.limit,
                  retryAfterS: decision.retryAfterS,
                  windowS: admitted.limits.windowS,
                  transferCountMax: admitted.limits.transferCountMax,
                  amountMax: admitted.limits.amountMax,
                };
        });
      },
    );
    const failure = settled.find((result) => result.status === 'rejected');
    if (failure !== undefined) {
      await this.giveBack(slots);
      throw failure.reason;
    }
    return { outcomes, slots };
  }

  /**
   * Gives back the slots of items that were surely not sent. Best effort: a slot not given back
   * counts until its window closes, which refuses early at worst.
   */
  private async giveBack(slots: readonly SeveralSlot[]): Promise<void> {
    // Their own deadline: the submission's budget may be spent by now.
    const deadline = AbortSignal.timeout(cleanupCallTimeoutMs);
    const settled = await mapBounded(slots, admissionAccountConcurrencyMax, (slot) =>
      this.options.velocity.releaseSeveral(slot, deadline),
    );
    settled.forEach((result, index) => {
      if (result.status === 'fulfilled') return;
      const slot = slots[index];
      this.options.logger.warn(
        'velocity slots of an unsent batch not given back; they count until their window closes',
        {
          debitAccountId: slot?.debitAccountId,
          transferCount: slot?.transferCount,
          error: result.reason,
        },
      );
    });
  }
}

/**
 * How deep an invalid item is hashed as it was sent. JSON.parse reads any depth, but hashing the
 * request walks it recursively, and an item nested some thousands deep overflowed the stack (the
 * batch answered 503 instead of refusing the item). Below this depth an invalid item is hashed as
 * a marker, so two requests whose invalid items differ only deeper than this count as one under a
 * key: a repeat of either answers the same, each such item refused alike.
 */
export const invalidItemHashDepthMax = 32;

/** The request as its hash sees it: `value` cut at `depthLeft` containers deep. */
function boundedInput(value: unknown, depthLeft: number): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (depthLeft === 0) return '(nested deeper than the hash reads)';
  if (Array.isArray(value)) return value.map((element) => boundedInput(element, depthLeft - 1));
  return Object.fromEntries(
    Object.entries(value).map(([key, element]) => [key, boundedInput(element, depthLeft - 1)]),
  );
}

/**
 * The request as its hash sees it: each valid item in the canonical form a single submission is
 * hashed in (amounts as decimal strings), each invalid one as it was sent (to a bounded depth).
 */
function canonicalBody(items: readonly BatchItemRequest[], options: BatchOptions): unknown {
  const transfers = items.map((item) =>
    item.kind === 'invalid'
      ? { invalid: boundedInput(item.input, invalidItemHashDepthMax) }
      : {
          debit_account_id: item.transfer.debitAccountId,
          credit_account_id: item.transfer.creditAccountId,
          amount: formatMinorUnits(item.transfer.amount),
          currency: item.transfer.currency,
          metadata: item.transfer.metadata,
        },
  );
  // An atomic batch is another request than the same items without it.
  return options.atomic ? { atomic: true, transfers } : transfers;
}

/**
 * A valid item's transfer, plain: a batch refuses pending items (the schema names them), so
 * there is no hold to carry. Anything else is a bug.
 */
function validTransfer(item: BatchItemRequest): Omit<TransferRequest, 'pending'> {
  if (item.kind !== 'valid') throw new Error('assertion failed: the item is valid');
  const { pending, ...plain } = item.transfer;
  if (pending !== undefined) throw new Error('assertion failed: a batch item is no pending transfer');
  return plain;
}

/** Runs `work` on every value with at most `concurrencyMax` at once; settles them all. */
async function mapBounded<Value, Result>(
  values: readonly Value[],
  concurrencyMax: number,
  work: (value: Value) => Promise<Result>,
): Promise<PromiseSettledResult<Result>[]> {
  const results: PromiseSettledResult<Result>[] = new Array(values.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < values.length) {
      const index = next;
      next += 1;
      try {
        results[index] = { status: 'fulfilled', value: await work(values[index] as Value) };
      } catch (reason) {
        results[index] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrencyMax, values.length) }, worker));
  return results;
}
