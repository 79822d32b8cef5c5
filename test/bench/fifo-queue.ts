/**
 * An in-memory stand-in for an SQS FIFO queue and Lambda's event source mapping, for the posting
 * benchmark. Messages are delivered in send order; several consumers each take a batch of up to
 * ten messages from the head, skipping messages whose message group is in flight, so a group is
 * never in two batches at once and its order is kept. Failed records go back to the front of their
 * group, as a FIFO queue makes them visible again before anything later of that group.
 */
import { createHash } from 'node:crypto';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';

/** The most records Lambda's event source mapping hands a function from an SQS FIFO queue. */
export const fifoBatchSizeMax = 10;

const queueArn = 'arn:aws:sqs:us-east-1:123456789012:ledgerx-transfers.fifo';
const senderId = 'AROAEXAMPLEAPIROLE000:ledgerx-api';
const sequenceNumberBase = 18_000_000_000_000_000_000n;

/** A message to send: its body, its message group, and the id that deduplicates it. */
export interface OutgoingMessage {
  readonly body: string;
  readonly messageGroupId: string;
  readonly deduplicationId: string;
}

interface QueuedMessage {
  /** Send order across the whole queue. */
  readonly sequence: number;
  readonly messageId: string;
  readonly messageGroupId: string;
  readonly body: string;
  readonly md5OfBody: string;
  readonly deduplicationId: string;
  readonly sentTimestamp: string;
  receiveCount: number;
  firstReceiveTimestamp: string | undefined;
}

/** One message group's messages not yet done, oldest first, from `next` on. */
interface MessageGroup {
  readonly id: string;
  readonly messages: QueuedMessage[];
  next: number;
  inFlight: boolean;
}

/** A message group that may be ready, keyed by the send order of its oldest message then. */
interface GroupHead {
  readonly sequence: number;
  readonly groupId: string;
}

/** A batch handed to a consumer: the event for the handler and what the queue needs back. */
export interface ReceivedBatch {
  readonly event: SQSEvent;
  readonly messages: readonly QueuedMessage[];
}

/**
 * The queue. Receiving is exactly "scan from the head, skip in-flight groups, stop at ten", but
 * done with a heap of group heads so that a hot group of thousands of messages is skipped in one
 * step rather than message by message.
 */
export class FifoQueue {
  private readonly groups = new Map<string, MessageGroup>();
  private readonly heads = new MinHeap<GroupHead>((a, b) => a.sequence - b.sequence);
  private waiters: (() => void)[] = [];
  private sentCount = 0;
  private pendingCount = 0;
  private inFlightBatchCount = 0;

  public constructor(private readonly receiveCountMax: number) {}

  /** Sends messages in order. */
  public send(outgoing: readonly OutgoingMessage[], nowMs: number = Date.now()): void {
    for (const item of outgoing) {
      const message: QueuedMessage = {
        sequence: this.sentCount,
        messageId: crypto.randomUUID(),
        messageGroupId: item.messageGroupId,
        body: item.body,
        md5OfBody: createHash('md5').update(item.body).digest('hex'),
        deduplicationId: item.deduplicationId,
        sentTimestamp: String(nowMs),
        receiveCount: 0,
        firstReceiveTimestamp: undefined,
      };
      this.sentCount += 1;
      this.pendingCount += 1;
      let group = this.groups.get(item.messageGroupId);
      if (group === undefined) {
        group = { id: item.messageGroupId, messages: [], next: 0, inFlight: false };
        this.groups.set(group.id, group);
      }
      const wasEmpty = group.next === group.messages.length;
      group.messages.push(message);
      if (wasEmpty && !group.inFlight) this.heads.push({ sequence: message.sequence, groupId: group.id });
    }
  }

  /** Messages sent and not yet done (waiting or in flight). */
  public get remainingCount(): number {
    return this.pendingCount;
  }

  /** Whether every message is done and no batch is out. */
  public get isDrained(): boolean {
    return this.pendingCount === 0 && this.inFlightBatchCount === 0;
  }

  /**
   * Takes up to `countMax` messages from the head, skipping groups in flight, and puts their groups
   * in flight. Returns undefined when nothing can be taken now.
   */
  public receive(countMax: number = fifoBatchSizeMax, nowMs: number = Date.now()): ReceivedBatch | undefined {
    const messages: QueuedMessage[] = [];
    const taken = new Set<MessageGroup>();
    while (messages.length < countMax) {
      const head = this.heads.pop();
      if (head === undefined) break;
      const group = this.groups.get(head.groupId);
      // Heads are pushed again rather than updated in place, so an entry may be stale.
      if (group === undefined || group.inFlight || group.messages[group.next]?.sequence !== head.sequence) {
        continue;
      }
      const message = group.messages[group.next];
      if (message === undefined) continue;
      group.next += 1;
      messages.push(message);
      taken.add(group);
      const following = group.messages[group.next];
      if (following !== undefined) this.heads.push({ sequence: following.sequence, groupId: group.id });
    }
    if (messages.length === 0) return undefined;
    for (const group of taken) group.inFlight = true;
    this.inFlightBatchCount += 1;
    const records = messages.map((message) => {
      message.receiveCount += 1;
      if (message.receiveCount > this.receiveCountMax) {
        throw new Error(
          `message ${message.messageId} of group ${message.messageGroupId} was received ` +
            `${message.receiveCount} times (receiveCountMax ${this.receiveCountMax}); ` +
            'a real queue would have moved it to its dead-letter queue',
        );
      }
      message.firstReceiveTimestamp ??= String(nowMs);
      return toRecord(message);
    });
    return { event: { Records: records }, messages };
  }

  /**
   * Finishes a batch: the records the handler reported failed go back to the front of their
   * groups in order, the rest are done, and the batch's groups may be taken again.
   */
  public complete(batch: ReceivedBatch, failedMessageIds: ReadonlySet<string>): void {
    for (const id of failedMessageIds) {
      if (!batch.messages.some((message) => message.messageId === id)) {
        throw new Error(`the handler reported failure for ${id}, which is not in its batch`);
      }
    }
    const byGroup = new Map<MessageGroup, QueuedMessage[]>();
    for (const message of batch.messages) {
      const group = this.groups.get(message.messageGroupId);
      if (group === undefined) throw new Error(`assertion failed: group ${message.messageGroupId} exists`);
      const messages = byGroup.get(group) ?? [];
      messages.push(message);
      byGroup.set(group, messages);
    }
    for (const [group, messages] of byGroup) {
      // FIFO semantics: once a record of a group fails, every later record of it in the batch must
      // fail too; otherwise the group's order is lost. The failed ones are then the last taken,
      // and putting them back is stepping `next` back over them.
      const firstFailed = messages.findIndex((message) => failedMessageIds.has(message.messageId));
      const failedCount = firstFailed === -1 ? 0 : messages.length - firstFailed;
      for (
        let index = firstFailed === -1 ? messages.length : firstFailed;
        index < messages.length;
        index += 1
      ) {
        const message = messages[index];
        if (message === undefined || !failedMessageIds.has(message.messageId)) {
          throw new Error(
            `the handler failed a record of group ${group.id} but not a later one of the same group, ` +
              'which breaks FIFO order',
          );
        }
      }
      group.next -= failedCount;
      this.pendingCount -= messages.length - failedCount;
      group.inFlight = false;
      if (group.next === group.messages.length) {
        // Keep memory flat: a finished group is forgotten; a later send starts it afresh.
        this.groups.delete(group.id);
      } else {
        const head = group.messages[group.next];
        if (head !== undefined) this.heads.push({ sequence: head.sequence, groupId: group.id });
      }
    }
    this.inFlightBatchCount -= 1;
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  /** Resolves when a batch completes, which is when a skipped group may become ready. */
  public changed(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}

function toRecord(message: QueuedMessage): SQSRecord {
  return {
    messageId: message.messageId,
    receiptHandle: `AQEB${Buffer.from(`${message.messageId}:${message.receiveCount}`).toString('base64')}`,
    body: message.body,
    attributes: {
      ApproximateReceiveCount: String(message.receiveCount),
      SentTimestamp: message.sentTimestamp,
      SenderId: senderId,
      ApproximateFirstReceiveTimestamp: message.firstReceiveTimestamp ?? message.sentTimestamp,
      SequenceNumber: String(sequenceNumberBase + BigInt(message.sequence)),
      MessageGroupId: message.messageGroupId,
      MessageDeduplicationId: message.deduplicationId,
    },
    messageAttributes: {},
    md5OfBody: message.md5OfBody,
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: 'us-east-1',
  };
}

/** Limits for one dispatch run. */
export interface DispatchLimits {
  readonly consumerCount: number;
  /** Past this `performance.now()` time no new batch starts and the run fails. */
  readonly deadlineMs: number;
  /** Handler invocations allowed in the run. */
  readonly batchCountMax: number;
}

/** What one dispatch run saw. */
export interface DispatchReport {
  readonly elapsedMs: number;
  /** Handler latency of each batch, in completion order. */
  readonly batchDurationsMs: readonly number[];
  readonly recordCount: number;
  /** Records reported in batchItemFailures, or in a batch whose handler threw. */
  readonly failedRecordCount: number;
  /** Invocations whose handler threw, so the whole batch went back. */
  readonly invocationErrorCount: number;
  readonly lastInvocationError: unknown;
}

/** A Lambda handler for SQS batches, such as the transfer consumer. */
export type SqsBatchHandler = (event: SQSEvent) => Promise<SQSBatchResponse>;

/**
 * Runs `consumerCount` consumers against the queue until it drains, each taking one batch at a
 * time and calling the handler, as one Lambda instance per concurrent batch would. Throws when
 * the deadline or the invocation bound is reached first.
 */
export async function dispatch(
  queue: FifoQueue,
  handler: SqsBatchHandler,
  limits: DispatchLimits,
): Promise<DispatchReport> {
  const startedMs = performance.now();
  const batchDurationsMs: number[] = [];
  let recordCount = 0;
  let failedRecordCount = 0;
  let invocationErrorCount = 0;
  let lastInvocationError: unknown;
  let batchCount = 0;
  let stop: Error | undefined;
  let wakeOnStop: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => {
    wakeOnStop = resolve;
  });
  const fail = (error: unknown): void => {
    stop ??= error instanceof Error ? error : new Error(String(error));
    wakeOnStop();
  };

  const consume = async (): Promise<void> => {
    for (;;) {
      if (stop !== undefined) return;
      if (queue.isDrained) return;
      if (performance.now() > limits.deadlineMs) {
        fail(
          new Error(
            `dispatch ran past its time limit with ${queue.remainingCount} messages left after ${batchCount} batches`,
          ),
        );
        return;
      }
      if (batchCount >= limits.batchCountMax) {
        fail(
          new Error(
            `dispatch reached ${limits.batchCountMax} batches with ${queue.remainingCount} messages left`,
          ),
        );
        return;
      }
      let batch: ReceivedBatch | undefined;
      try {
        batch = queue.receive();
      } catch (error) {
        fail(error);
        return;
      }
      if (batch === undefined) {
        // Every ready group is in flight; a completing batch is what can change that.
        await Promise.race([queue.changed(), stopped]);
        continue;
      }
      batchCount += 1;
      recordCount += batch.messages.length;
      const batchStartedMs = performance.now();
      let failed: Set<string>;
      try {
        const response = await handler(batch.event);
        failed = new Set(response.batchItemFailures.map((failure) => failure.itemIdentifier));
      } catch (error) {
        invocationErrorCount += 1;
        lastInvocationError = error;
        failed = new Set(batch.messages.map((message) => message.messageId));
      }
      batchDurationsMs.push(performance.now() - batchStartedMs);
      failedRecordCount += failed.size;
      try {
        queue.complete(batch, failed);
      } catch (error) {
        fail(error);
        return;
      }
    }
  };

  await Promise.all(Array.from({ length: limits.consumerCount }, consume));
  if (stop !== undefined) throw stop;
  return {
    elapsedMs: performance.now() - startedMs,
    batchDurationsMs,
    recordCount,
    failedRecordCount,
    invocationErrorCount,
    lastInvocationError,
  };
}

/** A binary min-heap. */
class MinHeap<T> {
  private readonly items: T[] = [];

  public constructor(private readonly compare: (a: T, b: T) => number) {}

  public push(item: T): void {
    const items = this.items;
    items.push(item);
    let index = items.length - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      const parentItem = items[parent] as T;
      if (this.compare(item, parentItem) >= 0) break;
      items[index] = parentItem;
      index = parent;
    }
    items[index] = item;
  }

  public pop(): T | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    let index = 0;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= items.length) break;
      const right = left + 1;
      const child =
        right < items.length && this.compare(items[right] as T, items[left] as T) < 0 ? right : left;
      if (this.compare(items[child] as T, last) >= 0) break;
      items[index] = items[child] as T;
      index = child;
    }
    items[index] = last;
    return top;
  }
}
