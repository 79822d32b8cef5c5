import { randomUUID } from 'node:crypto';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import transferEvents from '../../functions/transfer-events';
import { freePort } from '../../infra/local/postgres';
import { PostgresLedgerStore } from '../../shared/adapters/postgres/ledger-store';
import { createPool } from '../../shared/adapters/postgres/pool';
import { topology } from '../../shared/topology';
import { testWiring } from '../support/api';
import { useTestAws } from '../support/aws';
import { useTestDatabase } from '../support/database';
import { createAccount, sqsEvent, transferFactory } from '../support/factories';

const database = useTestDatabase();
const aws = useTestAws();

function consume(records: readonly SQSRecord[]) {
  return transferEvents.build(testWiring(database.pool, { clients: aws.clients, resources: aws.resources }))(
    sqsEvent(records),
  );
}

/** An SQS record carrying an EventBridge envelope, as the rule delivers it. */
function envelopeRecord(detail: Record<string, unknown>, detailType = 'transfer.posted'): SQSRecord {
  return {
    messageId: randomUUID(),
    receiptHandle: `receipt-${randomUUID()}`,
    body: JSON.stringify({
      version: '0',
      id: randomUUID(),
      'detail-type': detailType,
      source: topology.eventBus.source,
      time: new Date().toISOString(),
      region: 'us-east-1',
      resources: [],
      detail,
    }),
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: String(Date.now()),
      SenderId: 'test',
      ApproximateFirstReceiveTimestamp: String(Date.now()),
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: aws.resources.queueArns.transferEvents,
    awsRegion: 'us-east-1',
  };
}

function ledgerEvent(type = 'transfer.posted'): { event_id: string; type: string; transfer: { id: string } } {
  return { event_id: randomUUID(), type, transfer: { id: randomUUID() } };
}

async function receipts(eventIds: readonly string[]): Promise<Record<string, number>> {
  const { rows } = await database.pool.query<{ event_id: string; delivery_count: number }>(
    'select event_id, delivery_count from ledger.event_receipts where event_id = any($1::uuid[])',
    [eventIds],
  );
  return Object.fromEntries(rows.map((row) => [row.event_id, row.delivery_count]));
}

describe('the transfer events consumer', () => {
  it('records each event once and counts every delivery, in one batch or across batches', async () => {
    const [first, second] = [ledgerEvent(), ledgerEvent('transfer.rejected')];
    const batch = [envelopeRecord(first), envelopeRecord(second, 'transfer.rejected'), envelopeRecord(first)];

    const response = await consume(batch);
    const redelivered = await consume([envelopeRecord(second, 'transfer.rejected')]);

    expect(response).toEqual({ batchItemFailures: [] });
    expect(redelivered).toEqual({ batchItemFailures: [] });
    expect(await receipts([first.event_id, second.event_id])).toEqual({
      [first.event_id]: 2,
      [second.event_id]: 2,
    });
  });

  it.each([
    ['a body that is not JSON', (record: SQSRecord) => ({ ...record, body: '{"detail": ' })],
    ['an event of another source shape', (record: SQSRecord) => ({ ...record, body: '{"detail": {}}' })],
    ['an event id that is not a UUID', () => envelopeRecord({ ...ledgerEvent(), event_id: 'not-a-uuid' })],
    ['a detail type the detail contradicts', () => envelopeRecord(ledgerEvent('transfer.rejected'))],
  ])('fails %s alone and records the rest of its batch', async (_case, makeBad) => {
    const good = ledgerEvent();
    const bad = makeBad(envelopeRecord(ledgerEvent()));

    const response = await consume([envelopeRecord(good), bad]);

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: bad.messageId }] });
    expect(await receipts([good.event_id])).toEqual({ [good.event_id]: 1 });
  });

  it('fails the whole batch when the database is unreachable, and records it on redelivery', async () => {
    const events = [ledgerEvent(), ledgerEvent()];
    const records = events.map((event) => envelopeRecord(event));
    const unreachable = createPool(`postgres://postgres:postgres@127.0.0.1:${await freePort()}/none`, {
      connectionCountMax: 1,
      connectTimeoutMs: 1_000,
      queryTimeoutMs: 1_000,
      idleTimeoutMs: 1_000,
    });
    const response = await transferEvents.build(testWiring(unreachable))(sqsEvent(records));
    await unreachable.end();
    const redelivered = await consume(records);

    expect(response).toEqual({
      batchItemFailures: records.map((record) => ({ itemIdentifier: record.messageId })),
    });
    expect(redelivered).toEqual({ batchItemFailures: [] });
    expect(await receipts(events.map((event) => event.event_id))).toEqual(
      Object.fromEntries(events.map((event) => [event.event_id, 1])),
    );
  });

  it('records what the outbox relay published, as the rule delivers it through SQS', async () => {
    const debitId = await createAccount(database.pool);
    const creditId = await createAccount(database.pool);
    const transfer = transferFactory({ debitAccountId: debitId, creditAccountId: creditId, amount: 7n });
    await new PostgresLedgerStore(database.pool).postBatch([transfer], []);
    await testWiring(database.pool, {
      clients: aws.clients,
      resources: aws.resources,
    }).services.outboxRelay.relay();
    const { Messages = [] } = await aws.clients.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: aws.resources.queueUrls.transferEvents,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 2,
      }),
    );
    const records = Messages.map((message) => ({
      ...envelopeRecord({}),
      messageId: message.MessageId ?? '',
      body: message.Body ?? '',
    }));

    const response = await consume(records);

    const { rows } = await database.pool.query<{ event_type: string; delivery_count: number }>(
      'select event_type, delivery_count from ledger.event_receipts where transfer_id = $1',
      [transfer.id],
    );
    expect(records).toHaveLength(1);
    expect(response).toEqual({ batchItemFailures: [] });
    expect(rows).toEqual([{ event_type: 'transfer.posted', delivery_count: 1 }]);
  });
});
