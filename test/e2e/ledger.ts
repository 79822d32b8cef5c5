import type pg from 'pg';
import { expect } from 'vitest';
import type { client } from '../support/runtime';
import { waitFor } from '../support/runtime';

type Client = ReturnType<typeof client>;

/** Opens a USD account through the API and returns its id. */
export async function openAccount(api: Client, body: Record<string, unknown> = {}): Promise<string> {
  const response = await api.post('/v1/accounts', { currency: 'USD', ...body });
  expect(response.status).toBe(201);
  return (response.body as { id: string }).id;
}

/** Submits a transfer through the API and returns its id. */
export async function submitTransfer(
  api: Client,
  transfer: { debit: string; credit: string; amount: string },
  idempotencyKey: string,
): Promise<string> {
  const response = await api.post(
    '/v1/transfers',
    {
      debit_account_id: transfer.debit,
      credit_account_id: transfer.credit,
      amount: transfer.amount,
      currency: 'USD',
    },
    { 'Idempotency-Key': idempotencyKey },
  );
  expect(response.status, JSON.stringify(response.body)).toBe(202);
  return (response.body as { id: string }).id;
}

/** How many times each transfer id is recorded, and its entries, outbox rows and receipts. */
export interface TransferTrail {
  readonly transferRows: number;
  readonly entryRows: number;
  readonly outboxRows: number;
  readonly publishedRows: number;
  readonly receiptRows: number;
}

export async function trailOf(pool: pg.Pool, transferIds: readonly string[]): Promise<TransferTrail> {
  const { rows } = await pool.query<TransferTrail>(
    `select (select count(*)::int from ledger.transfers where id = any($1::uuid[])) as "transferRows",
            (select count(*)::int from ledger.entries where transfer_id = any($1::uuid[])) as "entryRows",
            (select count(*)::int from ledger.outbox
              where transfer_id = any($1::uuid[]) and event_type <> 'transfer.flagged') as "outboxRows",
            (select count(*)::int from ledger.outbox
              where transfer_id = any($1::uuid[]) and event_type <> 'transfer.flagged'
                and published_at is not null) as "publishedRows",
            (select count(*)::int from ledger.event_receipts r
               join ledger.outbox_events e on e.event_id = r.event_id
              where e.transfer_id = any($1::uuid[])) as "receiptRows"`,
    [transferIds],
  );
  const row = rows[0];
  if (row === undefined) throw new Error('test: the trail query returned no row');
  return row;
}

/** The trail every posted transfer ends with: posted once, two entries, one event, received once. */
export function completeTrail(count: number): TransferTrail {
  return {
    transferRows: count,
    entryRows: 2 * count,
    outboxRows: count,
    publishedRows: count,
    receiptRows: count,
  };
}

/** Waits until every transfer is posted and its event was received, then returns the trail. */
export function waitForCompleteTrail(pool: pg.Pool, transferIds: readonly string[], timeoutMs = 40_000) {
  return waitFor(
    `${transferIds.length} transfers posted and their events received`,
    async () => {
      const trail = await trailOf(pool, transferIds);
      return trail.receiptRows >= transferIds.length && trail.publishedRows >= transferIds.length
        ? trail
        : undefined;
    },
    timeoutMs,
  );
}

/** The posted totals of an account, as strings. */
export async function totalsOf(
  pool: pg.Pool,
  accountId: string,
): Promise<{ debits: string; credits: string }> {
  const { rows } = await pool.query<{ debits: string; credits: string }>(
    'select debits_posted::text as debits, credits_posted::text as credits from ledger.accounts where id = $1',
    [accountId],
  );
  const row = rows[0];
  if (row === undefined) throw new Error(`test: no account ${accountId}`);
  return row;
}
