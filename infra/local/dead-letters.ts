/**
 * Looking at and redriving the dead-letter queues: the messages a consumer gave up on after the
 * queue's maxReceiveCount. Listing never consumes them; redriving moves them back to their source
 * queue, deleting each from the dead-letter queue only after it was sent.
 */
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageCommand,
  type Message,
  type MessageAttributeValue,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';

/** Messages one list or redrive handles at most; run it again for more. */
export const deadLetterCountMax = 1000;
/** How long a listed message stays hidden while the listing runs; it is released right after. */
const listVisibilityTimeoutS = 10;
/** How long a message being redriven stays hidden: time enough to send it and delete it. */
const redriveVisibilityTimeoutS = 30;
/** ReceiveMessage hands out at most 10 messages per call. */
const receiveBatchSizeMax = 10;
/** Receives that return nothing new before a listing decides the queue is exhausted. */
const emptyReceiveCountMax = 2;
/** The message attribute that counts how often a message was redriven. */
export const redriveCountAttribute = 'ledgerx-redrive-count';
/** SQS deduplication ids are at most 128 characters. */
const deduplicationIdCharsMax = 128;

/** A dead letter as the CLI shows it. */
export interface DeadLetter {
  readonly messageId: string;
  readonly messageGroupId: string | undefined;
  readonly deduplicationId: string | undefined;
  /** The transfer id in the body, when the body is a transfer message. */
  readonly transferId: string | undefined;
  readonly receiveCount: number;
  readonly sentAt: string | undefined;
  readonly redriveCount: number;
  readonly body: string;
}

/** A dead-letter queue and the queue its messages came from. */
export interface DeadLetterRoute {
  readonly deadLetterQueueUrl: string;
  readonly sourceQueueUrl: string;
  readonly fifo: boolean;
}

async function receive(sqs: SQSClient, queueUrl: string, visibilityTimeoutS: number): Promise<Message[]> {
  const { Messages = [] } = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: receiveBatchSizeMax,
      VisibilityTimeout: visibilityTimeoutS,
      WaitTimeSeconds: 1,
      MessageSystemAttributeNames: ['All'],
      MessageAttributeNames: ['All'],
    }),
  );
  return Messages;
}

function transferIdOf(body: string): string | undefined {
  try {
    const json: unknown = JSON.parse(body);
    if (typeof json === 'object' && json !== null && 'id' in json && typeof json.id === 'string')
      return json.id;
  } catch {
    // Not a transfer message (a poison body): it is listed and redriven all the same.
  }
  return undefined;
}

function redriveCountOf(message: Message): number {
  const value = message.MessageAttributes?.[redriveCountAttribute]?.StringValue;
  return value !== undefined && /^\d{1,6}$/.test(value) ? Number.parseInt(value, 10) : 0;
}

function toDeadLetter(message: Message): DeadLetter {
  const body = message.Body ?? '';
  const sent = message.Attributes?.SentTimestamp;
  return {
    messageId: message.MessageId ?? '',
    messageGroupId: message.Attributes?.MessageGroupId,
    deduplicationId: message.Attributes?.MessageDeduplicationId,
    transferId: transferIdOf(body),
    receiveCount: Number.parseInt(message.Attributes?.ApproximateReceiveCount ?? '0', 10),
    sentAt: sent === undefined ? undefined : new Date(Number.parseInt(sent, 10)).toISOString(),
    redriveCount: redriveCountOf(message),
    body,
  };
}

/**
 * Lists the dead letters without consuming them: receives them with a short visibility timeout,
 * never deletes, and makes them visible again at once when done.
 */
export async function listDeadLetters(sqs: SQSClient, queueUrl: string): Promise<DeadLetter[]> {
  const seen = new Map<string, Message>();
  let emptyReceiveCount = 0;
  while (seen.size < deadLetterCountMax && emptyReceiveCount < emptyReceiveCountMax) {
    const messages = await receive(sqs, queueUrl, listVisibilityTimeoutS);
    const fresh = messages.filter((message) => !seen.has(message.MessageId ?? ''));
    if (fresh.length === 0) emptyReceiveCount += 1;
    for (const message of fresh) seen.set(message.MessageId ?? '', message);
  }
  const held = [...seen.values()];
  for (let start = 0; start < held.length; start += receiveBatchSizeMax) {
    await sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: queueUrl,
        Entries: held.slice(start, start + receiveBatchSizeMax).map((message, index) => ({
          Id: String(index),
          ReceiptHandle: message.ReceiptHandle,
          VisibilityTimeout: 0,
        })),
      }),
    );
  }
  return held.map(toDeadLetter);
}

/** What a redrive did. */
export interface RedriveOutcome {
  readonly movedCount: number;
  /** Messages sent back but not deleted from the DLQ (they will be listed, and sent, again). */
  readonly undeletedCount: number;
}

/**
 * A new deduplication id for a redriven FIFO message. The original (the transfer id) would be
 * swallowed by SQS's five-minute deduplication window; a repeat of the same redrive (sent, then
 * the delete failed) reuses the same id and is swallowed, as it should be. Postgres' unique
 * transfer id is the last guard: a transfer is never posted twice.
 */
export function redriveDeduplicationId(message: Message, redriveNumber: number): string {
  const base =
    transferIdOf(message.Body ?? '') ?? message.Attributes?.MessageDeduplicationId ?? message.MessageId ?? '';
  const suffix = `:redrive:${redriveNumber}`;
  return `${base.slice(0, deduplicationIdCharsMax - suffix.length)}${suffix}`;
}

/**
 * Moves the dead letters back to their source queue, in order, keeping each message's group, and
 * deletes each from the DLQ only after its send succeeded. A send that fails stops the run; the
 * message stays in the DLQ and becomes visible again after a short timeout.
 */
export async function redriveDeadLetters(sqs: SQSClient, route: DeadLetterRoute): Promise<RedriveOutcome> {
  let movedCount = 0;
  let undeletedCount = 0;
  while (movedCount + undeletedCount < deadLetterCountMax) {
    const messages = await receive(sqs, route.deadLetterQueueUrl, redriveVisibilityTimeoutS);
    if (messages.length === 0) break;
    for (const message of messages) {
      const redriveNumber = redriveCountOf(message) + 1;
      const attributes: Record<string, MessageAttributeValue> = {
        ...(message.MessageAttributes ?? {}),
        [redriveCountAttribute]: { DataType: 'Number', StringValue: String(redriveNumber) },
      };
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: route.sourceQueueUrl,
          MessageBody: message.Body ?? '',
          MessageAttributes: attributes,
          ...(route.fifo
            ? {
                MessageGroupId: message.Attributes?.MessageGroupId ?? message.MessageId ?? 'redrive',
                MessageDeduplicationId: redriveDeduplicationId(message, redriveNumber),
              }
            : {}),
        }),
      );
      try {
        await sqs.send(
          new DeleteMessageCommand({
            QueueUrl: route.deadLetterQueueUrl,
            ReceiptHandle: message.ReceiptHandle,
          }),
        );
        movedCount += 1;
      } catch {
        undeletedCount += 1;
      }
    }
  }
  return { movedCount, undeletedCount };
}
