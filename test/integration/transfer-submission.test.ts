import {
  type DynamoDBClient,
  GetItemCommand,
  ScanCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { DeleteMessageCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { localAwsSettings } from '../../infra/local/aws';
import { PowertoolsIdempotencyGuard } from '../../shared/adapters/aws/idempotency-guard';
import { DynamoQueuedTransfers } from '../../shared/adapters/aws/queued-transfers';
import { SubmissionRecords } from '../../shared/adapters/aws/submission-records';
import { SqsTransferQueue } from '../../shared/adapters/aws/transfer-queue';
import { DynamoVelocityStore } from '../../shared/adapters/aws/velocity-store';
import { PostgresLedgerStore } from '../../shared/adapters/postgres/ledger-store';
import { PostgresTransferReader } from '../../shared/adapters/postgres/transfers-reader';
import type { AccountId } from '../../shared/domain/ids';
import { parseTransferMessage, type TransferCommand } from '../../shared/domain/transfer';
import type { VelocityLimits } from '../../shared/domain/velocity';
import {
  SubmissionInProgressError,
  type TransferQueue,
  TransferQueueOutcomeUnknownError,
} from '../../shared/ports/submission';
import { type TransferRequest, TransferSubmission } from '../../shared/services/transfer-submission';
import { VelocityService } from '../../shared/services/velocity';
import { topology } from '../../shared/topology';
import { awsClients } from '../../shared/wiring';
import { silentLogger } from '../support/api';
import { useTestAws } from '../support/aws';
import { useTestDatabase } from '../support/database';
import { createAccount, usd } from '../support/factories';
import { startTcpProxy } from '../support/tcp-proxy';

const database = useTestDatabase();
const aws = useTestAws();

const defaultLimits: VelocityLimits = { windowS: 60, transferCountMax: 100, amountMax: undefined };

/** A queue whose first send hangs until released, as an invocation that froze mid-request. */
function stallingQueue(real: TransferQueue): TransferQueue & { release(): void } {
  let release: () => void = () => undefined;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let calls = 0;
  return {
    release: () => release(),
    send: async (transfer, signal) => {
      calls += 1;
      if (calls === 1) await released;
      await real.send(transfer, signal);
    },
  };
}

/** The submission service over the real adapters; a test swaps the clients or the queue it faults. */
function submission(
  options: {
    readonly dynamo?: DynamoDBClient;
    readonly sqs?: SQSClient;
    readonly queue?: TransferQueue;
    readonly inProgressMsMax?: number;
    readonly budgetMs?: number;
  } = {},
): TransferSubmission {
  const dynamo = options.dynamo ?? aws.clients.dynamo;
  return new TransferSubmission({
    budgetMs: options.budgetMs ?? 8_500,
    guard: new PowertoolsIdempotencyGuard({
      records: new SubmissionRecords({
        dynamo,
        tableName: aws.resources.tableNames.idempotency,
        keyAttribute: topology.tables.idempotency.partitionKey,
        expiryAttribute: topology.tables.idempotency.ttlAttribute,
      }),
      inProgressMsMax: options.inProgressMsMax ?? 10_000,
      logger: silentLogger,
    }),
    velocity: new VelocityService({
      store: new DynamoVelocityStore(dynamo, aws.resources.tableNames.velocity),
      defaults: defaultLimits,
      logger: silentLogger,
    }),
    queue:
      options.queue ??
      new SqsTransferQueue(options.sqs ?? aws.clients.sqs, aws.resources.queueUrls.transfers),
    ledgerTransfers: new PostgresTransferReader(database.pool),
    queuedTransfers: new DynamoQueuedTransfers(
      dynamo,
      aws.resources.tableNames.idempotency,
      topology.tables.idempotency.partitionKey,
    ),
    pendingTimeoutSDefault: 60,
    logger: silentLogger,
  });
}

const newKey = () => ({ apiKeyId: 'a1b2c3d4e5f60718', idempotencyKey: `key-${crypto.randomUUID()}` });

async function transferRequest(): Promise<TransferRequest> {
  return {
    debitAccountId: await createAccount(database.pool),
    creditAccountId: await createAccount(database.pool),
    amount: 5n,
    currency: usd,
    metadata: {},
  };
}

/** Takes the group's messages off the transfers queue and returns the transfers they carry. */
async function drainGroup(groupId: AccountId): Promise<TransferCommand[]> {
  const transfers: TransferCommand[] = [];
  for (let round = 0; round < 20; round += 1) {
    const { Messages = [] } = await aws.clients.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: aws.resources.queueUrls.transfers,
        MaxNumberOfMessages: 10,
        MessageSystemAttributeNames: ['All'],
      }),
    );
    if (Messages.length === 0) break;
    for (const message of Messages) {
      await aws.clients.sqs.send(
        new DeleteMessageCommand({
          QueueUrl: aws.resources.queueUrls.transfers,
          ReceiptHandle: message.ReceiptHandle,
        }),
      );
      if (message.Attributes?.MessageGroupId !== groupId) continue;
      const parsed = parseTransferMessage(message.Body ?? '');
      if (parsed.ok) transfers.push(parsed.value);
    }
  }
  return transfers;
}

/** How many transfers the debit account's open window counts. */
async function windowCount(accountId: AccountId): Promise<number | undefined> {
  const { Item } = await aws.clients.dynamo.send(
    new GetItemCommand({
      TableName: aws.resources.tableNames.velocity,
      Key: { pk: { S: `limits#${accountId}` } },
      ConsistentRead: true,
    }),
  );
  const count = Item?.transfer_count?.N;
  return count === undefined ? undefined : Number.parseInt(count, 10);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('transfer submission', () => {
  it('lets a key held by a frozen invocation be taken over after its in-progress bound, with the same transfer id', async () => {
    const realQueue = new SqsTransferQueue(aws.clients.sqs, aws.resources.queueUrls.transfers);
    const stalling = stallingQueue(realQueue);
    const inProgressMsMax = 300;
    const frozen = submission({ queue: stalling, inProgressMsMax });
    const successor = submission({ queue: realQueue, inProgressMsMax });
    const key = newKey();
    const request = await transferRequest();

    const first = frozen.submit(key, request);
    await sleep(100);
    await expect(successor.submit(key, request)).rejects.toBeInstanceOf(SubmissionInProgressError);
    await sleep(inProgressMsMax + 200);
    const takenOver = await successor.submit(key, request);
    stalling.release();
    const late = await first;

    expect(late.id).toBe(takenOver.id);
    expect(late.acceptedAt).toBe(takenOver.acceptedAt);
    expect((await drainGroup(request.debitAccountId)).map((transfer) => transfer.id)).toEqual([takenOver.id]);
  });

  it('answers the transfer when its completion cannot be stored after the send, and a retry answers the same transfer, posted once', async () => {
    const moto = new URL(aws.endpoint);
    const proxy = await startTcpProxy(moto.hostname, Number.parseInt(moto.port, 10));
    try {
      const viaProxy = awsClients(localAwsSettings(`http://127.0.0.1:${proxy.port}`));
      // Once the send has returned, DynamoDB goes away: the completion cannot be written.
      const sqs = awsClients(localAwsSettings(aws.endpoint)).sqs;
      sqs.middlewareStack.add(
        (next, context) => async (args) => {
          const output = await next(args);
          if (context.commandName === 'SendMessageCommand') await proxy.cut();
          return output;
        },
        { step: 'initialize', name: 'cutDynamoAfterSend' },
      );
      const inProgressMsMax = 400;
      const key = newKey();
      const request = await transferRequest();

      const answered = await submission({ dynamo: viaProxy.dynamo, sqs, inProgressMsMax }).submit(
        key,
        request,
      );
      await proxy.restore();
      // The record stayed in progress; once its bound passes, a retry takes it over.
      await sleep(inProgressMsMax + 200);
      const retried = await submission({ inProgressMsMax }).submit(key, request);
      const replayed = await submission({ inProgressMsMax }).submit(key, request);

      expect(retried).toEqual(answered);
      expect(replayed).toEqual(answered);
      const queued = await drainGroup(request.debitAccountId);
      expect(queued.map((transfer) => transfer.id)).toEqual([answered.id]);
      const ledger = new PostgresLedgerStore(database.pool);
      expect((await ledger.postBatch([...queued, answered], [])).results).toEqual(['posted', 'exists']);
      const { rows } = await database.pool.query(
        'select count(*)::int as count from ledger.transfers where id = $1',
        [answered.id],
      );
      expect(rows[0].count).toBe(1);
      // Counted by the first attempt and again by the retry, which resent it: early refusal at worst.
      expect(await windowCount(request.debitAccountId)).toBe(2);
    } finally {
      await proxy.close();
    }
  });

  it("keeps the velocity slot when the send's outcome is unknown, and the retry sends the same transfer id, counted once more", async () => {
    const moto = new URL(aws.endpoint);
    const proxy = await startTcpProxy(moto.hostname, Number.parseInt(moto.port, 10));
    try {
      const stalledSqs = awsClients(localAwsSettings(`http://127.0.0.1:${proxy.port}`)).sqs;
      proxy.hold();
      const key = newKey();
      const request = await transferRequest();

      const failure = await submission({ sqs: stalledSqs, budgetMs: 1_500 })
        .submit(key, request)
        .catch((error: unknown) => error);
      const countAfterFailure = await windowCount(request.debitAccountId);
      const retried = await submission().submit(key, request);

      expect(failure).toBeInstanceOf(TransferQueueOutcomeUnknownError);
      expect(countAfterFailure).toBe(1);
      expect(await windowCount(request.debitAccountId)).toBe(2);
      expect((await drainGroup(request.debitAccountId)).map((transfer) => transfer.id)).toEqual([retried.id]);
    } finally {
      await proxy.close();
    }
  });

  it('gives a key whose record outlived its expiry a fresh transfer id, never the old one the ledger may hold', async () => {
    const key = newKey();
    const request = await transferRequest();
    const first = await submission().submit(key, request);
    // TTL deletes late: the record is still there a day later, past its expiry.
    const { Items = [] } = await aws.clients.dynamo.send(
      new ScanCommand({
        TableName: aws.resources.tableNames.idempotency,
        FilterExpression: 'transfer_id = :id',
        ExpressionAttributeValues: { ':id': { S: first.id } },
      }),
    );
    expect(Items).toHaveLength(1);
    await aws.clients.dynamo.send(
      new UpdateItemCommand({
        TableName: aws.resources.tableNames.idempotency,
        Key: { id: Items[0]?.id ?? { S: '' } },
        UpdateExpression: 'SET expiration = :past',
        ExpressionAttributeValues: { ':past': { N: String(Math.floor(Date.now() / 1000) - 60) } },
      }),
    );

    const second = await submission().submit(key, request);

    expect(second.id).not.toBe(first.id);
    expect(second.acceptedAt > first.acceptedAt).toBe(true);
    expect((await drainGroup(request.debitAccountId)).map((transfer) => transfer.id).sort()).toEqual(
      [first.id, second.id].sort(),
    );
  });
});
