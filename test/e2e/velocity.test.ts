import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../infra/local/runtime';
import { timelineSteps } from '../../shared/domain/transfer';
import { uniqueNamePrefix } from '../support/aws';
import { checkInvariants, useTestDatabase } from '../support/database';
import { client, startTestRuntime, waitFor } from '../support/runtime';
import { openAccount, totalsOf } from './ledger';

const database = useTestDatabase();
/** The defaults this runtime runs with: 4 transfers per 3 s window, no amount limit. */
const windowS = 3;
const transferCountMax = 4;
let runtime: LocalRuntime;

beforeAll(async () => {
  runtime = await startTestRuntime({
    databaseUrl: database.url,
    namePrefix: uniqueNamePrefix(),
    velocity: { windowS, transferCountMax, amountMax: undefined },
  });
});

afterAll(async () => {
  await runtime?.stop();
});

interface TimelineView {
  readonly status: string;
  readonly timeline: readonly { readonly step: string; readonly at: string }[];
}

describe('velocity limits over HTTP', () => {
  it('accepts exactly L of N concurrent transfers and refuses the rest with 429 problem+json and Retry-After', async () => {
    const api = client(runtime);
    // A minute's window, so however slowly a loaded machine serves the burst, it fits in one window.
    const debit = await openAccount(api, { velocity: { window_s: 60, max_transfers: 4 } });
    const credit = await openAccount(api);
    const body = { debit_account_id: debit, credit_account_id: credit, amount: '7', currency: 'USD' };
    const keys = Array.from({ length: 12 }, () => `velocity-${randomUUID()}`);

    const responses = await Promise.all(
      keys.map((key) => api.post('/v1/transfers', body, { 'Idempotency-Key': key })),
    );

    const accepted = responses.flatMap((response, index) =>
      response.status === 202 ? [{ key: keys[index] ?? '', id: (response.body as { id: string }).id }] : [],
    );
    const refused = responses.filter((response) => response.status === 429);
    expect(accepted).toHaveLength(4);
    expect(refused).toHaveLength(8);
    for (const response of refused) {
      expect(response.headers.get('content-type')).toBe('application/problem+json');
      expect(response.body).toMatchObject({
        type: 'https://ledgerx.dev/problems/velocity_exceeded',
        status: 429,
        field: 'debit_account_id',
      });
      const retryAfterS = Number(response.headers.get('retry-after'));
      expect(Number.isInteger(retryAfterS)).toBe(true);
      expect(retryAfterS).toBeGreaterThanOrEqual(1);
      expect(retryAfterS).toBeLessThanOrEqual(60);
    }

    // A replay of an accepted request is answered as before and takes no place in the window.
    const firstAccepted = accepted[0];
    if (firstAccepted === undefined) throw new Error('test: nothing was accepted');
    const replay = await api.post('/v1/transfers', body, { 'Idempotency-Key': firstAccepted.key });
    expect(replay.status).toBe(202);
    expect((replay.body as { id: string }).id).toBe(firstAccepted.id);
    const another = await api.post('/v1/transfers', body, { 'Idempotency-Key': randomUUID() });
    expect(another.status).toBe(429);

    // Exactly the accepted transfers post: nothing refused was queued.
    await waitFor('the accepted transfers to post', async () => {
      const totals = await totalsOf(database.pool, credit);
      return totals.credits === String(7 * accepted.length) ? totals : undefined;
    });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const { rows } = await database.pool.query<{ count: number }>(
      'select count(*)::int as count from ledger.transfers where debit_account_id = $1',
      [debit],
    );
    expect(rows[0]?.count).toBe(accepted.length);
    expect(await checkInvariants(database.pool)).toEqual([]);
  });

  it('frees a refused key: the same request succeeds once Retry-After has passed', async () => {
    const api = client(runtime);
    const debit = await openAccount(api, { velocity: { window_s: 3, max_transfers: 1 } });
    const credit = await openAccount(api);
    const body = { debit_account_id: debit, credit_account_id: credit, amount: '2', currency: 'USD' };
    const refusedKey = `velocity-${randomUUID()}`;

    const first = await api.post('/v1/transfers', body, { 'Idempotency-Key': randomUUID() });
    const refused = await api.post('/v1/transfers', body, { 'Idempotency-Key': refusedKey });
    const retryAfterS = Number(refused.headers.get('retry-after'));
    await new Promise((resolve) => setTimeout(resolve, retryAfterS * 1000 + 200));
    const retried = await api.post('/v1/transfers', body, { 'Idempotency-Key': refusedKey });

    expect([first.status, refused.status, retried.status]).toEqual([202, 429, 202]);
    expect(retryAfterS).toBeGreaterThanOrEqual(1);
    expect(retryAfterS).toBeLessThanOrEqual(3);
  });

  it("shows the idempotency and velocity checks in a transfer's timeline, in order", async () => {
    const api = client(runtime);
    const [debit, credit] = [await openAccount(api), await openAccount(api)];
    const submitted = await api.post(
      '/v1/transfers',
      { debit_account_id: debit, credit_account_id: credit, amount: '3', currency: 'USD' },
      { 'Idempotency-Key': `timeline-${randomUUID()}` },
    );
    const id = (submitted.body as { id: string }).id;

    const view = await waitFor('the transfer to post', async () => {
      const response = (await api.get(`/v1/transfers/${id}`)).body as TimelineView;
      return response.status === 'posted' ? response : undefined;
    });

    const steps = view.timeline.map((step) => step.step);
    expect(steps.slice(0, 6)).toEqual([
      'accepted',
      'idempotency_checked',
      'velocity_checked',
      'queued',
      'picked_up',
      'posted',
    ]);
    const order = steps.map((step) => timelineSteps.indexOf(step as (typeof timelineSteps)[number]));
    expect(order).toEqual([...order].sort((a, b) => a - b));
    const times = view.timeline.map((step) => step.at);
    expect(times.slice(0, 6)).toEqual([...times.slice(0, 6)].sort());
  });

  it("applies an account's own stricter limit set over HTTP", async () => {
    const api = client(runtime);
    const debit = await openAccount(api, { velocity: { max_transfers: 1, window_s: 60 } });
    const credit = await openAccount(api);
    const body = { debit_account_id: debit, credit_account_id: credit, amount: '1', currency: 'USD' };

    const first = await api.post('/v1/transfers', body, { 'Idempotency-Key': randomUUID() });
    const second = await api.post('/v1/transfers', body, { 'Idempotency-Key': randomUUID() });
    const loosened = await api.request('PUT', `/v1/accounts/${debit}/velocity`, {
      body: { max_transfers: 2 },
    });
    const third = await api.post('/v1/transfers', body, { 'Idempotency-Key': randomUUID() });

    expect([first.status, second.status, loosened.status, third.status]).toEqual([202, 429, 200, 202]);
    expect(Number(second.headers.get('retry-after'))).toBeGreaterThan(windowS);
  });

  it("copies accounts' own limits again at start, so a runtime on a fresh AWS endpoint still applies them", async () => {
    // An account whose limits Postgres keeps but whose copy the AWS side lost (moto restarted).
    const { rows } = await database.pool.query<{ id: string }>(
      `insert into ledger.accounts (id, currency, velocity_max_transfers, velocity_window_s)
       values (gen_random_uuid(), 'USD', 1, 60) returning id`,
    );
    const debit = rows[0]?.id ?? '';
    const restarted = await startTestRuntime({
      databaseUrl: database.url,
      namePrefix: uniqueNamePrefix(),
      velocity: { windowS, transferCountMax, amountMax: undefined },
    });
    try {
      const api = client(restarted);
      const credit = await openAccount(api);
      const body = { debit_account_id: debit, credit_account_id: credit, amount: '1', currency: 'USD' };

      const first = await api.post('/v1/transfers', body, { 'Idempotency-Key': randomUUID() });
      const second = await api.post('/v1/transfers', body, { 'Idempotency-Key': randomUUID() });

      expect([first.status, second.status]).toEqual([202, 429]);
    } finally {
      await restarted.stop();
    }
  });
});
