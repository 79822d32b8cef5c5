/**
 * A local stand-in for Lambda's SQS event source mapping: long-polls a queue, hands batches of
 * real `SQSEvent` records to a handler, deletes the records that succeeded and leaves the failed
 * ones to come back after the visibility timeout (and, past the queue's maxReceiveCount, to move
 * to its dead-letter queue through the redrive policy, as on AWS).
 */
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent, SQSMessageAttributes, SQSRecord } from 'aws-lambda';
import type { Logger } from '../../shared/ports/logger';
import { lambdaContext, withTimeout } from './lambda-context';

/** SQS hands out at most 10 messages per ReceiveMessage call, and FIFO mappings at most 10 per batch. */
export const sqsBatchSizeMax = 10;
/** SQS long polls wait at most 20 s. */
export const sqsPollWaitSMax = 20;

/** A handler as Lambda calls it for an SQS trigger; undefined means every record succeeded. */
export type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | undefined>;

export interface SqsPollerOptions {
  /** The function's name, for logs and the context. */
  readonly functionName: string;
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly region: string;
  readonly handler: SqsHandler;
  /** Records per batch, at most 10. */
  readonly batchSizeMax: number;
  /** Batches in flight at once: one receive loop each. */
  readonly concurrencyMax: number;
  /** The long-poll wait; short locally so a stop is prompt (a receive is never cut off). */
  readonly pollWaitS: number;
  /** How long a batch may run before it counts as failed (the function's timeout). */
  readonly timeoutS: number;
  readonly memoryMiB: number;
  /** How long `stop` waits for in-flight batches before it releases their messages. */
  readonly stopTimeoutMs: number;
  /** Pauses after a failed receive: doubles from the base up to the cap. */
  readonly errorBackoffBaseMs: number;
  readonly errorBackoffCapMs: number;
  readonly logger: Logger;
}

/** Counts since start, for tests and logs. */
export interface SqsPollerStats {
  readonly batchCount: number;
  readonly recordCount: number;
  readonly failedRecordCount: number;
  readonly receiveErrorCount: number;
}

/** A running poller. */
export interface SqsPoller {
  stats(): SqsPollerStats;
  /**
   * Stops receiving, waits up to `stopTimeoutMs` for the batches in flight, and makes the
   * messages of those that did not finish visible again at once, so the next consumer need not
   * wait out the visibility timeout. A released batch whose handler still commits later is safe:
   * the ledger refuses a transfer id it has already recorded.
   */
  stop(): Promise<void>;
}

/** Starts `concurrencyMax` receive loops on the queue. */
export function startSqsPoller(options: SqsPollerOptions): SqsPoller {
  if (options.batchSizeMax < 1 || options.batchSizeMax > sqsBatchSizeMax) {
    throw new RangeError(`batchSizeMax must be in [1, ${sqsBatchSizeMax}], got ${options.batchSizeMax}`);
  }
  if (options.pollWaitS < 0 || options.pollWaitS > sqsPollWaitSMax) {
    throw new RangeError(`pollWaitS must be in [0, ${sqsPollWaitSMax}], got ${options.pollWaitS}`);
  }
  let stopping = false;
  const stats = { batchCount: 0, recordCount: 0, failedRecordCount: 0, receiveErrorCount: 0 };
  // On a FIFO queue the loops receive one at a time. moto decides which message groups are in
  // flight once, when a receive starts, and long-polls on that view: a receive that began before
  // another loop took a group's first message would hand out the group's next one beside it, and
  // the group would be posted out of order. SQS itself never does; taking turns costs a receive's
  // round trip, not a batch's work.
  const fifo = options.queueUrl.endsWith('.fifo');
  let receiveTurn: Promise<unknown> = Promise.resolve();
  const inTurn = <Result>(receive: () => Promise<Result>): Promise<Result> => {
    if (!fifo) return receive();
    const turn = receiveTurn.then(receive, receive);
    receiveTurn = turn.catch(() => undefined);
    return turn;
  };
  /** The messages each loop holds right now, so a stop can release them. */
  const inFlight = new Map<number, Message[]>();
  /** Wakes loops sleeping in a backoff when the poller stops. */
  const stopController = new AbortController();

  const loop = async (worker: number): Promise<void> => {
    let backoffMs = 0;
    while (!stopping) {
      if (backoffMs > 0) await sleep(backoffMs, stopController.signal);
      if (stopping) break;
      let messages: Message[];
      try {
        const answer = await inTurn(() =>
          options.sqs.send(
            new ReceiveMessageCommand({
              QueueUrl: options.queueUrl,
              MaxNumberOfMessages: options.batchSizeMax,
              WaitTimeSeconds: stopping ? 0 : options.pollWaitS,
              MessageSystemAttributeNames: ['All'],
              MessageAttributeNames: ['All'],
            }),
          ),
        );
        messages = answer.Messages ?? [];
        backoffMs = 0;
      } catch (error) {
        stats.receiveErrorCount += 1;
        backoffMs = Math.min(options.errorBackoffCapMs, Math.max(options.errorBackoffBaseMs, backoffMs * 2));
        options.logger.warn('receive failed; retrying', {
          functionName: options.functionName,
          backoffMs,
          error: String(error),
        });
        continue;
      }
      if (messages.length === 0) continue;
      if (stopping) {
        // A long poll that answered after the stop: hand the messages straight back.
        await release(messages);
        break;
      }
      inFlight.set(worker, messages);
      try {
        await handleBatch(messages);
      } finally {
        inFlight.delete(worker);
      }
    }
  };

  const handleBatch = async (messages: Message[]): Promise<void> => {
    const records = messages.map((message) => toRecord(message, options.queueArn, options.region));
    stats.batchCount += 1;
    stats.recordCount += records.length;
    let failedIds: ReadonlySet<string>;
    try {
      const context = lambdaContext(options.functionName, options.timeoutS, options.memoryMiB);
      const response = await withTimeout(options.functionName, options.timeoutS, () =>
        options.handler({ Records: records }, context),
      );
      failedIds = failedMessageIds(records, response);
    } catch (error) {
      // A handler that throws fails the whole batch, as on Lambda.
      options.logger.error('batch failed; its records will be delivered again', {
        functionName: options.functionName,
        recordCount: records.length,
        error: String(error),
      });
      failedIds = new Set(records.map((record) => record.messageId));
    }
    stats.failedRecordCount += failedIds.size;
    const succeeded = messages.filter((message) => !failedIds.has(message.MessageId ?? ''));
    if (succeeded.length > 0) await deleteMessages(succeeded);
  };

  const deleteMessages = async (messages: readonly Message[]): Promise<void> => {
    try {
      const { Failed = [] } = await options.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: options.queueUrl,
          Entries: messages.map((message, index) => ({
            Id: String(index),
            ReceiptHandle: message.ReceiptHandle,
          })),
        }),
      );
      if (Failed.length > 0) {
        options.logger.warn('some processed messages were not deleted; they will be delivered again', {
          functionName: options.functionName,
          failed: Failed.map((entry) => entry.Message ?? entry.Code),
        });
      }
    } catch (error) {
      // The records are done; a redelivery is answered from the ledger (the transfer exists).
      options.logger.warn('delete failed; the processed messages will be delivered again', {
        functionName: options.functionName,
        error: String(error),
      });
    }
  };

  /** Makes messages visible again at once, so the next receive gets them without waiting. */
  const release = async (messages: readonly Message[]): Promise<void> => {
    for (let start = 0; start < messages.length; start += sqsBatchSizeMax) {
      const chunk = messages.slice(start, start + sqsBatchSizeMax);
      await options.sqs
        .send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: options.queueUrl,
            Entries: chunk.map((message, index) => ({
              Id: String(index),
              ReceiptHandle: message.ReceiptHandle,
              VisibilityTimeout: 0,
            })),
          }),
        )
        .catch((error: unknown) => {
          options.logger.warn('could not release messages; they return after the visibility timeout', {
            functionName: options.functionName,
            error: String(error),
          });
        });
    }
  };

  const loops = Array.from({ length: options.concurrencyMax }, (_, worker) => loop(worker));

  return {
    stats: () => ({ ...stats }),
    stop: async () => {
      stopping = true;
      stopController.abort();
      const finished = await Promise.race([
        Promise.all(loops).then(() => true),
        sleep(options.stopTimeoutMs).then(() => false),
      ]);
      if (finished) return;
      const held = [...inFlight.values()].flat();
      options.logger.warn('batches still in flight at stop; releasing their messages', {
        functionName: options.functionName,
        messageCount: held.length,
      });
      await release(held);
    },
  };
}

/**
 * The ids the handler reported failed. As on Lambda, a response naming a record that is not in
 * the batch (or naming none by an empty id) fails the whole batch.
 */
function failedMessageIds(
  records: readonly SQSRecord[],
  response: SQSBatchResponse | undefined,
): ReadonlySet<string> {
  const all = new Set(records.map((record) => record.messageId));
  if (response === undefined || response === null) return new Set();
  const failed = new Set<string>();
  for (const failure of response.batchItemFailures ?? []) {
    if (typeof failure.itemIdentifier !== 'string' || !all.has(failure.itemIdentifier)) return all;
    failed.add(failure.itemIdentifier);
  }
  return failed;
}

/** Builds the record Lambda would hand over for a received message. */
export function toRecord(message: Message, queueArn: string, region: string): SQSRecord {
  const system = message.Attributes ?? {};
  const attributes: SQSRecord['attributes'] = {
    ApproximateReceiveCount: system.ApproximateReceiveCount ?? '1',
    SentTimestamp: system.SentTimestamp ?? String(Date.now()),
    SenderId: system.SenderId ?? 'local',
    ApproximateFirstReceiveTimestamp: system.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
  };
  if (system.SequenceNumber !== undefined) attributes.SequenceNumber = system.SequenceNumber;
  if (system.MessageGroupId !== undefined) attributes.MessageGroupId = system.MessageGroupId;
  if (system.MessageDeduplicationId !== undefined)
    attributes.MessageDeduplicationId = system.MessageDeduplicationId;
  if (system.AWSTraceHeader !== undefined) attributes.AWSTraceHeader = system.AWSTraceHeader;
  if (system.DeadLetterQueueSourceArn !== undefined)
    attributes.DeadLetterQueueSourceArn = system.DeadLetterQueueSourceArn;
  const messageAttributes: SQSMessageAttributes = {};
  for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
    messageAttributes[name] = {
      dataType: value.DataType ?? 'String',
      stringListValues: [],
      binaryListValues: [],
      ...(value.StringValue === undefined ? {} : { stringValue: value.StringValue }),
      ...(value.BinaryValue === undefined
        ? {}
        : { binaryValue: Buffer.from(value.BinaryValue).toString('base64') }),
    };
  }
  return {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes,
    messageAttributes,
    md5OfBody: message.MD5OfBody ?? '',
    ...(message.MD5OfMessageAttributes === undefined
      ? {}
      : { md5OfMessageAttributes: message.MD5OfMessageAttributes }),
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}

/** Resolves after `ms`, or at once when the signal aborts. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve();
      return;
    }
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}
