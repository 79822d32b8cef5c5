import {
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { atomicSetMessageBytesMax, toAtomicSetMessage } from '../../domain/atomic-set';
import { type TransferCommand, toTransferMessage } from '../../domain/transfer';
import { TransferBatchNotQueuedError, type TransferBatchQueue } from '../../ports/batch-submission';
import { callDeadline } from './call-deadline';

/** Entries SQS takes in one SendMessageBatch. */
export const sendBatchEntryCountMax = 10;
/**
 * Bytes of message bodies in one SendMessageBatch: 256 KiB, the bound every SQS queue (and the
 * local emulator) takes; newer queues take 1 MiB. A transfer's message is at most ~5 KB (4 KB of
 * metadata), so ten always fit, and the bound is checked rather than relied on.
 */
export const sendBatchBytesMax = 262_144;
/** SendMessageBatch calls in flight at once for one batch. */
export const sendLaneCountMax = 8;
/** Times the entries SQS refused in a call are sent again (in calls of their own) before giving up. */
export const refusedEntryRetryCountMax = 3;
/** Pause before resending refused entries: doubling from this, capped below. */
const refusedEntryBackoffBaseMs = 50;
const refusedEntryBackoffCapMs = 400;

interface Entry {
  readonly transfer: TransferCommand;
  readonly body: string;
  readonly bytes: number;
}

/**
 * The transfers FIFO queue, many at a time, with SendMessageBatch: ten transfers per call, never
 * one call per transfer. Each message is the one `SqsTransferQueue` sends (group = debit account,
 * deduplication id = transfer id), so the consumer cannot tell the two apart.
 *
 * **Order.** SQS keeps the order of a FIFO batch's entries within each message group. The
 * transfers are split into at most `sendLaneCountMax` lanes, every transfer of one debit account
 * in the same lane in the order given; a lane's calls go one after another, lanes in parallel.
 * A lane stops at its first call that fails outright, so nothing of an account is queued after a
 * transfer of it that was not; the caller then sends everything again (duplicates are dropped by
 * their deduplication id within five minutes, and by the ledger's transfer id after that).
 *
 * **Per-entry failures.** SQS may answer a call with some entries refused (`Failed`) and the rest
 * queued. The refused ones are sent again, up to `refusedEntryRetryCountMax` times, then the lane
 * stops and `sendAll` throws. An entry refused while a later entry of the same account in the
 * same call was queued ends up after it on the queue: the one case where an account's transfers
 * of one batch are not queued in the order given.
 */
export class SqsTransferBatchQueue implements TransferBatchQueue {
  public constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  public async sendAll(transfers: readonly TransferCommand[], signal?: AbortSignal): Promise<void> {
    const lanes = laneTransfers(transfers, sendLaneCountMax);
    const results = await Promise.allSettled(lanes.map((lane) => this.sendLane(lane, signal)));
    const failures = results.filter((result) => result.status === 'rejected');
    if (failures.length > 0) {
      throw new TransferBatchNotQueuedError({
        cause: failures[0]?.reason,
        context: {
          transferCount: transfers.length,
          laneCount: lanes.length,
          failedLaneCount: failures.length,
        },
      });
    }
  }

  /**
   * An atomic set as one message: the group of its first leg's debit account (the set is ordered
   * with that account's transfers), deduplicated by its first leg's id. One call: its failure,
   * or a lost answer, leaves the set queued once or not at all, and sending again is safe.
   */
  public async sendSet(legs: readonly TransferCommand[], signal?: AbortSignal): Promise<void> {
    const first = legs[0];
    if (first === undefined) throw new Error('assertion failed: a set has legs');
    const body = toAtomicSetMessage(legs);
    if (Buffer.byteLength(body) > atomicSetMessageBytesMax) {
      throw new Error('assertion failed: an atomic set was measured to fit one message');
    }
    try {
      await this.sqs.send(
        new SendMessageCommand({
          QueueUrl: this.queueUrl,
          MessageBody: body,
          MessageGroupId: first.debitAccountId,
          MessageDeduplicationId: first.id,
        }),
        callDeadline(signal),
      );
    } catch (error) {
      throw new TransferBatchNotQueuedError({
        cause: error,
        context: { setId: first.id, legCount: legs.length },
      });
    }
  }

  private async sendLane(
    transfers: readonly TransferCommand[],
    signal: AbortSignal | undefined,
  ): Promise<void> {
    for (const call of chunkEntries(transfers.map(toEntry))) {
      await this.sendCall(call, signal);
    }
  }

  /** One SendMessageBatch, and the resends of the entries SQS refused in it. */
  private async sendCall(entries: readonly Entry[], signal: AbortSignal | undefined): Promise<void> {
    let pending = entries;
    for (let attempt = 0; attempt <= refusedEntryRetryCountMax; attempt += 1) {
      if (attempt > 0) {
        await pause(
          Math.min(refusedEntryBackoffCapMs, refusedEntryBackoffBaseMs * 2 ** (attempt - 1)),
          signal,
        );
      }
      const { Failed } = await this.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: pending.map(
            (entry, index): SendMessageBatchRequestEntry => ({
              Id: String(index),
              MessageBody: entry.body,
              MessageGroupId: entry.transfer.debitAccountId,
              MessageDeduplicationId: entry.transfer.id,
            }),
          ),
        }),
        callDeadline(signal),
      );
      if (Failed === undefined || Failed.length === 0) return;
      const refused = new Set(Failed.map((failure) => failure.Id));
      pending = pending.filter((_entry, index) => refused.has(String(index)));
      if (pending.length !== Failed.length) {
        throw new Error('assertion failed: SQS names refused entries by the ids it was sent');
      }
      if (attempt === refusedEntryRetryCountMax) {
        throw new TransferBatchNotQueuedError({
          context: {
            refusedCount: pending.length,
            codes: [...new Set(Failed.map((failure) => failure.Code))],
            transferIds: pending.map((entry) => entry.transfer.id),
          },
        });
      }
    }
  }
}

function toEntry(transfer: TransferCommand): Entry {
  const body = JSON.stringify(toTransferMessage(transfer));
  return { transfer, body, bytes: Buffer.byteLength(body) };
}

/**
 * Splits transfers into at most `laneCountMax` lanes: all of one debit account in one lane, in
 * the order given, each account going to the lane with the fewest transfers so far.
 */
export function laneTransfers(
  transfers: readonly TransferCommand[],
  laneCountMax: number,
): TransferCommand[][] {
  const byAccount = new Map<string, TransferCommand[]>();
  for (const transfer of transfers) {
    const group = byAccount.get(transfer.debitAccountId);
    if (group === undefined) byAccount.set(transfer.debitAccountId, [transfer]);
    else group.push(transfer);
  }
  const lanes: TransferCommand[][] = Array.from({ length: Math.min(laneCountMax, byAccount.size) }, () => []);
  for (const group of byAccount.values()) {
    const lightest = lanes.reduce((best, lane) => (lane.length < best.length ? lane : best));
    lightest.push(...group);
  }
  return lanes;
}

/** Consecutive entries in calls of at most ten entries and `sendBatchBytesMax` bytes of bodies. */
function chunkEntries(entries: readonly Entry[]): Entry[][] {
  const calls: Entry[][] = [];
  let call: Entry[] = [];
  let bytes = 0;
  for (const entry of entries) {
    if (entry.bytes > sendBatchBytesMax) {
      throw new Error(`assertion failed: a transfer's message (${entry.bytes} bytes) fits one SQS message`);
    }
    if (call.length === sendBatchEntryCountMax || bytes + entry.bytes > sendBatchBytesMax) {
      calls.push(call);
      call = [];
      bytes = 0;
    }
    call.push(entry);
    bytes += entry.bytes;
  }
  if (call.length > 0) calls.push(call);
  return calls;
}

/** Waits `ms`, or until `signal` aborts (then throws its reason). */
function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
