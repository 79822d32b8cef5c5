import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../infra/local/runtime';
import { defaultFraudSettings } from '../../shared/domain/fraud';
import { uniqueNamePrefix } from '../support/aws';
import { useTestDatabase } from '../support/database';
import { client, startTestRuntime, waitFor } from '../support/runtime';
import { openAccount, submitTransfer } from './ledger';

const database = useTestDatabase();
let runtime: LocalRuntime;

beforeAll(async () => {
  runtime = await startTestRuntime({
    databaseUrl: database.url,
    namePrefix: uniqueNamePrefix(),
    visibilityTimeoutS: { transfers: 2, transferEvents: 2, fraudScorer: 2, fraudPatterns: 2 },
  });
});

afterAll(async () => {
  await runtime?.stop();
});

interface TransferBody {
  readonly status: string;
  readonly fraud: { readonly status: string; readonly score: number | null; readonly reasons: string[] };
  readonly timeline: { readonly step: string }[];
}

describe('fraud checks in the local runtime, over HTTP', () => {
  it('shows fraud pending, then clear for a usual transfer and flagged for one far above the cold-start amount, listed in /v1/fraud/flags', async () => {
    const api = client(runtime);
    const [alice, bob, carol, dave] = [
      await openAccount(api),
      await openAccount(api),
      await openAccount(api),
      await openAccount(api),
    ];
    const usual = await submitTransfer(
      api,
      { debit: alice, credit: bob, amount: '1050' },
      `fraud-${randomUUID()}`,
    );
    const pending = (await api.get(`/v1/transfers/${usual}`)).body as TransferBody;
    const large = await submitTransfer(
      api,
      { debit: carol, credit: dave, amount: (defaultFraudSettings.coldStartAmountMax * 5n).toString() },
      `fraud-${randomUUID()}`,
    );

    const scored = async (id: string, status: string) =>
      waitFor(`transfer ${id} ${status}`, async () => {
        const body = (await api.get(`/v1/transfers/${id}`)).body as TransferBody;
        return body.fraud.status === status ? body : undefined;
      });
    const clear = await scored(usual, 'clear');
    const flagged = await scored(large, 'flagged');
    const flags = await waitFor('the flag listed', async () => {
      const page = (await api.get('/v1/fraud/flags?limit=10')).body as { items: { transfer_id: string }[] };
      return page.items.some((item) => item.transfer_id === large) ? page : undefined;
    });

    expect(pending.fraud).toEqual({ status: 'pending', score: null, reasons: [] });
    expect(clear.status).toBe('posted');
    expect(clear.fraud).toEqual({ status: 'clear', score: 0, reasons: [] });
    expect(clear.timeline.map((step) => step.step)).toContain('fraud_scored');
    // A new account is judged by the cold-start rule alone: over its amount bound scores 0.95.
    expect(flagged.fraud).toEqual({ status: 'flagged', score: 0.95, reasons: ['amount_unusual'] });
    expect(flags.items[0]?.transfer_id).toBe(large);
    expect(flags.items.map((item) => item.transfer_id)).not.toContain(usual);
    const flaggedEvent = await waitFor('the transfer.flagged event published', async () => {
      const { rows } = await database.pool.query<{ published_at: Date | null }>(
        `select published_at from ledger.outbox where event_type = 'transfer.flagged' and transfer_id = $1`,
        [large],
      );
      return rows.length === 1 && rows[0]?.published_at !== null ? rows : undefined;
    });
    expect(flaggedEvent).toHaveLength(1);
  });

  it('flags a fan-out to many payees in a few minutes through the pattern listener', async () => {
    const api = client(runtime);
    const payer = await openAccount(api);
    const payees = [];
    for (let index = 0; index < defaultFraudSettings.fanOutNewCounterpartyCountMin; index += 1) {
      payees.push(await openAccount(api));
    }

    const ids = [];
    for (const payee of payees) {
      ids.push(
        await submitTransfer(api, { debit: payer, credit: payee, amount: '700' }, `fan-${randomUUID()}`),
      );
    }

    for (const id of ids) {
      const body = await waitFor(`transfer ${id} flagged`, async () => {
        const transfer = (await api.get(`/v1/transfers/${id}`)).body as TransferBody;
        return transfer.fraud.status === 'flagged' && transfer.fraud.reasons.includes('fan_out')
          ? transfer
          : undefined;
      });
      expect(body.status).toBe('posted');
    }
  });
});
