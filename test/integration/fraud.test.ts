import { randomUUID } from 'node:crypto';
import { PurgeQueueCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import pg from 'pg';
import { describe, expect, inject, it } from 'vitest';
import fraudPatternsFunction from '../../functions/fraud-patterns';
import fraudScorerFunction from '../../functions/fraud-scorer';
import listFraudFlagsFunction from '../../functions/list-fraud-flags';
import { PostgresFraudStore } from '../../shared/adapters/postgres/fraud-store';
import { PostgresLedgerStore } from '../../shared/adapters/postgres/ledger-store';
import { migrate, readMigrations } from '../../shared/adapters/postgres/migrate';
import { defaultFraudSettings, type ScoredTransfer } from '../../shared/domain/fraud';
import { parseAccountId, parseTransferId } from '../../shared/domain/ids';
import { FraudPatternService, FraudScoringService } from '../../shared/services/fraud';
import { topology } from '../../shared/topology';
import type { Wiring } from '../../shared/wiring';
import { MemoryFraudStore } from '../eval/memory-fraud-store';
import { generateTraffic } from '../eval/traffic';
import { apiEvent, parseResponse, silentLogger, testWiring } from '../support/api';
import { useTestAws } from '../support/aws';
import { databaseUrl, useTestDatabase } from '../support/database';
import { createAccount, sqsEvent, transferFactory } from '../support/factories';

const createPatternListener = (wiring: Wiring) => fraudPatternsFunction.build(wiring);
const createScorer = (wiring: Wiring) => fraudScorerFunction.build(wiring);
const createListFlags = (wiring: Wiring) => listFraudFlagsFunction.build(wiring);

const database = useTestDatabase();
const aws = useTestAws();

function dependencies(): Wiring {
  return testWiring(database.pool, { clients: aws.clients, resources: aws.resources });
}

/** Posts the transfers in the ledger (making their accounts), so verdicts and flags name real ones. */
async function postInLedger(transfers: readonly ScoredTransfer[]): Promise<void> {
  const { rows } = await database.pool.query<{ id: string }>('select id from ledger.accounts');
  const existing = new Set(rows.map((row) => row.id));
  for (const transfer of transfers) {
    for (const id of [transfer.debitAccountId, transfer.creditAccountId]) {
      if (existing.has(id)) continue;
      const accountId = parseAccountId(id);
      if (accountId === undefined) throw new Error(`test: ${id} is not an account id`);
      await createAccount(database.pool, { id: accountId });
      existing.add(id);
    }
  }
  const store = new PostgresLedgerStore(database.pool);
  for (let start = 0; start < transfers.length; start += 10) {
    const commands = transfers.slice(start, start + 10).map((transfer) => {
      const id = parseTransferId(transfer.transferId);
      const debitAccountId = parseAccountId(transfer.debitAccountId);
      const creditAccountId = parseAccountId(transfer.creditAccountId);
      if (id === undefined || debitAccountId === undefined || creditAccountId === undefined) {
        throw new Error('test: transfers need valid ids');
      }
      return transferFactory({ id, debitAccountId, creditAccountId, amount: transfer.amount });
    });
    const { results } = await store.postBatch(commands, []);
    expect(results.every((result) => result === 'posted')).toBe(true);
  }
}

/** A transfer of `debit` posted at `postedAt`, with fresh ids unless the test says otherwise. */
function posted(overrides: Partial<ScoredTransfer> = {}): ScoredTransfer {
  const transfer = transferFactory();
  return {
    transferId: transfer.id,
    debitAccountId: transfer.debitAccountId,
    creditAccountId: transfer.creditAccountId,
    amount: 1_000n,
    postedAt: new Date().toISOString(),
    ...overrides,
  };
}

/** The SQS record the fraud rules deliver for a `transfer.posted` event. */
function postedRecord(transfer: ScoredTransfer, eventId: string = randomUUID()): SQSRecord {
  return {
    messageId: randomUUID(),
    receiptHandle: `receipt-${randomUUID()}`,
    body: JSON.stringify({
      version: '0',
      id: randomUUID(),
      'detail-type': 'transfer.posted',
      source: topology.eventBus.source,
      time: new Date().toISOString(),
      region: 'us-east-1',
      resources: [],
      detail: {
        event_id: eventId,
        type: 'transfer.posted',
        transfer: {
          id: transfer.transferId,
          status: 'posted',
          reason: null,
          debit_account_id: transfer.debitAccountId,
          credit_account_id: transfer.creditAccountId,
          amount: transfer.amount.toString(),
          currency: 'USD',
          metadata: {},
          accepted_at: transfer.postedAt,
          processed_at: transfer.postedAt,
        },
      },
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
    eventSourceARN: aws.resources.queueArns.fraudScorer,
    awsRegion: 'us-east-1',
  };
}

async function verdictOf(transferId: string) {
  const { rows } = await database.pool.query<{ status: string; score: number | null; reasons: string[] }>(
    'select status, score, reasons from fraud.verdicts where transfer_id = $1',
    [transferId],
  );
  return rows[0];
}

async function observationCount(accountId: string): Promise<number | undefined> {
  const { rows } = await database.pool.query<{ observation_count: number }>(
    'select observation_count from fraud.profiles where account_id = $1',
    [accountId],
  );
  return rows[0]?.observation_count;
}

async function flaggedEvents(transferIds: readonly string[]): Promise<number> {
  const { rows } = await database.pool.query<{ count: string }>(
    `select count(*) from ledger.outbox where event_type = 'transfer.flagged' and transfer_id = any($1::uuid[])`,
    [transferIds],
  );
  return Number(rows[0]?.count ?? 0);
}

describe('the fraud scorer', () => {
  it('scores a transfer once per event id: a redelivery changes neither the verdict nor the profile', async () => {
    const transfer = posted();
    await postInLedger([transfer]);
    const record = postedRecord(transfer);
    const scorer = createScorer(dependencies());

    const first = await scorer(sqsEvent([record, { ...record, messageId: randomUUID() }]));
    const again = await scorer(sqsEvent([{ ...record, messageId: randomUUID() }]));

    expect(first).toEqual({ batchItemFailures: [] });
    expect(again).toEqual({ batchItemFailures: [] });
    expect(await verdictOf(transfer.transferId)).toEqual({ status: 'clear', score: 0, reasons: [] });
    expect(await observationCount(transfer.debitAccountId)).toBe(1);
    const { rows } = await database.pool.query(
      'select 1 from fraud.processed_events where transfer_id = $1',
      [transfer.transferId],
    );
    expect(rows).toHaveLength(1);
  });

  it('flags a new account paying far above the cold-start amount, with one transfer.flagged event that the relay publishes', async () => {
    const transfer = posted({ amount: defaultFraudSettings.coldStartAmountMax * 10n });
    await postInLedger([transfer]);
    const scorer = createScorer(dependencies());
    const record = postedRecord(transfer);

    await scorer(sqsEvent([record]));
    await scorer(sqsEvent([{ ...record, messageId: randomUUID() }]));

    const verdict = await verdictOf(transfer.transferId);
    expect(verdict?.status).toBe('flagged');
    expect(verdict?.reasons).toEqual(['amount_unusual']);
    // At cold start only the fixed rule judges: an amount over the cold-start bound scores 0.95.
    expect(verdict?.score).toBe(0.95);
    expect(await flaggedEvents([transfer.transferId])).toBe(1);
    const { rows } = await database.pool.query<{ published_at: Date | null }>(
      `select published_at from ledger.outbox where event_type = 'transfer.flagged' and transfer_id = $1`,
      [transfer.transferId],
    );
    expect(rows[0]?.published_at).not.toBeNull();
  });

  it('keeps every profile update when one account’s events are scored at once', async () => {
    const first = posted();
    const transfers = [
      first,
      ...Array.from({ length: 11 }, () => posted({ debitAccountId: first.debitAccountId })),
    ];
    await postInLedger(transfers);
    const scorers = Array.from({ length: 4 }, () => createScorer(dependencies()));

    const responses = await Promise.all(
      transfers.map((transfer, index) =>
        scorers[index % scorers.length]?.(sqsEvent([postedRecord(transfer)])),
      ),
    );

    expect(responses.every((response) => response?.batchItemFailures.length === 0)).toBe(true);
    expect(await observationCount(first.debitAccountId)).toBe(transfers.length);
  });

  it('fails a record that is not a transfer.posted event alone, and scores the rest of its batch', async () => {
    const transfer = posted();
    await postInLedger([transfer]);
    const good = postedRecord(transfer);
    const bad = { ...postedRecord(posted()), body: '{"detail": {}}' };

    const response = await createScorer(dependencies())(sqsEvent([bad, good]));

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: bad.messageId }] });
    expect((await verdictOf(transfer.transferId))?.status).toBe('clear');
  });

  it('receives transfer.posted from the bus through its own rule and queue', async () => {
    // The scorer relays the outbox after its batches, so earlier tests' events are in the queue.
    await aws.clients.sqs.send(new PurgeQueueCommand({ QueueUrl: aws.resources.queueUrls.fraudScorer }));
    const transfer = posted();
    await postInLedger([transfer]);
    await dependencies().services.outboxRelay.relay();
    const { Messages = [] } = await aws.clients.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: aws.resources.queueUrls.fraudScorer,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 2,
      }),
    );
    const records = Messages.map((message) => ({
      ...postedRecord(transfer),
      messageId: message.MessageId ?? '',
      body: message.Body ?? '',
    }));

    const response = await createScorer(dependencies())(sqsEvent(records));

    expect(records).toHaveLength(1);
    expect(response).toEqual({ batchItemFailures: [] });
    expect((await verdictOf(transfer.transferId))?.status).toBe('clear');
  });
});

describe('the pattern listener', () => {
  it('flags every transfer of a fan-out to many counterparties in a short window, once', async () => {
    const debit = posted().debitAccountId;
    const startMs = Date.now() - 600_000;
    const burst = Array.from({ length: defaultFraudSettings.fanOutNewCounterpartyCountMin }, (_, index) =>
      posted({ debitAccountId: debit, postedAt: new Date(startMs + index * 30_000).toISOString() }),
    );
    await postInLedger(burst);
    const listener = createPatternListener(dependencies());
    const records = burst.map((transfer) => postedRecord(transfer));

    const first = await listener(sqsEvent(records.slice(0, 3)));
    const rest = await listener(sqsEvent(records.slice(3)));
    await listener(sqsEvent(records.map((record) => ({ ...record, messageId: randomUUID() }))));

    expect(first).toEqual({ batchItemFailures: [] });
    expect(rest).toEqual({ batchItemFailures: [] });
    for (const transfer of burst) {
      expect(await verdictOf(transfer.transferId)).toEqual({
        status: 'flagged',
        score: null,
        reasons: ['fan_out'],
      });
    }
    expect(await flaggedEvents(burst.map((transfer) => transfer.transferId))).toBe(burst.length);
  });

  /**
   * A shop-paying account: a week ago it paid each of four shops twice; now it pays them forty
   * times over four minutes, round the four, and `extra` (each with its own minute offset) in
   * between. Returns the week-old history, the forty and the extra transfers.
   */
  function familiarBurst(
    extra: (debitAccountId: string, at: (second: number) => string) => ScoredTransfer[],
  ) {
    const debitAccountId = posted().debitAccountId;
    const shops = Array.from({ length: 4 }, () => posted().creditAccountId);
    const startMs = Date.now() - 600_000;
    const at = (second: number) => new Date(startMs + second * 1000).toISOString();
    const history = shops.flatMap((creditAccountId, index) =>
      [0, 1].map((visit) =>
        posted({ debitAccountId, creditAccountId, postedAt: at(-7 * 86_400 + visit * 3600 + index * 60) }),
      ),
    );
    const ordinary = Array.from({ length: 40 }, (_, index) =>
      posted({
        debitAccountId,
        creditAccountId: shops[index % shops.length],
        amount: 2_000n + BigInt(index * 37),
        postedAt: at(index * 6),
      }),
    );
    return { history, ordinary, extra: extra(debitAccountId, at) };
  }

  async function flaggedAmong(transfers: readonly ScoredTransfer[]): Promise<Map<string, string[]>> {
    const { rows } = await database.pool.query<{ transfer_id: string; reasons: string[] }>(
      `select transfer_id, reasons from fraud.verdicts
        where status = 'flagged' and transfer_id = any($1::uuid[])`,
      [transfers.map((transfer) => transfer.transferId)],
    );
    return new Map(rows.map((row) => [row.transfer_id, row.reasons]));
  }

  it('does not call an account’s burst of payments to four familiar shops and one large payment to a new account a fan-out', async () => {
    const { history, ordinary, extra } = familiarBurst((debitAccountId, at) => [
      posted({ debitAccountId, amount: 5_000_000n, postedAt: at(245) }),
    ]);
    const all = [...history, ...ordinary, ...extra];
    await postInLedger(all);
    const scorer = createScorer(dependencies());
    const listener = createPatternListener(dependencies());

    for (const transfer of all) {
      const record = postedRecord(transfer);
      expect(await scorer(sqsEvent([record]))).toEqual({ batchItemFailures: [] });
      expect(await listener(sqsEvent([record]))).toEqual({ batchItemFailures: [] });
    }

    // Only the large payment to someone new stands out, and for what it is, not as a fan-out.
    const flagged = await flaggedAmong(all);
    expect([...flagged.keys()]).toEqual(extra.map((transfer) => transfer.transferId));
    expect(flagged.get(extra[0]?.transferId ?? '')).not.toContain('fan_out');
    expect(await flaggedEvents(all.map((transfer) => transfer.transferId))).toBe(1);
  });

  it('flags the transfers to the new counterparties of a fan-out hidden among payments to familiar shops, and only those', async () => {
    const { history, ordinary, extra } = familiarBurst((debitAccountId, at) =>
      Array.from({ length: defaultFraudSettings.fanOutNewCounterpartyCountMin }, (_, index) =>
        posted({ debitAccountId, amount: 40_000n, postedAt: at(index * 45 + 3) }),
      ),
    );
    const all = [...history, ...ordinary, ...extra].sort((a, b) => a.postedAt.localeCompare(b.postedAt));
    await postInLedger(all);
    const listener = createPatternListener(dependencies());

    for (const transfer of all) {
      expect(await listener(sqsEvent([postedRecord(transfer)]))).toEqual({ batchItemFailures: [] });
    }

    const flagged = await flaggedAmong(all);
    expect(flagged).toEqual(new Map(extra.map((transfer) => [transfer.transferId, ['fan_out']])));
    expect(await flaggedEvents(all.map((transfer) => transfer.transferId))).toBe(extra.length);
    for (const transfer of [...history, ...ordinary]) {
      expect(await verdictOf(transfer.transferId)).toBeUndefined();
    }
  });

  it('flags amounts structured just under the limit, and not the same count of amounts below the band', async () => {
    const { structuringLimit, structuringCountMin } = defaultFraudSettings;
    const justUnder = posted().debitAccountId;
    const wellUnder = posted().debitAccountId;
    const startMs = Date.now() - 6 * 3600_000;
    const sequence = (debitAccountId: string, amount: bigint) =>
      Array.from({ length: structuringCountMin }, (_, index) =>
        posted({ debitAccountId, amount, postedAt: new Date(startMs + index * 3600_000).toISOString() }),
      );
    const structured = sequence(justUnder, structuringLimit - structuringLimit / 50n);
    const ordinary = sequence(wellUnder, structuringLimit / 2n);
    await postInLedger([...structured, ...ordinary]);
    const listener = createPatternListener(dependencies());

    for (const transfer of [...structured, ...ordinary]) await listener(sqsEvent([postedRecord(transfer)]));

    for (const transfer of structured) {
      expect((await verdictOf(transfer.transferId))?.reasons).toEqual(['structuring']);
    }
    for (const transfer of ordinary) expect(await verdictOf(transfer.transferId)).toBeUndefined();
    expect(await flaggedEvents(structured.map((transfer) => transfer.transferId))).toBe(structured.length);
  });

  it('adds its reasons to the scorer’s verdict, keeping the score', async () => {
    const debit = posted().debitAccountId;
    const startMs = Date.now() - 600_000;
    const burst = Array.from({ length: defaultFraudSettings.fanOutNewCounterpartyCountMin }, (_, index) =>
      posted({ debitAccountId: debit, postedAt: new Date(startMs + index * 10_000).toISOString() }),
    );
    await postInLedger(burst);
    const records = burst.map((transfer) => postedRecord(transfer));

    await createScorer(dependencies())(sqsEvent(records));
    await createPatternListener(dependencies())(sqsEvent(records));

    const last = await verdictOf(burst.at(-1)?.transferId ?? '');
    expect(last?.status).toBe('flagged');
    expect(last?.score).toEqual(expect.any(Number));
    expect(last?.reasons).toContain('fan_out');
  });
});

describe('the Postgres fraud store', () => {
  it('agrees with the in-memory store of the evaluation on every verdict and profile', async () => {
    const traffic = generateTraffic({
      seed: 5,
      accountCount: 2,
      warmUpDays: 12,
      evaluationDays: 3,
      businessAccountCount: 0,
      casesPerKind: 1,
    });
    const accounts = new Set(traffic.map((transfer) => transfer.debitAccountId));
    const transfers = traffic.filter((transfer) => accounts.has(transfer.debitAccountId));
    await postInLedger(transfers);
    const memory = new MemoryFraudStore();
    const postgres = new PostgresFraudStore(database.pool);
    const services = [memory, postgres].map((store) => ({
      scorer: new FraudScoringService(store, defaultFraudSettings, silentLogger),
      patterns: new FraudPatternService(store, defaultFraudSettings, silentLogger),
    }));

    for (const transfer of transfers) {
      const event = { eventId: randomUUID(), transfer };
      for (const { scorer, patterns } of services) {
        await scorer.score(event);
        await patterns.check(event);
      }
    }

    const { rows } = await database.pool.query<{
      transfer_id: string;
      score: number | null;
      reasons: string[];
      status: string;
    }>('select transfer_id, score, reasons, status from fraud.verdicts where transfer_id = any($1::uuid[])', [
      transfers.map((transfer) => transfer.transferId),
    ]);
    const stored = new Map(rows.map((row) => [row.transfer_id, row]));
    for (const transfer of transfers) {
      const inMemory = memory.verdicts.get(transfer.transferId);
      const row = stored.get(transfer.transferId);
      expect({ score: row?.score, reasons: row?.reasons, flagged: row?.status === 'flagged' }).toEqual({
        score: inMemory?.score,
        reasons: memory.reasonsOf(transfer.transferId),
        flagged: inMemory?.flagged,
      });
    }
    for (const account of accounts) {
      const { rows: profiles } = await database.pool.query<{ state: unknown }>(
        'select state from fraud.profiles where account_id = $1',
        [account],
      );
      expect(profiles[0]?.state).toEqual(memory.profiles.get(account));
    }
    expect(transfers.some((transfer) => memory.verdicts.get(transfer.transferId)?.flagged)).toBe(true);
    expect(await flaggedEvents(transfers.map((transfer) => transfer.transferId))).toBe(
      memory.flaggedEvents.length,
    );
  });
});

describe('migration 0009_fraud_first_payments', () => {
  it('remembers as paid before every counterparty the scorer or the pattern window knew, at the earlier time', async () => {
    const serverUrl = inject('serverUrl');
    const name = `ledgerx_test_first_payments_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
    const admin = new pg.Client(serverUrl);
    await admin.connect();
    await admin.query(`create database ${name}`);
    const client = new pg.Client(databaseUrl(serverUrl, name));
    await client.connect();
    try {
      const migrations = await readMigrations();
      const index = migrations.findIndex((migration) => migration.name === '0009_fraud_first_payments');
      await migrate(client, migrations.slice(0, index));
      const [account, scored, windowed, both] = Array.from({ length: 4 }, () => randomUUID());
      await client.query(
        `insert into fraud.counterparties (account_id, counterparty_id, transfer_count, first_seen_at)
         values ($1, $2, 3, '2026-01-10T08:00:00Z'), ($1, $3, 1, '2026-03-02T10:00:05Z')`,
        [account, scored, both],
      );
      await client.query(
        `insert into fraud.pattern_transfers (transfer_id, debit_account_id, credit_account_id, amount, posted_at)
         values ($1, $3, $4, 100, '2026-03-02T09:00:00Z'), ($2, $3, $5, 100, '2026-03-02T10:00:00Z')`,
        [randomUUID(), randomUUID(), account, windowed, both],
      );

      await migrate(client, migrations);

      const { rows } = await client.query<{ counterparty_id: string; first_posted_at: Date }>(
        'select counterparty_id, first_posted_at from fraud.pattern_counterparties where account_id = $1',
        [account],
      );
      expect(new Map(rows.map((row) => [row.counterparty_id, row.first_posted_at.toISOString()]))).toEqual(
        new Map([
          [scored, '2026-01-10T08:00:00.000Z'],
          [windowed, '2026-03-02T09:00:00.000Z'],
          [both, '2026-03-02T10:00:00.000Z'],
        ]),
      );
    } finally {
      await client.end();
      await admin.query(`drop database ${name} with (force)`);
      await admin.end();
    }
  });
});

describe('GET /v1/fraud/flags', () => {
  async function list(query: Record<string, string> = {}) {
    const handler = createListFlags(testWiring(database.pool));
    return parseResponse(await handler(apiEvent({ method: 'GET', resource: '/v1/fraud/flags', query })));
  }

  it('lists flagged transfers newest flag first, a page at a time, to the end', async () => {
    const transfers = Array.from({ length: 5 }, () =>
      posted({ amount: defaultFraudSettings.coldStartAmountMax + 1n }),
    );
    await postInLedger(transfers);
    const scorer = createScorer(dependencies());
    for (const transfer of transfers) await scorer(sqsEvent([postedRecord(transfer)]));
    const before = await list({ limit: '200' });
    const flaggedBefore = (before.body.items as unknown[]).length;

    const first = await list({ limit: '2' });
    const second = await list({ limit: '2', cursor: String(first.body.next_cursor) });

    expect(first.status).toBe(200);
    const ids = [
      ...(first.body.items as { transfer_id: string }[]),
      ...(second.body.items as { transfer_id: string }[]),
    ].map((item) => item.transfer_id);
    expect(ids).toEqual(
      transfers
        .slice(-4)
        .reverse()
        .map((transfer) => transfer.transferId),
    );
    expect(first.body.items).toContainEqual({
      transfer_id: transfers.at(-1)?.transferId,
      debit_account_id: transfers.at(-1)?.debitAccountId,
      credit_account_id: transfers.at(-1)?.creditAccountId,
      amount: (defaultFraudSettings.coldStartAmountMax + 1n).toString(),
      currency: 'USD',
      score: 0.95,
      reasons: ['amount_unusual'],
      flagged_at: expect.stringMatching(/Z$/),
    });
    let cursor = second.body.next_cursor;
    let seen = 4;
    while (typeof cursor === 'string') {
      const page = await list({ limit: '2', cursor });
      seen += (page.body.items as unknown[]).length;
      cursor = page.body.next_cursor;
    }
    expect(seen).toBe(flaggedBefore);
  });

  it.each([
    ['limit', { limit: '0' }],
    ['limit', { limit: '201' }],
    ['limit', { limit: 'ten' }],
    ['cursor', { cursor: 'not a cursor' }],
    ['cursor', { cursor: 'MDAx' }],
  ])('refuses a bad %s with 400 problem+json naming it', async (field, query) => {
    const response = await list(query);

    expect(response.status).toBe(400);
    expect(response.headers['content-type']).toBe('application/problem+json');
    expect(response.body).toMatchObject({ status: 400, field });
  });
});
