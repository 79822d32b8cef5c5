import { describe, expect, it } from 'vitest';
import createAccountFunction from '../../functions/create-account';
import getAccountFunction from '../../functions/get-account';
import listAccountEntries from '../../functions/list-account-entries';
import { PostgresLedgerStore } from '../../shared/adapters/postgres/ledger-store';
import {
  accountResponseSchema,
  entryPageResponseSchema,
  entryPageSizeDefault,
} from '../../shared/api/schemas';
import type { HttpFunction } from '../../shared/definitions';
import { type AccountId, parseAccountId } from '../../shared/domain/ids';
import { requestBodyBytesMax } from '../../shared/handlers/http';
import { type ApiRequest, apiEvent, parseResponse, testWiring } from '../support/api';
import { useTestDatabase } from '../support/database';
import { transferFactory } from '../support/factories';

const database = useTestDatabase();

async function call(
  definition: HttpFunction,
  request: ApiRequest,
): Promise<ReturnType<typeof parseResponse>> {
  const handler = definition.build(testWiring(database.pool));
  return parseResponse(await handler(apiEvent(request)));
}

const postAccount = (body: unknown) =>
  call(createAccountFunction, { method: 'POST', resource: '/v1/accounts', body });
const getAccount = (id: string) =>
  call(getAccountFunction, { method: 'GET', resource: '/v1/accounts/{id}', pathParameters: { id } });
const listEntries = (id: string, query: Record<string, string> = {}) =>
  call(listAccountEntries, {
    method: 'GET',
    resource: '/v1/accounts/{id}/entries',
    pathParameters: { id },
    query,
  });

async function accountCount(): Promise<number> {
  const { rows } = await database.pool.query<{ count: number }>(
    'select count(*)::int as count from ledger.accounts',
  );
  return rows[0]?.count ?? -1;
}

async function openAccount(body: Record<string, unknown> = { currency: 'USD' }): Promise<AccountId> {
  const response = await postAccount(body);
  expect(response.status).toBe(201);
  const id = parseAccountId(response.body.id);
  if (id === undefined) throw new Error('test: the API returned no account id');
  return id;
}

describe('POST /v1/accounts', () => {
  it('opens an account and answers 201 with it, amounts and version as strings', async () => {
    const response = await postAccount({
      currency: 'EUR',
      code: 7,
      flags: { debits_must_not_exceed_credits: true },
      metadata: { owner: 'alice', tags: ['a', 'b'] },
    });

    expect(response.status).toBe(201);
    expect(response.headers['content-type']).toBe('application/json');
    expect(accountResponseSchema.parse(response.body)).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      currency: 'EUR',
      code: 7,
      flags: { debits_must_not_exceed_credits: true, credits_must_not_exceed_debits: false },
      debits_posted: '0',
      credits_posted: '0',
      debits_pending: '0',
      credits_pending: '0',
      metadata: { owner: 'alice', tags: ['a', 'b'] },
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      version: '0',
      velocity: { window_s: null, max_transfers: null, max_amount: null },
      status: 'open',
      balance: { posted: '0', pending: '0', available: '0' },
    });
    expect(response.headers.location).toBe(`/v1/accounts/${String(response.body.id)}`);
  });

  it('opens an account with only a currency, with defaults for the rest', async () => {
    const response = await postAccount({ currency: 'JPY' });

    expect(response.status).toBe(201);
    expect(response.body).toMatchObject({
      currency: 'JPY',
      code: 0,
      flags: { debits_must_not_exceed_credits: false, credits_must_not_exceed_debits: false },
      metadata: {},
    });
  });

  const badBodies: readonly { readonly name: string; readonly body: unknown; readonly field: string }[] = [
    { name: 'a missing currency', body: {}, field: 'currency' },
    { name: 'a lower-case currency', body: { currency: 'usd' }, field: 'currency' },
    { name: 'an unknown currency', body: { currency: 'ZZZ' }, field: 'currency' },
    { name: 'a currency without minor unit', body: { currency: 'XAU' }, field: 'currency' },
    { name: 'a numeric currency', body: { currency: 840 }, field: 'currency' },
    {
      name: 'both flags',
      body: {
        currency: 'USD',
        flags: { debits_must_not_exceed_credits: true, credits_must_not_exceed_debits: true },
      },
      field: 'flags',
    },
    {
      name: 'a flag that is not a boolean',
      body: { currency: 'USD', flags: { debits_must_not_exceed_credits: 'yes' } },
      field: 'flags.debits_must_not_exceed_credits',
    },
    {
      name: 'an unknown flag',
      body: { currency: 'USD', flags: { overdraft: true } },
      field: 'flags.overdraft',
    },
    { name: 'flags that are not an object', body: { currency: 'USD', flags: [] }, field: 'flags' },
    { name: 'a negative code', body: { currency: 'USD', code: -1 }, field: 'code' },
    { name: 'a fractional code', body: { currency: 'USD', code: 1.5 }, field: 'code' },
    { name: 'a code over 65535', body: { currency: 'USD', code: 65_536 }, field: 'code' },
    { name: 'a code as a string', body: { currency: 'USD', code: '1' }, field: 'code' },
    { name: 'metadata that is an array', body: { currency: 'USD', metadata: [1] }, field: 'metadata' },
    { name: 'metadata that is null', body: { currency: 'USD', metadata: null }, field: 'metadata' },
    {
      name: 'metadata over 4096 bytes',
      body: { currency: 'USD', metadata: { note: 'x'.repeat(5000) } },
      field: 'metadata',
    },
    {
      name: 'metadata with a NUL character',
      body: { currency: 'USD', metadata: { note: 'a\u0000b' } },
      field: 'metadata',
    },
    { name: 'an unknown field', body: { currency: 'USD', nickname: 'main' }, field: 'nickname' },
  ];

  for (const { name, body, field } of badBodies) {
    it(`refuses ${name} with 400 naming ${field}, and opens nothing`, async () => {
      const before = await accountCount();

      const response = await postAccount(body);

      expect(response.status).toBe(400);
      expect(response.headers['content-type']).toBe('application/problem+json');
      expect(response.body).toMatchObject({
        type: 'https://ledgerx.dev/problems/validation',
        title: 'Invalid request',
        status: 400,
        field,
      });
      expect(typeof response.body.detail).toBe('string');
      expect(await accountCount()).toBe(before);
    });
  }

  it('says a missing field is required', async () => {
    const response = await postAccount({ code: 1 });

    expect(response.body).toMatchObject({ field: 'currency', detail: 'currency is required' });
  });

  it('refuses a body that is not a JSON object with 400 and no field', async () => {
    const response = await postAccount([{ currency: 'USD' }]);

    expect(response.status).toBe(400);
    expect(response.body.field).toBeUndefined();
  });

  it('refuses malformed JSON with 400 "Malformed JSON" and no field', async () => {
    const before = await accountCount();

    const response = await postAccount('{"currency": "USD",');

    expect(response.status).toBe(400);
    expect(response.headers['content-type']).toBe('application/problem+json');
    expect(response.body).toEqual({
      type: 'https://ledgerx.dev/problems/malformed-json',
      title: 'Malformed JSON',
      status: 400,
      detail: expect.any(String),
    });
    expect(await accountCount()).toBe(before);
  });

  it('refuses an empty body as malformed JSON', async () => {
    const response = await postAccount('');

    expect(response.status).toBe(400);
    expect(response.body.title).toBe('Malformed JSON');
  });

  it('refuses a body over 256 KiB with 413 before parsing it', async () => {
    const before = await accountCount();
    const padding = 'x'.repeat(requestBodyBytesMax);

    const response = await postAccount(JSON.stringify({ currency: 'USD', metadata: { padding } }));

    expect(response.status).toBe(413);
    expect(response.body).toMatchObject({
      type: 'https://ledgerx.dev/problems/payload-too-large',
      status: 413,
    });
    expect(await accountCount()).toBe(before);
  });

  it('takes a body of exactly 256 KiB as far as validation', async () => {
    const json = JSON.stringify({ currency: 'USD', metadata: { padding: '' } });
    const body = json.replace('""', `"${'x'.repeat(requestBodyBytesMax - json.length)}"`);
    expect(Buffer.byteLength(body)).toBe(requestBodyBytesMax);

    const response = await postAccount(body);

    expect(response.status).toBe(400);
    expect(response.body.field).toBe('metadata');
  });
});

describe('GET /v1/accounts/{id}', () => {
  it('answers the account with its posted totals as exact decimal strings', async () => {
    const debitId = await openAccount();
    const creditId = await openAccount();
    const big = 2n ** 62n + 1n;
    await new PostgresLedgerStore(database.pool).postBatch(
      [transferFactory({ debitAccountId: debitId, creditAccountId: creditId, amount: big })],
      [],
    );

    const response = await getAccount(creditId);

    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({
      id: creditId,
      debits_posted: '0',
      credits_posted: big.toString(),
      version: '1',
    });
  });

  it('answers 404 for an account that does not exist', async () => {
    const response = await getAccount('0192f6a4-1d2e-4c3b-8a9f-0123456789ab');

    expect(response.status).toBe(404);
    expect(response.body).toMatchObject({ type: 'https://ledgerx.dev/problems/not-found', status: 404 });
  });

  for (const id of [
    'not-a-uuid',
    '0192F6A4-1D2E-4C3B-8A9F-0123456789AB',
    '00000000-0000-0000-0000-000000000000',
  ]) {
    it(`answers 400 naming id for the id ${id}`, async () => {
      const response = await getAccount(id);

      expect(response.status).toBe(400);
      expect(response.body.field).toBe('id');
    });
  }
});

describe('GET /v1/accounts/{id}/entries', () => {
  /** Posts `count` transfers of 1, 2, 3… minor units from a fresh account to `accountId`. */
  async function postTransfersTo(accountId: AccountId, count: number): Promise<void> {
    const sourceId = await openAccount();
    const transfers = Array.from({ length: count }, (_, index) =>
      transferFactory({ debitAccountId: sourceId, creditAccountId: accountId, amount: BigInt(index + 1) }),
    );
    await new PostgresLedgerStore(database.pool).postBatch(transfers, []);
  }

  it('walks every entry exactly once, newest first, following the cursors', async () => {
    const accountId = await openAccount();
    await postTransfersTo(accountId, 11);
    const { rows } = await database.pool.query<{ id: string }>(
      'select e.id::text as id from ledger.entries e where e.account_id = $1 order by e.id desc',
      [accountId],
    );

    const seen: string[] = [];
    const pageSizes: number[] = [];
    let cursor: string | null = null;
    for (let pageCount = 0; pageCount < 10; pageCount += 1) {
      const response = await listEntries(accountId, { limit: '4', ...(cursor === null ? {} : { cursor }) });
      expect(response.status).toBe(200);
      const page = entryPageResponseSchema.parse(response.body);
      seen.push(...page.items.map((item) => item.id));
      pageSizes.push(page.items.length);
      cursor = page.next_cursor;
      if (cursor === null) break;
    }

    expect(pageSizes).toEqual([4, 4, 3]);
    expect(seen).toEqual(rows.map((row) => row.id));
  });

  it('answers entries with running totals as strings', async () => {
    const accountId = await openAccount();
    await postTransfersTo(accountId, 2);

    const response = await listEntries(accountId);

    const page = entryPageResponseSchema.parse(response.body);
    expect(page.next_cursor).toBeNull();
    expect(page.items.map((item) => [item.direction, item.amount, item.credits_posted_after])).toEqual([
      ['credit', '2', '3'],
      ['credit', '1', '1'],
    ]);
    expect(page.items[0]).toMatchObject({ currency: 'USD', debits_posted_after: '0' });
  });

  it(`answers ${entryPageSizeDefault} entries when no limit is given`, async () => {
    const accountId = await openAccount();
    await postTransfersTo(accountId, entryPageSizeDefault + 1);

    const response = await listEntries(accountId);

    const page = entryPageResponseSchema.parse(response.body);
    const rest = entryPageResponseSchema.parse(
      (await listEntries(accountId, { cursor: String(page.next_cursor) })).body,
    );
    expect(page.items).toHaveLength(entryPageSizeDefault);
    expect(rest.items).toHaveLength(1);
    expect(rest.next_cursor).toBeNull();
  });

  it('answers an empty page for an account without entries', async () => {
    const accountId = await openAccount();

    const response = await listEntries(accountId);

    expect(response.status).toBe(200);
    expect(response.body).toEqual({ items: [], next_cursor: null });
  });

  it('answers 404 for an account that does not exist', async () => {
    const response = await listEntries('0192f6a4-1d2e-4c3b-8a9f-0123456789ab');

    expect(response.status).toBe(404);
  });

  for (const [name, query, field] of [
    ['a limit over 200', { limit: '201' }, 'limit'],
    ['a limit of 0', { limit: '0' }, 'limit'],
    ['a limit that is not a number', { limit: 'ten' }, 'limit'],
    ['a cursor this API did not make', { cursor: 'bm90LWFuLWlk' }, 'cursor'],
    ['a cursor that is not base64url', { cursor: '***' }, 'cursor'],
  ] as const) {
    it(`answers 400 naming ${field} for ${name}`, async () => {
      const accountId = await openAccount();

      const response = await listEntries(accountId, query);

      expect(response.status).toBe(400);
      expect(response.body.field).toBe(field);
    });
  }
});
