import { SendMessageCommand } from '@aws-sdk/client-sqs';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import createActivity from '../../functions/admin-activity';
import createGauges from '../../functions/admin-gauges';
import createInvariants from '../../functions/admin-invariants';
import createTransfers from '../../functions/admin-transfers';
import { PostgresLedgerStore } from '../../shared/adapters/postgres/ledger-store';
import {
  activityResponseSchema,
  adminPageSizeMax,
  adminTransferPageResponseSchema,
  gaugesResponseSchema,
  invariantsResponseSchema,
} from '../../shared/api/schemas';
import type { HttpFunction } from '../../shared/definitions';
import { type AccountId, newTransferId } from '../../shared/domain/ids';
import type { TransferCommand } from '../../shared/domain/transfer';
import { adminLimits } from '../../shared/services/admin';
import { apiEvent, type ParsedResponse, parseResponse, testWiring } from '../support/api';
import { useTestAws } from '../support/aws';
import { useTestDatabase } from '../support/database';
import { createAccount, fund, transferFactory } from '../support/factories';

const database = useTestDatabase();
const aws = useTestAws();

async function get(
  definition: HttpFunction,
  resource: string,
  query?: Record<string, string>,
): Promise<ParsedResponse> {
  const handler = definition.build(
    testWiring(database.pool, { clients: aws.clients, resources: aws.resources }),
  );
  return parseResponse(await handler(apiEvent({ method: 'GET', resource, ...(query ? { query } : {}) })));
}

/** Posts transfers through the real engine, one batch each, and returns them. */
async function post(transfers: readonly TransferCommand[]): Promise<void> {
  for (const transfer of transfers) await new PostgresLedgerStore(database.pool).postBatch([transfer], []);
}

/** Accounts whose lock stripes (the last three hex digits) differ, so their batches never wait on each other. */
async function accountsOnDistinctStripes(count: number): Promise<AccountId[]> {
  const accounts: AccountId[] = [];
  while (accounts.length < count) {
    const account = await createAccount(database.pool);
    if (!accounts.some((other) => other.slice(-3) === account.slice(-3))) accounts.push(account);
  }
  return accounts;
}

async function flaggedWallet(credit: bigint) {
  const wallet = await createAccount(database.pool, { debitsMustNotExceedCredits: true });
  await fund(database.pool, wallet, credit);
  return wallet;
}

describe('GET /v1/admin/activity', () => {
  it('reads each recorded transfer once across cursors, in commit order, with its outcome', async () => {
    const wallet = await flaggedWallet(10n);
    const shop = await createAccount(database.pool);
    const first = await get(createActivity, '/v1/admin/activity');
    const spends = [6n, 6n].map((amount) =>
      transferFactory({ debitAccountId: wallet, creditAccountId: shop, amount }),
    );

    await post(spends);
    const second = await get(createActivity, '/v1/admin/activity', {
      cursor: String(first.body.next_cursor),
    });
    const third = await get(createActivity, '/v1/admin/activity', {
      cursor: String(second.body.next_cursor),
    });

    expect(first.status).toBe(200);
    expect(
      activityResponseSchema.parse(second.body).items.map((item) => [item.id, item.status, item.reason]),
    ).toEqual([
      [spends[0]?.id, 'posted', null],
      [spends[1]?.id, 'rejected', 'exceeds_credits'],
    ]);
    expect(activityResponseSchema.parse(third.body).items).toEqual([]);
  });

  it('pages through more changes than one answer holds without skipping or repeating any', async () => {
    const debit = await createAccount(database.pool);
    const credit = await createAccount(database.pool);
    const start = await get(createActivity, '/v1/admin/activity', { limit: '1' });
    const transfers = Array.from({ length: 5 }, () =>
      transferFactory({ debitAccountId: debit, creditAccountId: credit }),
    );
    await post(transfers);

    const seen: string[] = [];
    let cursor = String(start.body.next_cursor);
    for (let page = 0; page < 10; page += 1) {
      const answer = activityResponseSchema.parse(
        (await get(createActivity, '/v1/admin/activity', { cursor, limit: '2' })).body,
      );
      seen.push(...answer.items.map((item) => item.id));
      cursor = answer.next_cursor;
      if (answer.items.length === 0) break;
    }

    expect(seen).toEqual(transfers.map((transfer) => transfer.id));
  });

  it('holds back a change whose transaction took its outbox id first and commits last', async () => {
    const accounts = await accountsOnDistinctStripes(4);
    const [slowDebit, slowCredit, quickDebit, quickCredit] = accounts;
    const start = await get(createActivity, '/v1/admin/activity');
    const slow = transferFactory({ debitAccountId: slowDebit, creditAccountId: slowCredit });
    const quick = transferFactory({ debitAccountId: quickDebit, creditAccountId: quickCredit });
    const client = new pg.Client(database.url);
    await client.connect();
    try {
      // The real posting statements on a connection of the test's, without their final commit
      // (and read committed, so that the two postings' serializable checks do not collide).
      const heldOpen = {
        connect: async () => ({
          query: (text: string) =>
            client.query(text.replace(/;\ncommit$/, '').replace('isolation level serializable', '')),
          release: () => undefined,
        }),
      } as unknown as pg.Pool;
      await new PostgresLedgerStore(heldOpen).postBatch([slow], []);
      await post([quick]);
      const during = activityResponseSchema.parse(
        (await get(createActivity, '/v1/admin/activity', { cursor: String(start.body.next_cursor) })).body,
      );
      await client.query('commit');
      const after = activityResponseSchema.parse(
        (await get(createActivity, '/v1/admin/activity', { cursor: during.next_cursor })).body,
      );

      expect(during.items.map((item) => item.id)).toEqual([]);
      expect(after.items.map((item) => item.id)).toEqual([slow.id, quick.id]);
    } finally {
      await client.end();
    }
  });

  it.each([
    [{ limit: '0' }, 'limit'],
    [{ limit: String(adminPageSizeMax + 1) }, 'limit'],
    [{ cursor: 'not-a-cursor!' }, 'cursor'],
    [{ cursor: Buffer.from('1.x').toString('base64url') }, 'cursor'],
  ])('refuses %o with a problem naming %s', async (query, field) => {
    const response = await get(createActivity, '/v1/admin/activity', query);

    expect(response.status).toBe(400);
    expect(response.headers['content-type']).toBe('application/problem+json');
    expect(response.body).toMatchObject({ status: 400, field });
  });
});

describe('GET /v1/admin/transfers', () => {
  it('lists transfers newest first, by status, a bounded page at a time', async () => {
    const wallet = await createAccount(database.pool, { debitsMustNotExceedCredits: true });
    const funding = await fund(database.pool, wallet, 5n);
    const shop = await createAccount(database.pool);
    // A millisecond apart: UUIDv7 ids order by their millisecond, not within one.
    const acceptedAtMs = Date.now() + 10;
    const transfers = [3n, 3n, 1n, 9n].map((amount, index) =>
      transferFactory({
        id: newTransferId(acceptedAtMs + index),
        debitAccountId: wallet,
        creditAccountId: shop,
        amount,
      }),
    );
    await post(transfers);

    const rejected = adminTransferPageResponseSchema.parse(
      (await get(createTransfers, '/v1/admin/transfers', { status: 'rejected', limit: '2' })).body,
    );
    const firstPage = adminTransferPageResponseSchema.parse(
      (await get(createTransfers, '/v1/admin/transfers', { status: 'posted', limit: '2' })).body,
    );
    const secondPage = adminTransferPageResponseSchema.parse(
      (
        await get(createTransfers, '/v1/admin/transfers', {
          status: 'posted',
          limit: '2',
          cursor: String(firstPage.next_cursor),
        })
      ).body,
    );

    expect(rejected.items.map((item) => item.id)).toEqual([transfers[3]?.id, transfers[1]?.id]);
    expect(rejected.items.map((item) => item.reason)).toEqual(['exceeds_credits', 'exceeds_credits']);
    // Posted, newest first: the 1, the first 3, then the wallet's funding transfer.
    expect(firstPage.items.map((item) => item.id)).toEqual([transfers[2]?.id, transfers[0]?.id]);
    expect(secondPage.items[0]?.id).toBe(funding.id);
  });

  it.each([
    [{ status: 'queued' }, 'status'],
    [{ limit: 'ten' }, 'limit'],
    [{ cursor: 'abc' }, 'cursor'],
  ])('refuses %o with a problem naming %s', async (query, field) => {
    const response = await get(createTransfers, '/v1/admin/transfers', query);

    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ status: 400, field });
  });
});

describe('GET /v1/admin/gauges', () => {
  it('reads queue depths from SQS and transfers per second from the ledger', async () => {
    const debit = await createAccount(database.pool);
    const credit = await createAccount(database.pool);
    const recordedBefore = gaugesResponseSchema
      .parse((await get(createGauges, '/v1/admin/gauges')).body)
      .throughput.per_second.reduce((sum, count) => sum + count, 0);
    await post(
      Array.from({ length: 3 }, () => transferFactory({ debitAccountId: debit, creditAccountId: credit })),
    );
    for (const group of ['a', 'b']) {
      await aws.clients.sqs.send(
        new SendMessageCommand({
          QueueUrl: aws.resources.queueUrls.transfersDeadLetter,
          MessageBody: '{}',
          MessageGroupId: group,
          MessageDeduplicationId: group,
        }),
      );
    }

    const response = await get(createGauges, '/v1/admin/gauges');
    const gauges = gaugesResponseSchema.parse(response.body);

    expect(response.status).toBe(200);
    expect(gauges.transfers_queue).toEqual({ visible: 0, in_flight: 0, delayed: 0 });
    expect(gauges.transfers_dead_letter_queue).toMatchObject({ visible: 2 });
    expect(gauges.throughput.per_second).toHaveLength(gauges.throughput.window_s);
    expect(gauges.throughput.per_second.reduce((sum, count) => sum + count, 0)).toBe(recordedBefore + 3);
    expect(gauges.throughput.truncated).toBe(false);
  });

  it('shows the batch the ledger recorded, with its size and its time in the database', async () => {
    const debit = await createAccount(database.pool);
    const credit = await createAccount(database.pool);
    await new PostgresLedgerStore(database.pool).postBatch(
      Array.from({ length: 7 }, () => transferFactory({ debitAccountId: debit, creditAccountId: credit })),
      [],
    );
    const { rows } = await database.pool.query<{ finished_at: Date; duration_ms: number }>(
      `select finished_at, (extract(epoch from finished_at - received_at) * 1000)::float8 as duration_ms
         from ledger.consumer_batches order by id desc limit 1`,
    );

    const gauges = gaugesResponseSchema.parse((await get(createGauges, '/v1/admin/gauges')).body);

    expect(gauges.batches?.recent.at(-1)).toEqual({
      finished_at: rows[0]?.finished_at.toISOString(),
      transfer_count: 7,
      duration_ms: rows[0]?.duration_ms,
    });
  });

  it(`sums up the newest ${adminLimits.batchCountMax} batches: sizes, and times at p50, p95 (nearest rank) and max`, async () => {
    // Batches of 1 to 10 transfers that took 1 to 200 ms, newer than any batch of the tests above.
    // Planted as the owner: only the engine records batches.
    await database.ownerPool.query(
      `insert into ledger.consumer_batches (received_at, finished_at, transfer_count, posted_count, rejected_count)
       select now(), now() + make_interval(secs => i / 1000.0), i % 10 + 1, i % 10 + 1, 0
         from generate_series(1, $1::int) as i`,
      [adminLimits.batchCountMax],
    );

    const gauges = gaugesResponseSchema.parse((await get(createGauges, '/v1/admin/gauges')).body);

    expect(gauges.batches).toMatchObject({
      batch_count: 200,
      transfer_count_avg: 5.5,
      transfer_count_max: 10,
      duration_ms_p50: 100,
      duration_ms_p95: 190,
      duration_ms_max: 200,
    });
    expect(gauges.batches?.recent).toHaveLength(60);
    expect(gauges.batches?.recent.at(-1)).toMatchObject({ transfer_count: 1, duration_ms: 200 });
  });

  it('answers the other gauges when a queue cannot be read', async () => {
    const unreachable = testWiring(database.pool, { resources: aws.resources });

    const response = parseResponse(
      await createGauges.build(unreachable)(apiEvent({ method: 'GET', resource: '/v1/admin/gauges' })),
    );

    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ transfers_queue: null, transfers_dead_letter_queue: null });
  });
});
describe('GET /v1/admin/invariants', () => {
  it('answers 200 with no violations when the ledger is sound', async () => {
    const wallet = await flaggedWallet(500n);
    await post([
      transferFactory({ debitAccountId: wallet, creditAccountId: await createAccount(database.pool) }),
    ]);

    const response = await get(createInvariants, '/v1/admin/invariants');
    const full = await get(createInvariants, '/v1/admin/invariants', { full: 'true' });

    expect(response.status).toBe(200);
    const body = invariantsResponseSchema.parse(response.body);
    expect(body.violations).toEqual([]);
    expect(body.mode).toBe('incremental');
    expect(body.run?.stopped_by).toBe('caught-up');
    expect(body.run?.entry_backlog).toBe('0');
    expect(response.headers['cache-control']).toBe('no-store');
    expect(full.status).toBe(200);
    expect(invariantsResponseSchema.parse(full.body)).toMatchObject({ mode: 'full', violations: [] });
    expect(full.body.run).toBeUndefined();
  });

  it('answers 400 naming full when it is not true or false', async () => {
    const response = await get(createInvariants, '/v1/admin/invariants', { full: 'yes' });

    expect(response.status).toBe(400);
    expect(JSON.stringify(response.body)).toContain('full');
  });

  it('answers 500 invariants-violated naming each violation when the ledger is not sound', async () => {
    // Entries name their account without a foreign key, so an entry of an unknown account can be
    // planted; the check must report it. Planted, read through the route, then undone.
    const transferId = newTransferId();
    const [debitAccount, creditAccount] = [crypto.randomUUID(), crypto.randomUUID()];
    // Planted as the owner: the functions' login may not write entries beside the engine.
    await database.ownerPool.query(
      `insert into ledger.entries
         (transfer_id, account_id, direction, amount, currency, debits_posted_after, credits_posted_after)
       values ($1, $2, 'debit', 1, 'USD', 1, 0), ($1, $3, 'credit', 1, 'USD', 0, 1)`,
      [transferId, debitAccount, creditAccount],
    );
    try {
      const response = await get(createInvariants, '/v1/admin/invariants');
      const full = await get(createInvariants, '/v1/admin/invariants', { full: 'true' });

      for (const answer of [response, full]) {
        expect(answer.status).toBe(500);
        expect(
          (answer.body.violations as { invariant: string; detail: string }[])
            .filter((violation) => violation.invariant === 'entry_belongs_to_an_account')
            .map((violation) => violation.detail)
            .sort(),
        ).toEqual([`account ${debitAccount}`, `account ${creditAccount}`].sort());
      }
      expect(response.status).toBe(500);
      expect(response.raw.headers?.['Content-Type'] ?? response.raw.headers?.['content-type']).toBe(
        'application/problem+json',
      );
      expect(response.body).toMatchObject({
        type: 'https://ledgerx.dev/problems/invariants-violated',
        status: 500,
        truncated: false,
      });
      const violations = response.body.violations as { invariant: string; detail: string }[];
      expect(
        violations
          .filter((violation) => violation.invariant === 'entry_belongs_to_an_account')
          .map((violation) => violation.detail)
          .sort(),
      ).toEqual([`account ${debitAccount}`, `account ${creditAccount}`].sort());
    } finally {
      // Entries are append-only by trigger; as the owner, with triggers off for this transaction.
      const client = await database.ownerPool.connect();
      try {
        await client.query('begin');
        await client.query('set local session_replication_role = replica');
        await client.query('delete from ledger.entries where transfer_id = $1', [transferId]);
        // The checker keeps what it found until an operator clears it; the test is the operator.
        await client.query('delete from ledger.invariant_violations');
        await client.query('commit');
      } finally {
        client.release();
      }
    }
  });
});
