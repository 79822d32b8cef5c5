import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../infra/local/runtime';
import { uniqueNamePrefix } from '../support/aws';
import { useTestDatabase } from '../support/database';
import { client, startTestRuntime, waitFor } from '../support/runtime';
import { openAccount, submitTransfer, totalsOf, trailOf } from './ledger';

const database = useTestDatabase();
let runtime: LocalRuntime;

beforeAll(async () => {
  runtime = await startTestRuntime({ databaseUrl: database.url, namePrefix: uniqueNamePrefix() });
});

afterAll(async () => {
  await runtime?.stop();
});

interface TransferView {
  readonly id: string;
  readonly status: 'queued' | 'posted' | 'rejected';
  readonly reason: string | null;
}

/** Waits until none of the transfers reads as queued, and returns them as the API shows them. */
function waitForOutcomes(api: ReturnType<typeof client>, ids: readonly string[]): Promise<TransferView[]> {
  return waitFor(`${ids.length} transfers to be posted or rejected`, async () => {
    const views = await Promise.all(
      ids.map(async (id) => (await api.get(`/v1/transfers/${id}`)).body as TransferView),
    );
    return views.every((view) => view.status === 'posted' || view.status === 'rejected') ? views : undefined;
  });
}

describe('the HTTP contract, end to end', () => {
  it('lets concurrent spends of a flagged account post exactly as often as it can afford', async () => {
    const api = client(runtime);
    const [funding, wallet, shop] = [
      await openAccount(api),
      await openAccount(api, { flags: { debits_must_not_exceed_credits: true } }),
      await openAccount(api),
    ];
    const fundingId = await submitTransfer(
      api,
      { debit: funding, credit: wallet, amount: '25' },
      randomUUID(),
    );
    await waitForOutcomes(api, [fundingId]);
    const spendCount = 12;

    const spends = await Promise.all(
      Array.from({ length: spendCount }, () =>
        submitTransfer(api, { debit: wallet, credit: shop, amount: '5' }, randomUUID()),
      ),
    );
    const outcomes = await waitForOutcomes(api, spends);

    expect(outcomes.filter((view) => view.status === 'posted')).toHaveLength(5);
    expect(outcomes.filter((view) => view.status === 'rejected').map((view) => view.reason)).toEqual(
      Array.from({ length: spendCount - 5 }, () => 'exceeds_credits'),
    );
    expect(await totalsOf(database.pool, wallet)).toEqual({ debits: '25', credits: '25' });
    expect(await totalsOf(database.pool, shop)).toEqual({ debits: '0', credits: '25' });
  });

  it('replays a key with the same body, refuses it with another, and runs racing duplicates once', async () => {
    const api = client(runtime);
    const [debit, credit] = [await openAccount(api), await openAccount(api)];
    const body = { debit_account_id: debit, credit_account_id: credit, amount: '30', currency: 'USD' };
    const key = `contract-${randomUUID()}`;

    const first = await api.post('/v1/transfers', body, { 'Idempotency-Key': key });
    const replay = await api.post('/v1/transfers', body, { 'Idempotency-Key': key });
    const mismatch = await api.post('/v1/transfers', { ...body, amount: '31' }, { 'Idempotency-Key': key });
    const raceKey = `race-${randomUUID()}`;
    const racers = await Promise.all(
      Array.from({ length: 5 }, () => api.post('/v1/transfers', body, { 'Idempotency-Key': raceKey })),
    );

    expect(first.status).toBe(202);
    expect(replay).toMatchObject({ status: 202, body: first.body });
    expect(mismatch.status).toBe(422);
    expect(mismatch.headers.get('content-type')).toBe('application/problem+json');
    expect(mismatch.body).toMatchObject({ status: 422, field: 'Idempotency-Key' });
    for (const racer of racers) expect([202, 409]).toContain(racer.status);
    const accepted = racers.filter((racer) => racer.status === 202);
    expect(accepted.length).toBeGreaterThan(0);
    const raceIds = new Set(accepted.map((racer) => (racer.body as { id: string }).id));
    expect(raceIds.size).toBe(1);
    const ids = [(first.body as { id: string }).id, ...raceIds];
    await waitForOutcomes(api, ids);
    expect(await trailOf(database.pool, ids)).toMatchObject({ transferRows: 2, entryRows: 4, outboxRows: 2 });
    expect(await totalsOf(database.pool, credit)).toEqual({ debits: '0', credits: '60' });
  });

  it('answers bad input field by field with problem+json and writes nothing', async () => {
    const api = client(runtime);
    const [debit, credit] = [await openAccount(api), await openAccount(api)];
    const transfer = { debit_account_id: debit, credit_account_id: credit, amount: '10', currency: 'USD' };
    const countRows = async () =>
      (
        await database.pool.query<{ accounts: number; transfers: number }>(
          `select (select count(*)::int from ledger.accounts) as accounts,
                  (select count(*)::int from ledger.transfers) as transfers`,
        )
      ).rows[0];
    const before = await countRows();
    const cases: readonly {
      path: string;
      body: unknown;
      headers?: Record<string, string>;
      field?: string;
    }[] = [
      { path: '/v1/accounts', body: { currency: 'usd' }, field: 'currency' },
      { path: '/v1/accounts', body: {}, field: 'currency' },
      {
        path: '/v1/accounts',
        body: {
          currency: 'USD',
          flags: { debits_must_not_exceed_credits: true, credits_must_not_exceed_debits: true },
        },
        field: 'flags',
      },
      { path: '/v1/accounts', body: { currency: 'USD', metadata: [1] }, field: 'metadata' },
      { path: '/v1/accounts', body: { currency: 'USD', colour: 'red' }, field: 'colour' },
      { path: '/v1/transfers', body: { ...transfer, debit_account_id: 'acc-1' }, field: 'debit_account_id' },
      {
        path: '/v1/transfers',
        body: { ...transfer, credit_account_id: undefined },
        field: 'credit_account_id',
      },
      { path: '/v1/transfers', body: { ...transfer, amount: 10 }, field: 'amount' },
      { path: '/v1/transfers', body: { ...transfer, amount: '1.5' }, field: 'amount' },
      { path: '/v1/transfers', body: { ...transfer, amount: '9223372036854775808' }, field: 'amount' },
      { path: '/v1/transfers', body: { ...transfer, amount: '0' }, field: 'amount' },
      { path: '/v1/transfers', body: { ...transfer, currency: 'XYZ' }, field: 'currency' },
      { path: '/v1/transfers', body: { ...transfer, metadata: 'note' }, field: 'metadata' },
      { path: '/v1/transfers', body: transfer, headers: {}, field: 'Idempotency-Key' },
      { path: '/v1/transfers', body: '{"amount": ' },
      { path: '/v1/accounts', body: 'not json' },
    ];

    for (const item of cases) {
      const headers = item.headers ?? { 'Idempotency-Key': randomUUID() };
      const response = await api.post(item.path, item.body, headers);

      const label = `${item.path} ${JSON.stringify(item.body)}`;
      expect(response.status, label).toBe(400);
      expect(response.headers.get('content-type'), label).toBe('application/problem+json');
      expect(response.body, label).toMatchObject({
        status: 400,
        title: expect.any(String),
        detail: expect.any(String),
      });
      if (item.field === undefined) expect(response.body, label).toMatchObject({ title: 'Malformed JSON' });
      else expect((response.body as { field?: string }).field, label).toBe(item.field);
    }
    expect(await countRows()).toEqual(before);
  });
});
