import { Logger } from '@aws-lambda-powertools/logger';
import { DeleteMessageBatchCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import outboxRelayFunction from '../../functions/outbox-relay';
import transferConsumer from '../../functions/transfer-consumer';
import { EventBridgePublisher } from '../../shared/adapters/aws/eventbridge-publisher';
import { PostgresLedgerStore } from '../../shared/adapters/postgres/ledger-store';
import { PostgresOutboxStore } from '../../shared/adapters/postgres/outbox-store';
import type { TransferId } from '../../shared/domain/ids';
import { TransientError } from '../../shared/errors';
import type { EventPublisher, LedgerEvent, PublishOutcome } from '../../shared/ports/event-publisher';
import { OutboxRelay } from '../../shared/services/outbox-relay';
import { topology } from '../../shared/topology';
import type { Wiring } from '../../shared/wiring';
import { testWiring } from '../support/api';
import { useTestAws } from '../support/aws';
import { useTestDatabase } from '../support/database';
import { createAccount, sqsEvent, transferFactory, transferRecord } from '../support/factories';

const database = useTestDatabase();
const aws = useTestAws();
const logger = new Logger({ serviceName: 'test', logLevel: 'SILENT' });

function dependencies(): Wiring {
  return testWiring(database.pool, { clients: aws.clients, resources: aws.resources });
}

/** One relay run through the real outbox, publishing with `through`. */
function relayOutbox(through: EventPublisher, rowCountMax?: number) {
  return new OutboxRelay(new PostgresOutboxStore(database.pool), through, logger).relay(rowCountMax);
}

function publisher(): EventBridgePublisher {
  return new EventBridgePublisher(aws.clients.eventBridge, {
    eventBusName: aws.resources.eventBusName,
    source: topology.eventBus.source,
  });
}

/** Posts `count` transfers straight through the store; each writes one outbox row. */
async function postTransfers(count: number): Promise<TransferId[]> {
  const debitId = await createAccount(database.pool);
  const creditId = await createAccount(database.pool);
  const transfers = Array.from({ length: count }, () =>
    transferFactory({ debitAccountId: debitId, creditAccountId: creditId, amount: 1n }),
  );
  await new PostgresLedgerStore(database.pool).postBatch(transfers, []);
  return transfers.map((transfer) => transfer.id);
}

async function unpublishedCount(): Promise<number> {
  const { rows } = await database.pool.query<{ count: number }>(
    'select count(*)::int as count from ledger.outbox where published_at is null',
  );
  return rows[0]?.count ?? -1;
}

/** Drains the transfer events queue (bounded) and returns the events' details. */
async function receiveEvents(expectedCount: number): Promise<Record<string, unknown>[]> {
  const details: Record<string, unknown>[] = [];
  const deadline = Date.now() + 10_000;
  while (details.length < expectedCount && Date.now() < deadline) {
    const { Messages = [] } = await aws.clients.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: aws.resources.queueUrls.transferEvents,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
      }),
    );
    if (Messages.length === 0) continue;
    for (const message of Messages) details.push(JSON.parse(message.Body ?? '{}'));
    await aws.clients.sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: aws.resources.queueUrls.transferEvents,
        Entries: Messages.map((message, index) => ({
          Id: String(index),
          ReceiptHandle: message.ReceiptHandle,
        })),
      }),
    );
  }
  return details;
}

/** The id of an event's subject: its transfer's, or its account's. */
function subjectId(event: LedgerEvent): string {
  return String('transfer' in event ? event.transfer.id : event.account.id);
}

/** A publisher that refuses the events whose transfer id is in `refused` and counts its calls. */
class RefusingPublisher implements EventPublisher {
  public callCount = 0;
  public readonly seen: string[] = [];

  public constructor(
    private readonly inner: EventPublisher,
    private readonly refused: ReadonlySet<string>,
  ) {}

  public async publish(events: readonly LedgerEvent[]): Promise<PublishOutcome[]> {
    this.callCount += 1;
    this.seen.push(...events.map((event) => event.eventId));
    const allowed = events.filter((event) => !this.refused.has(subjectId(event)));
    const outcomes = await this.inner.publish(allowed);
    let next = 0;
    return events.map((event): PublishOutcome => {
      if (this.refused.has(subjectId(event))) return { kind: 'failed', reason: 'test: refused' };
      const outcome = outcomes[next];
      next += 1;
      return outcome ?? { kind: 'failed', reason: 'test: missing outcome' };
    });
  }
}

describe('the outbox relay', () => {
  it('publishes every unpublished event once, in PutEvents calls of at most 10, and marks them', async () => {
    await relayOutbox(publisher(), 1000);
    await receiveEvents(0);
    const transferIds = await postTransfers(23);

    const outcome = await relayOutbox(publisher(), 100);
    const again = await relayOutbox(publisher(), 100);
    const events = await receiveEvents(23);

    expect(outcome).toEqual({ selectedCount: 23, publishedCount: 23, failedCount: 0 });
    expect(again).toEqual({ selectedCount: 0, publishedCount: 0, failedCount: 0 });
    expect(await unpublishedCount()).toBe(0);
    expect(events).toHaveLength(23);
    const details = events.map(
      (event) => event.detail as { event_id: string; type: string; transfer: { id: string } },
    );
    expect(new Set(details.map((detail) => detail.transfer.id))).toEqual(new Set(transferIds));
    expect(new Set(details.map((detail) => detail.event_id)).size).toBe(23);
    expect(events[0]).toMatchObject({ source: topology.eventBus.source, 'detail-type': 'transfer.posted' });
    expect(details[0]).toMatchObject({
      type: 'transfer.posted',
      transfer: { status: 'posted', amount: '1', currency: 'USD' },
    });
  });

  it('takes at most rowCountMax rows per run, oldest first', async () => {
    await postTransfers(7);

    const first = await relayOutbox(publisher(), 5);
    const second = await relayOutbox(publisher(), 5);
    await receiveEvents(7);

    expect(first.selectedCount).toBe(5);
    expect(second.selectedCount).toBe(2);
    expect(await unpublishedCount()).toBe(0);
  });

  it('leaves the entries the bus refused unpublished, and publishes them on a later run', async () => {
    const transferIds = await postTransfers(4);
    const refused = new Set([transferIds[1] ?? '', transferIds[3] ?? '']);

    const outcome = await relayOutbox(new RefusingPublisher(publisher(), refused));
    const unpublishedAfterRefusal = await unpublishedCount();
    const retry = await relayOutbox(publisher());
    const events = await receiveEvents(4);

    expect(outcome).toEqual({ selectedCount: 4, publishedCount: 2, failedCount: 2 });
    expect(unpublishedAfterRefusal).toBe(2);
    expect(retry).toEqual({ selectedCount: 2, publishedCount: 2, failedCount: 0 });
    expect(events).toHaveLength(4);
  });

  it('marks nothing when the publish call fails, and throws a transient error', async () => {
    await postTransfers(3);
    const unreachable: EventPublisher = {
      publish: async () => {
        throw new TransientError('test: bus unreachable');
      },
    };

    await expect(relayOutbox(unreachable)).rejects.toBeInstanceOf(TransientError);
    const unpublishedAfterFailure = await unpublishedCount();
    await relayOutbox(publisher());
    await receiveEvents(3);

    expect(unpublishedAfterFailure).toBe(3);
    expect(await unpublishedCount()).toBe(0);
  });

  it('shares the work between concurrent relays: no row is published by two of them', async () => {
    await postTransfers(30);
    const publishers = Array.from({ length: 3 }, () => new RefusingPublisher(publisher(), new Set()));

    const outcomes = await Promise.all(publishers.map((each) => relayOutbox(each, 10)));
    const rest = await relayOutbox(publisher(), 100);
    await receiveEvents(30);

    const seen = publishers.flatMap((each) => each.seen);
    expect(new Set(seen).size).toBe(seen.length);
    expect(outcomes.reduce((sum, outcome) => sum + outcome.publishedCount, 0) + rest.publishedCount).toBe(30);
    expect(await unpublishedCount()).toBe(0);
  });

  it('runs from the schedule until the backlog is drained', async () => {
    await postTransfers(120);

    const result = await outboxRelayFunction.build(dependencies())();
    await receiveEvents(120);

    expect(result).toEqual({ runCount: 2, publishedCount: 120, failedCount: 0 });
    expect(await unpublishedCount()).toBe(0);
  });

  it('is run by the transfer consumer after each batch, so events leave with the batch', async () => {
    const debitId = await createAccount(database.pool);
    const creditId = await createAccount(database.pool);
    const transfers = Array.from({ length: 5 }, () =>
      transferFactory({ debitAccountId: debitId, creditAccountId: creditId, amount: 3n }),
    );

    const response = await transferConsumer.build(dependencies())(
      sqsEvent(transfers.map((transfer) => transferRecord(transfer))),
    );
    const events = await receiveEvents(5);

    expect(response).toEqual({ batchItemFailures: [] });
    expect(await unpublishedCount()).toBe(0);
    expect(
      new Set(events.map((event) => (event.detail as { transfer: { id: string } }).transfer.id)),
    ).toEqual(new Set(transfers.map((transfer) => transfer.id)));
  });

  it('keeps a consumer batch posted when the relay after it fails', async () => {
    const debitId = await createAccount(database.pool);
    const creditId = await createAccount(database.pool);
    const transfer = transferFactory({ debitAccountId: debitId, creditAccountId: creditId, amount: 3n });
    const broken = testWiring(database.pool, {
      clients: aws.clients,
      resources: { ...aws.resources, eventBusName: `${aws.namePrefix}no-such-bus` },
    });

    const response = await transferConsumer.build(broken)(sqsEvent([transferRecord(transfer)]));
    const unpublishedAfterBatch = await unpublishedCount();
    await relayOutbox(publisher());
    await receiveEvents(1);

    expect(response).toEqual({ batchItemFailures: [] });
    expect(unpublishedAfterBatch).toBe(1);
    expect(await unpublishedCount()).toBe(0);
  });
});
