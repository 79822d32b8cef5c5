import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { listDeadLetters, redriveCountAttribute, redriveDeadLetters } from '../../infra/local/dead-letters';
import { projectRoot } from '../../infra/local/postgres';
import { toTransferMessage } from '../../shared/domain/transfer';
import { useTestAws } from '../support/aws';
import { transferFactory } from '../support/factories';

const aws = useTestAws({ visibilityTimeoutS: { transfers: 1 }, maxReceiveCount: { transfers: 1 } });

async function depth(queueUrl: string): Promise<number> {
  const { Attributes = {} } = await aws.clients.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return (
    Number.parseInt(Attributes.ApproximateNumberOfMessages ?? '0', 10) +
    Number.parseInt(Attributes.ApproximateNumberOfMessagesNotVisible ?? '0', 10)
  );
}

/** Sends a transfer to the transfers queue as the API does, and returns its body and group. */
async function sendTransfer(queueUrl: string): Promise<{ id: string; group: string; body: string }> {
  const transfer = transferFactory();
  const body = JSON.stringify(toTransferMessage(transfer));
  await aws.clients.sqs.send(
    new SendMessageCommand({
      QueueUrl: queueUrl,
      MessageBody: body,
      MessageGroupId: transfer.debitAccountId,
      MessageDeduplicationId: transfer.id,
    }),
  );
  return { id: transfer.id, group: transfer.debitAccountId, body };
}

/** Receives the whole transfers queue until moto's redrive policy moved everything to the DLQ. */
async function failUntilDeadLettered(count: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  while ((await depth(aws.resources.queueUrls.transfersDeadLetter)) < count && Date.now() < deadline) {
    await aws.clients.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: aws.resources.queueUrls.transfers,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
      }),
    );
  }
}

async function receiveAll(queueUrl: string, count: number) {
  const received = [];
  const deadline = Date.now() + 10_000;
  while (received.length < count && Date.now() < deadline) {
    const { Messages = [] } = await aws.clients.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
    );
    for (const message of Messages) {
      received.push(message);
      await aws.clients.sqs.send(
        new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }),
      );
    }
  }
  return received;
}

describe('the dead-letter tooling', () => {
  it('lists dead letters without consuming them, then redrives them with their group and a new deduplication id', async () => {
    const sent = [
      await sendTransfer(aws.resources.queueUrls.transfers),
      await sendTransfer(aws.resources.queueUrls.transfers),
    ];
    await failUntilDeadLettered(2);

    const listed = await listDeadLetters(aws.clients.sqs, aws.resources.queueUrls.transfersDeadLetter);
    const listedAgain = await listDeadLetters(aws.clients.sqs, aws.resources.queueUrls.transfersDeadLetter);
    const outcome = await redriveDeadLetters(aws.clients.sqs, {
      deadLetterQueueUrl: aws.resources.queueUrls.transfersDeadLetter,
      sourceQueueUrl: aws.resources.queueUrls.transfers,
      fifo: true,
    });
    const dlqDepthAfter = await depth(aws.resources.queueUrls.transfersDeadLetter);
    const redriven = await receiveAll(aws.resources.queueUrls.transfers, 2);

    expect(new Set(listed.map((letter) => letter.transferId))).toEqual(
      new Set(sent.map((transfer) => transfer.id)),
    );
    expect(listedAgain).toHaveLength(2);
    expect(outcome).toEqual({ movedCount: 2, undeletedCount: 0 });
    expect(dlqDepthAfter).toBe(0);
    // The original deduplication id (the transfer id) is still inside SQS's five-minute window;
    // the redriven copies arrive only because they carry a new one.
    expect(
      redriven
        .map((message) => ({
          body: message.Body,
          group: message.Attributes?.MessageGroupId,
          deduplicationId: message.Attributes?.MessageDeduplicationId,
          redriveCount: message.MessageAttributes?.[redriveCountAttribute]?.StringValue,
        }))
        .sort((a, b) => (a.body ?? '').localeCompare(b.body ?? '')),
    ).toEqual(
      sent
        .map((transfer) => ({
          body: transfer.body,
          group: transfer.group,
          deduplicationId: `${transfer.id}:redrive:1`,
          redriveCount: '1',
        }))
        .sort((a, b) => a.body.localeCompare(b.body)),
    );
  });

  it('answers npm run dlq -- list and redrive against AWS_ENDPOINT_URL', async () => {
    const sent = await sendTransfer(aws.resources.queueUrls.transfers);
    await failUntilDeadLettered(1);
    const env = { ...process.env, AWS_ENDPOINT_URL: aws.endpoint, LEDGER_LOCAL_NAME_PREFIX: aws.namePrefix };
    const run = (args: string[]) =>
      promisify(execFile)(process.execPath, ['--import', 'tsx', 'infra/local/dlq.ts', ...args], {
        cwd: projectRoot,
        env,
      });

    const list = await run(['list', '--json']);
    const redrive = await run(['redrive']);
    const redriven = await receiveAll(aws.resources.queueUrls.transfers, 1);

    expect(JSON.parse(list.stdout)).toEqual([
      expect.objectContaining({ transferId: sent.id, messageGroupId: sent.group }),
    ]);
    expect(redrive.stdout).toMatch(/moved 1 message/);
    expect(redriven.map((message) => message.Body)).toEqual([sent.body]);
  });
});
