import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { SqsTransferQueue } from '../../shared/adapters/aws/transfer-queue';
import { DynamoTransferRequests } from '../../shared/adapters/aws/transfer-requests';
import { DynamoVelocityStore } from '../../shared/adapters/aws/velocity-store';
import { newAccountId } from '../../shared/domain/ids';
import type { TransferCommand } from '../../shared/domain/transfer';
import type { VelocityLimits } from '../../shared/domain/velocity';
import {
  SubmissionInProgressError,
  type TransferQueue,
  TransferSubmission,
} from '../../shared/services/transfer-submission';
import { VelocityService } from '../../shared/services/velocity';
import { topology } from '../../shared/topology';
import { silentLogger } from '../support/api';
import { useTestAws } from '../support/aws';
import { usd } from '../support/factories';

const aws = useTestAws();

/** A queue whose first send hangs until released, as an invocation that froze mid-request. */
function stallingQueue(real: TransferQueue): TransferQueue & { release(): void } {
  let release: () => void = () => undefined;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let calls = 0;
  return {
    release: () => release(),
    send: async (transfer: TransferCommand) => {
      calls += 1;
      if (calls === 1) await released;
      await real.send(transfer);
    },
  };
}

function submission(
  queue: TransferQueue,
  inProgressMsMax: number,
  velocity: VelocityLimits = { windowS: 60, transferCountMax: 100, amountMax: undefined },
): TransferSubmission {
  return new TransferSubmission({
    queue,
    requests: new DynamoTransferRequests(aws.clients.dynamo, aws.resources.tableNames.transferRequests),
    velocity: new VelocityService({
      store: new DynamoVelocityStore(aws.clients.dynamo, aws.resources.tableNames.velocity),
      defaults: velocity,
      logger: silentLogger,
    }),
    idempotencyStore: new DynamoDBPersistenceLayer({
      tableName: aws.resources.tableNames.idempotency,
      keyAttr: topology.tables.idempotency.partitionKey,
      expiryAttr: topology.tables.idempotency.ttlAttribute,
      awsSdkV3Client: aws.clients.dynamo,
    }),
    inProgressMsMax,
    logger: silentLogger,
  });
}

describe('transfer submission', () => {
  it('lets a key held by a frozen invocation be taken over after its in-progress bound, with the same transfer id', async () => {
    const realQueue = new SqsTransferQueue(aws.clients.sqs, aws.resources.queueUrls.transfers);
    const stalling = stallingQueue(realQueue);
    const inProgressMsMax = 300;
    const frozen = submission(stalling, inProgressMsMax);
    const successor = submission(realQueue, inProgressMsMax);
    const key = { apiKeyId: 'a1b2c3d4e5f60718', idempotencyKey: `key-${crypto.randomUUID()}` };
    const request = {
      debitAccountId: newAccountId(),
      creditAccountId: newAccountId(),
      amount: 5n,
      currency: usd,
      metadata: {},
    };

    const first = frozen.submit(key, request);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await expect(successor.submit(key, request)).rejects.toBeInstanceOf(SubmissionInProgressError);
    await new Promise((resolve) => setTimeout(resolve, inProgressMsMax + 200));
    const takenOver = await successor.submit(key, request);
    stalling.release();
    const late = await first;

    expect(late.id).toBe(takenOver.id);
    expect(late.acceptedAt).toBe(takenOver.acceptedAt);
    const { Messages = [] } = await aws.clients.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: aws.resources.queueUrls.transfers,
        MaxNumberOfMessages: 10,
        MessageSystemAttributeNames: ['All'],
      }),
    );
    const ours = Messages.filter((message) => message.Attributes?.MessageGroupId === request.debitAccountId);
    expect(ours.map((message) => message.Attributes?.MessageDeduplicationId)).toEqual([takenOver.id]);
  });
});
