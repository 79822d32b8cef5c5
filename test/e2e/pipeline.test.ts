import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../infra/local/runtime';
import { uniqueNamePrefix } from '../support/aws';
import { useTestDatabase } from '../support/database';
import { client, startTestRuntime, waitFor } from '../support/runtime';
import { completeTrail, openAccount, submitTransfer, totalsOf, waitForCompleteTrail } from './ledger';

const database = useTestDatabase();
let runtime: LocalRuntime;

beforeAll(async () => {
  runtime = await startTestRuntime({ databaseUrl: database.url, namePrefix: uniqueNamePrefix() });
});

afterAll(async () => {
  await runtime?.stop();
});

describe('the local runtime, end to end', () => {
  it('answers the front door itself: health, missing or wrong key, unknown route, wrong method, oversized body', async () => {
    const api = client(runtime);
    const stranger = client({ ...runtime, apiKey: 'wrong' });

    const health = await api.request('GET', '/health', { apiKey: null });
    const missingKey = await api.request('GET', `/v1/accounts/${randomUUID()}`, { apiKey: null });
    const wrongKey = await stranger.get(`/v1/accounts/${randomUUID()}`);
    const unknown = await api.get('/v2/nothing');
    const wrongMethod = await api.request('DELETE', '/v1/accounts');
    const oversized = await api.post('/v1/accounts', 'x'.repeat(262_145));

    expect(health).toMatchObject({ status: 200, body: { status: 'ok' } });
    for (const [response, status] of [
      [missingKey, 401],
      [wrongKey, 401],
      [unknown, 404],
      [wrongMethod, 405],
      [oversized, 413],
    ] as const) {
      expect(response.status).toBe(status);
      expect(response.headers.get('content-type')).toBe('application/problem+json');
      expect(response.body).toMatchObject({
        type: expect.stringMatching(/^https:\/\//),
        title: expect.any(String),
        status,
        detail: expect.any(String),
      });
    }
    expect(wrongMethod.headers.get('allow')).toBe('POST');
  });

  it('posts transfers submitted over HTTP and delivers each transfer.posted event once per event id', async () => {
    const api = client(runtime);
    const [alice, bob, carol] = [await openAccount(api), await openAccount(api), await openAccount(api)];
    const amounts = ['100', '250', '5', '40', '1'];

    const transferIds: string[] = [];
    for (const [index, amount] of amounts.entries()) {
      const [debit, credit] = index % 2 === 0 ? [alice, bob] : [bob, carol];
      transferIds.push(
        await submitTransfer(api, { debit, credit, amount }, `pipeline-${index}-${randomUUID()}`),
      );
    }
    const trail = await waitForCompleteTrail(database.pool, transferIds);
    const statuses = await Promise.all(transferIds.map((id) => api.get(`/v1/transfers/${id}`)));
    const { rows: receipts } = await database.pool.query<{ event_type: string; transfer_id: string }>(
      'select event_type, transfer_id from ledger.event_receipts where transfer_id = any($1::uuid[])',
      [transferIds],
    );

    expect(trail).toEqual(completeTrail(amounts.length));
    expect(statuses.map((response) => (response.body as { status: string }).status)).toEqual(
      amounts.map(() => 'posted'),
    );
    expect(receipts.map((receipt) => receipt.event_type)).toEqual(amounts.map(() => 'transfer.posted'));
    expect(new Set(receipts.map((receipt) => receipt.transfer_id))).toEqual(new Set(transferIds));
    expect(await totalsOf(database.pool, alice)).toEqual({ debits: '106', credits: '0' });
    expect(await totalsOf(database.pool, bob)).toEqual({ debits: '290', credits: '106' });
    expect(await totalsOf(database.pool, carol)).toEqual({ debits: '0', credits: '290' });
  });

  it('posts a transfer submitted twice with one Idempotency-Key once', async () => {
    const api = client(runtime);
    const [debit, credit] = [await openAccount(api), await openAccount(api)];
    const key = `twice-${randomUUID()}`;

    const first = await submitTransfer(api, { debit, credit, amount: '7' }, key);
    const second = await submitTransfer(api, { debit, credit, amount: '7' }, key);
    const trail = await waitForCompleteTrail(database.pool, [first]);
    const posted = await waitFor('the transfer to read as posted', async () => {
      const response = await api.get(`/v1/transfers/${first}`);
      return (response.body as { status: string }).status === 'posted' ? response.body : undefined;
    });

    expect(second).toBe(first);
    expect(trail).toEqual(completeTrail(1));
    expect(posted).toMatchObject({ id: first, amount: '7', status: 'posted' });
    expect(await totalsOf(database.pool, credit)).toEqual({ debits: '0', credits: '7' });
  });
  it('holds a pending transfer submitted over HTTP, posts part of it, and delivers transfer.pending then transfer.posted', async () => {
    const api = client(runtime);
    const [wallet, shop, funding] = [
      await openAccount(api, { flags: { debits_must_not_exceed_credits: true } }),
      await openAccount(api),
      await openAccount(api),
    ];
    const funded = await submitTransfer(
      api,
      { debit: funding, credit: wallet, amount: '1000' },
      `fund-${randomUUID()}`,
    );
    const held = await api.post(
      '/v1/transfers',
      { debit_account_id: wallet, credit_account_id: shop, amount: '600', currency: 'USD', pending: true },
      { 'Idempotency-Key': `hold-${randomUUID()}` },
    );
    expect(held.status).toBe(202);
    const pendingId = (held.body as { id: string }).id;
    await waitFor('the pending transfer is recorded', async () => {
      const read = await api.get(`/v1/transfers/${pendingId}`);
      return (read.body as { status: string }).status === 'pending' ? true : undefined;
    });
    const account = await api.get(`/v1/accounts/${wallet}`);
    expect((account.body as { balance: unknown }).balance).toEqual({
      posted: '1000',
      pending: '-600',
      available: '400',
    });

    const post = await api.post(
      `/v1/transfers/${pendingId}/post`,
      { amount: '450' },
      { 'Idempotency-Key': `capture-${randomUUID()}` },
    );
    expect(post.status).toBe(202);
    const postId = (post.body as { id: string }).id;
    const posted = await waitFor('the pending transfer is posted', async () => {
      const read = await api.get(`/v1/transfers/${pendingId}`);
      const body = read.body as { status: string; pending: { resolved_by: string; posted_amount: string } };
      return body.status === 'posted' ? body : undefined;
    });
    const receipts = await waitFor('the events are delivered', async () => {
      const { rows } = await database.pool.query<{ event_type: string; transfer_id: string }>(
        `select event_type, transfer_id from ledger.event_receipts
          where transfer_id = any($1::uuid[]) order by event_type, transfer_id`,
        [[funded, pendingId, postId]],
      );
      return rows.length === 3 ? rows : undefined;
    });

    expect(posted.pending).toMatchObject({ resolved_by: postId, posted_amount: '450' });
    expect(receipts).toEqual(
      [
        { event_type: 'transfer.pending', transfer_id: pendingId },
        { event_type: 'transfer.posted', transfer_id: funded },
        { event_type: 'transfer.posted', transfer_id: postId },
      ].sort((a, b) => `${a.event_type} ${a.transfer_id}`.localeCompare(`${b.event_type} ${b.transfer_id}`)),
    );
    expect((await api.get(`/v1/accounts/${wallet}`)).body).toMatchObject({
      balance: { posted: '550', pending: '0', available: '550' },
    });
  });
});
