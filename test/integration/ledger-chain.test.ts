import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import adminLedgerVerification from '../../functions/admin-ledger-verification';
import { PostgresLedgerChainStore } from '../../shared/adapters/postgres/ledger-chain-store';
import { PostgresLedgerStore } from '../../shared/adapters/postgres/ledger-store';
import { ledgerVerificationResponseSchema } from '../../shared/api/schemas';
import type { AccountId } from '../../shared/domain/ids';
import { toTransferMessage } from '../../shared/domain/transfer';
import { LedgerChainService } from '../../shared/services/ledger-chain';
import { apiEvent, parseResponse, testWiring } from '../support/api';
import { useTestDatabase } from '../support/database';
import { createAccount, transferFactory } from '../support/factories';

const database = useTestDatabase();

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
const chain = () => new LedgerChainService(new PostgresLedgerChainStore(database.pool), silent);

/** Sealer runs until every entry committed now is sealed; bounded, since other databases' transactions on the same server can hold the horizon back for a moment. */
const sealAttemptCountMax = 100;

async function highestEntryId(): Promise<bigint> {
  const { rows } = await database.pool.query<{ id: string }>(
    'select coalesce(max(id), 0)::text as id from ledger.entries',
  );
  return BigInt(rows[0]?.id ?? '0');
}

/** Entries in the journal, or those before an id: this file's tests share one database. */
async function entryCount(beforeId?: string): Promise<number> {
  const { rows } = await database.pool.query<{ count: number }>(
    'select count(*)::int as count from ledger.entries where $1::bigint is null or id < $1::bigint',
    [beforeId ?? null],
  );
  return rows[0]?.count ?? -1;
}

async function sealEverything(): Promise<void> {
  const target = await highestEntryId();
  for (let attempt = 0; attempt < sealAttemptCountMax; attempt += 1) {
    const outcome = await chain().sealRun({ entryCountMax: 1_000, callCountMax: 20, horizonWaitMs: 20 });
    if ((outcome.sealedThroughEntryId ?? 0n) >= target) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`test: entries up to ${target} were not sealed after ${sealAttemptCountMax} runs`);
}

async function postTransfers(count: number): Promise<AccountId[]> {
  const payer = await createAccount(database.pool);
  const payee = await createAccount(database.pool);
  const transfers = Array.from({ length: count }, (_, index) =>
    transferFactory({ debitAccountId: payer, creditAccountId: payee, amount: BigInt(index + 1) }),
  );
  await new PostgresLedgerStore(database.pool).postBatch(transfers, []);
  return [payer, payee];
}

/** Runs `change` as the superuser with the journal's triggers off, as someone going behind the engine's back would. */
async function behindTheEnginesBack(change: string, values: unknown[] = []): Promise<void> {
  const client = await database.ownerPool.connect();
  try {
    await client.query('begin');
    await client.query('alter table ledger.entries disable trigger user');
    await client.query(change, values);
    await client.query('alter table ledger.entries enable trigger user');
    await client.query('commit');
  } finally {
    client.release();
  }
}

async function verify(query: Record<string, string> = {}) {
  const handler = adminLedgerVerification.build(testWiring(database.pool));
  return parseResponse(
    await handler(apiEvent({ method: 'GET', resource: '/v1/admin/ledger-verification', query })),
  );
}

describe('the ledger chain', () => {
  it('seals every committed entry and verifies ok with the count and the head hash', async () => {
    await postTransfers(5);
    await sealEverything();

    const summary = await chain().verifyChain({ entryCountMax: 3, stepCountMax: 10 });
    const { rows } = await database.pool.query<{ hash: string; count: number }>(
      `select encode(head_hash, 'hex') as hash, sealed_count::int as count from ledger.chain_state`,
    );

    expect(await entryCount()).toBe(10);
    expect(summary).toMatchObject({ status: 'ok', checkedCount: 10, stepCount: 4, broken: undefined });
    expect(rows[0]).toEqual({ hash: summary.headHash, count: 10 });
  });

  it('does not seal past an entry id held by a transaction in flight, and seals it once it commits', async () => {
    const [payer, payee] = await postTransfers(1);
    const inFlight = await database.pool.connect();
    try {
      await inFlight.query('begin');
      await inFlight.query('select * from ledger.post_transfers($1::jsonb, true)', [
        JSON.stringify([
          toTransferMessage(transferFactory({ debitAccountId: payer, creditAccountId: payee, amount: 7n })),
        ]),
      ]);
      const { rows } = await inFlight.query<{ id: string }>(
        `select min(id)::text as id from ledger.entries where xmin::text::bigint = txid_current() % 4294967296`,
      );
      const heldId = BigInt(rows[0]?.id ?? '0');
      await postTransfers(2);

      for (let run = 0; run < 3; run += 1) {
        await chain().sealRun({ entryCountMax: 1_000, callCountMax: 5, horizonWaitMs: 10 });
      }
      const { rows: state } = await database.pool.query<{ through: string }>(
        'select sealed_through_entry_id::text as through from ledger.chain_state',
      );

      expect(heldId).toBeGreaterThan(0n);
      expect(BigInt(state[0]?.through ?? '0')).toBeLessThan(heldId);
      await inFlight.query('commit');
    } finally {
      inFlight.release();
    }
    await sealEverything();

    const summary = await chain().verifyChain({ entryCountMax: 100, stepCountMax: 10 });
    expect(summary).toMatchObject({ status: 'ok', checkedCount: await entryCount() });
  });

  it('names an entry changed behind the engine’s back, and holds again once it is put back', async () => {
    await postTransfers(3);
    await sealEverything();
    const { rows } = await database.pool.query<{ id: string; amount: string }>(
      'select id::text, amount::text from ledger.entries order by id desc offset 2 limit 1',
    );
    const target = rows[0];
    if (target === undefined) throw new Error('test: a third entry expected');

    await behindTheEnginesBack('update ledger.entries set amount = amount + 1 where id = $1', [target.id]);
    const broken = await verify();
    await behindTheEnginesBack('update ledger.entries set amount = $2 where id = $1', [
      target.id,
      target.amount,
    ]);
    const repaired = await verify();

    expect(broken.status).toBe(200);
    expect(ledgerVerificationResponseSchema.parse(broken.body)).toMatchObject({
      status: 'broken',
      checked_count: await entryCount(target.id),
      broken: { entry_id: target.id, reason: 'entry_changed' },
      next_after_entry_id: null,
    });
    expect(repaired.body).toMatchObject({ status: 'ok', checked_count: await entryCount(), broken: null });
  });

  it('names an entry removed and an entry added behind the engine’s back', async () => {
    await postTransfers(2);
    await sealEverything();
    const { rows } = await database.pool.query<Record<string, unknown>>(
      'select * from ledger.entries order by id limit 1',
    );
    const first = rows[0];
    if (first === undefined) throw new Error('test: an entry expected');

    await behindTheEnginesBack('delete from ledger.entries where id = $1', [first.id]);
    const removed = await verify();
    await behindTheEnginesBack(
      `insert into ledger.entries overriding system value
         select * from json_populate_record(null::ledger.entries, $1::json)`,
      [JSON.stringify(first)],
    );
    const restored = await verify();
    const { rows: added } = await database.pool.query<{ id: string }>(
      `select (max(id) + 1)::text as id from ledger.entries`,
    );
    await database.ownerPool.query(`update ledger.chain_state set sealed_through_entry_id = $1::bigint + 1`, [
      added[0]?.id,
    ]);
    await behindTheEnginesBack(
      `insert into ledger.entries overriding system value
         select * from json_populate_record(null::ledger.entries, $1::json)`,
      [JSON.stringify({ ...first, id: added[0]?.id, direction: 'credit' })],
    );
    const planted = await verify();
    await behindTheEnginesBack('delete from ledger.entries where id = $1', [added[0]?.id]);
    await database.ownerPool.query('update ledger.chain_state set sealed_through_entry_id = $1::bigint - 1', [
      added[0]?.id,
    ]);

    expect(removed.body).toMatchObject({
      status: 'broken',
      broken: { entry_id: String(first.id), reason: 'entry_missing' },
    });
    expect(restored.body).toMatchObject({ status: 'ok' });
    expect(planted.body).toMatchObject({
      status: 'broken',
      broken: { entry_id: added[0]?.id, reason: 'entry_not_sealed' },
    });
  });

  it('names a changed head', async () => {
    await postTransfers(1);
    await sealEverything();

    const { rows } = await database.pool.query<{ hash: Buffer }>(
      'select head_hash as hash from ledger.chain_state',
    );
    await database.ownerPool.query(`update ledger.chain_state set head_hash = sha256('forged'::bytea)`);
    const response = await verify({ limit: '100000' });
    await database.ownerPool.query('update ledger.chain_state set head_hash = $1', [rows[0]?.hash]);

    expect(response.body).toMatchObject({ status: 'broken', broken: { reason: 'head_changed' } });
  });
});

describe('GET /v1/admin/ledger-verification', () => {
  it('walks the chain in steps of limit links, following next_after_entry_id', async () => {
    await postTransfers(3);
    await sealEverything();

    const total = await entryCount();
    const limit = Math.ceil(total / 2) + 1;
    const first = ledgerVerificationResponseSchema.parse((await verify({ limit: String(limit) })).body);
    const second = ledgerVerificationResponseSchema.parse(
      (await verify({ limit: String(limit), after_entry_id: String(first.next_after_entry_id) })).body,
    );

    expect(first).toMatchObject({ status: 'ok', checked_count: limit, after_entry_id: '0' });
    expect(first.next_after_entry_id).toBe(first.last_entry_id);
    expect(second).toMatchObject({ status: 'ok', checked_count: total - limit, next_after_entry_id: null });
    expect(second.last_hash).toBe(second.head.hash);
    expect(second.head.sealed_count).toBe(String(total));
  });

  for (const [name, query, field] of [
    ['an entry that is not sealed', { after_entry_id: '999999' }, 'after_entry_id'],
    ['an entry id that is not a number', { after_entry_id: 'x' }, 'after_entry_id'],
    ['a limit of 0', { limit: '0' }, 'limit'],
    ['a limit over 100,000', { limit: '100001' }, 'limit'],
  ] as const) {
    it(`answers 400 naming ${field} for ${name}`, async () => {
      const response = await verify(query);

      expect(response.status).toBe(400);
      expect(response.body.field).toBe(field);
    });
  }
});

describe('npm run verify-ledger', () => {
  it('seals, reports ok with the count and the head hash, and exits 0', async () => {
    await postTransfers(2);

    const { stdout } = await promisify(execFile)(
      'npx',
      ['tsx', 'infra/local/verify-ledger.ts', '--seal', '--json'],
      { env: { ...process.env, DATABASE_URL: database.url } },
    );

    const report = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}');
    expect(report).toMatchObject({ status: 'ok', checked_count: await entryCount(), broken: null });
    expect(report.head_hash).toMatch(/^[0-9a-f]{64}$/);
  });
});
