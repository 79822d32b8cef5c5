import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { PostgresLedgerStore, type RetryPolicy } from '../../shared/adapters/postgres/ledger-store';
import { createPool } from '../../shared/adapters/postgres/pool';
import { type AccountId, newAccountId, type TransferId } from '../../shared/domain/ids';
import { amountMax } from '../../shared/domain/money';
import type { ExistsResult, RejectionReason, TransferResult } from '../../shared/domain/results';
import type { TransferCommand } from '../../shared/domain/transfer';
import { SerializationRetriesExhaustedError, TransientError } from '../../shared/errors';
import { checkInvariants, useTestDatabase } from '../support/database';
import { createAccount, currency, fund, transferFactory } from '../support/factories';

// Enough connections for the concurrency tests to keep 20 transactions in flight at once.
const database = useTestDatabase({ connectionCountMax: 20 });

const eur = currency('EUR');

interface AccountTotals {
  readonly debitsPosted: bigint;
  readonly creditsPosted: bigint;
  readonly version: bigint;
}

interface EntryRow {
  readonly transferId: string;
  readonly accountId: string;
  readonly direction: string;
  readonly amount: bigint;
  readonly debitsPostedAfter: bigint;
  readonly creditsPostedAfter: bigint;
}

interface LedgerCounts {
  readonly transfers: number;
  readonly entries: number;
  readonly outbox: number;
}

function newStore(retryPolicy?: RetryPolicy): PostgresLedgerStore {
  return new PostgresLedgerStore(database.pool, retryPolicy === undefined ? {} : { retryPolicy });
}

async function post(transfers: readonly TransferCommand[]): Promise<readonly TransferResult[]> {
  const { results } = await newStore().postBatch(transfers, []);
  return results;
}

async function readAccount(id: AccountId): Promise<AccountTotals | undefined> {
  const { rows } = await database.pool.query<{
    debits_posted: string;
    credits_posted: string;
    version: string;
  }>('select debits_posted, credits_posted, version from ledger.accounts where id = $1', [id]);
  const row = rows[0];
  if (row === undefined) return undefined;
  return {
    debitsPosted: BigInt(row.debits_posted),
    creditsPosted: BigInt(row.credits_posted),
    version: BigInt(row.version),
  };
}

async function mustReadAccount(id: AccountId): Promise<AccountTotals> {
  const account = await readAccount(id);
  if (account === undefined) throw new Error(`test: account ${id} does not exist`);
  return account;
}

/** The entries of the given transfers, in the order they were written. */
async function readEntries(transferIds: readonly TransferId[]): Promise<EntryRow[]> {
  const { rows } = await database.pool.query<{
    transfer_id: string;
    account_id: string;
    direction: string;
    amount: string;
    debits_posted_after: string;
    credits_posted_after: string;
  }>(
    `select transfer_id, account_id, direction, amount, debits_posted_after, credits_posted_after
       from ledger.entries where transfer_id = any($1::uuid[]) order by id`,
    [transferIds],
  );
  return rows.map((row) => ({
    transferId: row.transfer_id,
    accountId: row.account_id,
    direction: row.direction,
    amount: BigInt(row.amount),
    debitsPostedAfter: BigInt(row.debits_posted_after),
    creditsPostedAfter: BigInt(row.credits_posted_after),
  }));
}

async function readTransfer(id: TransferId): Promise<{ status: string; reason: string | null } | undefined> {
  const { rows } = await database.pool.query<{ status: string; reason: string | null }>(
    'select status, reason from ledger.transfers where id = $1',
    [id],
  );
  return rows[0];
}

async function readOutbox(transferId: TransferId): Promise<{ eventType: string; payload: unknown }[]> {
  const { rows } = await database.pool.query<{ event_type: string; payload: unknown }>(
    'select event_type, payload from ledger.outbox_events where transfer_id = $1 order by id',
    [transferId],
  );
  return rows.map((row) => ({ eventType: row.event_type, payload: row.payload }));
}

async function countLedger(): Promise<LedgerCounts> {
  const { rows } = await database.pool.query<LedgerCounts>(
    `select (select count(*)::int from ledger.transfers) as transfers,
            (select count(*)::int from ledger.entries) as entries,
            (select count(*)::int from ledger.outbox) as outbox`,
  );
  const row = rows[0];
  if (row === undefined) throw new Error('test: count returned no row');
  return row;
}

/**
 * Runs `work` as the tables' owner (a superuser here) on a dedicated connection, inside a
 * transaction that is always rolled back: what the grants keep from the functions' login, the
 * owner may try, so the triggers and checks that bind even the owner can be shown.
 */
async function inRolledBackTransaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await database.ownerPool.connect();
  try {
    await client.query('begin');
    try {
      return await work(client);
    } finally {
      await client.query('rollback');
    }
  } finally {
    client.release();
  }
}

/** Opens a serializable transaction on its own connection that holds the account's row lock. */
async function lockAccountRow(accountId: AccountId): Promise<pg.Client> {
  const blocker = new pg.Client(database.url);
  await blocker.connect();
  await blocker.query('begin isolation level serializable');
  await blocker.query(`update ledger.accounts set metadata = metadata || '{"x":1}' where id = $1`, [
    accountId,
  ]);
  return blocker;
}

/** Waits until a pool connection (application_name 'ledgerx') is queued on a lock. */
async function waitForLockWaiter(): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const { rows } = await database.pool.query<{ waiting: boolean }>(
      `select exists (
         select 1 from pg_stat_activity
          where datname = current_database() and application_name = 'ledgerx' and wait_event_type = 'Lock'
       ) as waiting`,
    );
    if (rows[0]?.waiting === true) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('test: no posting transaction queued on the row lock within 10 s');
}

/**
 * A pool of its own on the test database whose connections note the SQLSTATE of every failed
 * query, so a test can see what the store retried (a deadlock is 40P01).
 */
function poolRecordingFailures(failedSqlStates: string[]): pg.Pool {
  const pool = createPool(database.functionsUrl, {
    connectionCountMax: 20,
    connectTimeoutMs: 5_000,
    queryTimeoutMs: 30_000,
    idleTimeoutMs: 10_000,
  });
  pool.on('connect', (client) => {
    const query = client.query.bind(client) as (...args: unknown[]) => Promise<unknown>;
    const recordingQuery = async (...args: unknown[]): Promise<unknown> => {
      try {
        return await query(...args);
      } catch (error) {
        const code = typeof error === 'object' && error !== null && 'code' in error ? error.code : undefined;
        failedSqlStates.push(String(code));
        throw error;
      }
    };
    client.query = recordingQuery as typeof client.query;
  });
  return pool;
}

/** Settles a promise into its value or its error, so a rejection is never left unhandled. */
function settle<T>(promise: Promise<T>): Promise<{ value: T } | { error: unknown }> {
  return promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
}

function countOf(results: readonly TransferResult[], result: TransferResult): number {
  return results.filter((item) => item === result).length;
}

describe('posting a transfer', () => {
  it('writes a debit and a credit entry with running totals, moves both totals and versions, and emits transfer.posted', async () => {
    const debitAccountId = await createAccount(database.pool);
    const creditAccountId = await createAccount(database.pool);
    await fund(database.pool, debitAccountId, 1_000n);
    const debitBefore = await mustReadAccount(debitAccountId);
    const creditBefore = await mustReadAccount(creditAccountId);
    const transfer = transferFactory({
      debitAccountId,
      creditAccountId,
      amount: 300n,
      metadata: { note: 'rent' },
    });

    const outcome = await newStore().postBatch([transfer], []);

    expect(outcome).toEqual({ results: ['posted'], attemptCount: 1 });
    expect(await readEntries([transfer.id])).toEqual([
      {
        transferId: transfer.id,
        accountId: debitAccountId,
        direction: 'debit',
        amount: 300n,
        debitsPostedAfter: 300n,
        creditsPostedAfter: 1_000n,
      },
      {
        transferId: transfer.id,
        accountId: creditAccountId,
        direction: 'credit',
        amount: 300n,
        debitsPostedAfter: 0n,
        creditsPostedAfter: 300n,
      },
    ]);
    expect(await readAccount(debitAccountId)).toEqual({
      debitsPosted: 300n,
      creditsPosted: 1_000n,
      version: debitBefore.version + 1n,
    });
    expect(await readAccount(creditAccountId)).toEqual({
      debitsPosted: 0n,
      creditsPosted: 300n,
      version: creditBefore.version + 1n,
    });
    expect(await readTransfer(transfer.id)).toEqual({ status: 'posted', reason: null });
    expect(await readOutbox(transfer.id)).toEqual([
      {
        eventType: 'transfer.posted',
        payload: expect.objectContaining({
          id: transfer.id,
          status: 'posted',
          reason: null,
          debit_account_id: debitAccountId,
          credit_account_id: creditAccountId,
          amount: '300',
          currency: 'USD',
          metadata: { note: 'rent' },
        }),
      },
    ]);
  });

  it('posts a transfer that spends a flagged account down to exactly zero', async () => {
    const debitAccountId = await createAccount(database.pool, { debitsMustNotExceedCredits: true });
    const creditAccountId = await createAccount(database.pool);
    await fund(database.pool, debitAccountId, 50n);
    const transfer = transferFactory({ debitAccountId, creditAccountId, amount: 50n });

    const results = await post([transfer]);

    expect(results).toEqual(['posted']);
    expect(await readAccount(debitAccountId)).toMatchObject({ debitsPosted: 50n, creditsPosted: 50n });
  });
});

describe('rejecting a transfer', () => {
  type Arrange = () => Promise<
    Pick<TransferCommand, 'debitAccountId' | 'creditAccountId' | 'amount'> & Partial<TransferCommand>
  >;

  const cases: [string, RejectionReason, Arrange][] = [
    [
      'the same account on both sides',
      'accounts_must_be_different',
      async () => {
        const accountId = await createAccount(database.pool);
        return { debitAccountId: accountId, creditAccountId: accountId, amount: 1n };
      },
    ],
    [
      'a debit account that does not exist',
      'debit_account_not_found',
      async () => ({
        debitAccountId: newAccountId(),
        creditAccountId: await createAccount(database.pool),
        amount: 1n,
      }),
    ],
    [
      'neither account existing (the debit side is checked first)',
      'debit_account_not_found',
      async () => ({
        debitAccountId: newAccountId(),
        creditAccountId: newAccountId(),
        amount: 1n,
      }),
    ],
    [
      'a credit account that does not exist',
      'credit_account_not_found',
      async () => ({
        debitAccountId: await createAccount(database.pool),
        creditAccountId: newAccountId(),
        amount: 1n,
      }),
    ],
    [
      'a debit account in another currency',
      'currency_mismatch',
      async () => ({
        debitAccountId: await createAccount(database.pool, { currency: eur }),
        creditAccountId: await createAccount(database.pool),
        amount: 1n,
      }),
    ],
    [
      'a credit account in another currency',
      'currency_mismatch',
      async () => ({
        debitAccountId: await createAccount(database.pool),
        creditAccountId: await createAccount(database.pool, { currency: eur }),
        amount: 1n,
      }),
    ],
    [
      'a debit that would take debits_posted past 2^63-1',
      'overflows_debits_posted',
      async () => {
        const debitAccountId = await createAccount(database.pool);
        const sinkAccountId = await createAccount(database.pool);
        expect(
          await post([
            transferFactory({ debitAccountId, creditAccountId: sinkAccountId, amount: amountMax - 5n }),
          ]),
        ).toEqual(['posted']);
        return { debitAccountId, creditAccountId: await createAccount(database.pool), amount: 6n };
      },
    ],
    [
      'a credit that would take credits_posted past 2^63-1',
      'overflows_credits_posted',
      async () => {
        const creditAccountId = await createAccount(database.pool);
        await fund(database.pool, creditAccountId, amountMax - 5n);
        return { debitAccountId: await createAccount(database.pool), creditAccountId, amount: 6n };
      },
    ],
    [
      'a debit past the credits of a debits_must_not_exceed_credits account',
      'exceeds_credits',
      async () => {
        const debitAccountId = await createAccount(database.pool, { debitsMustNotExceedCredits: true });
        await fund(database.pool, debitAccountId, 50n);
        return { debitAccountId, creditAccountId: await createAccount(database.pool), amount: 51n };
      },
    ],
    [
      'a credit past the debits of a credits_must_not_exceed_debits account',
      'exceeds_debits',
      async () => {
        const creditAccountId = await createAccount(database.pool, { creditsMustNotExceedDebits: true });
        const sinkAccountId = await createAccount(database.pool);
        expect(
          await post([
            transferFactory({ debitAccountId: creditAccountId, creditAccountId: sinkAccountId, amount: 50n }),
          ]),
        ).toEqual(['posted']);
        return { debitAccountId: await createAccount(database.pool), creditAccountId, amount: 51n };
      },
    ],
  ];

  it.each(cases)(
    'records %s as %s, with no entries and a transfer.rejected event',
    async (_case, reason, arrange) => {
      const transfer = transferFactory(await arrange());
      const debitBefore = await readAccount(transfer.debitAccountId);
      const creditBefore = await readAccount(transfer.creditAccountId);

      const results = await post([transfer]);

      expect(results).toEqual([reason]);
      expect(await readTransfer(transfer.id)).toEqual({ status: 'rejected', reason });
      expect(await readEntries([transfer.id])).toEqual([]);
      expect(await readAccount(transfer.debitAccountId)).toEqual(debitBefore);
      expect(await readAccount(transfer.creditAccountId)).toEqual(creditBefore);
      expect(await readOutbox(transfer.id)).toEqual([
        {
          eventType: 'transfer.rejected',
          payload: expect.objectContaining({ id: transfer.id, status: 'rejected', reason }),
        },
      ]);
    },
  );
});

describe('posting the same transfer id again', () => {
  const changes: [string, ExistsResult, (original: TransferCommand) => Promise<Partial<TransferCommand>>][] =
    [
      ['nothing', 'exists', async () => ({})],
      ['only the accepted_at time', 'exists', async () => ({ acceptedAt: '2020-01-01T00:00:00.000Z' })],
      ['only the order of the metadata keys', 'exists', async () => ({ metadata: { second: 2, first: 1 } })],
      [
        'the debit account',
        'exists_with_different_debit_account_id',
        async () => ({ debitAccountId: await createAccount(database.pool) }),
      ],
      [
        'the credit account',
        'exists_with_different_credit_account_id',
        async () => ({ creditAccountId: await createAccount(database.pool) }),
      ],
      ['the amount', 'exists_with_different_amount', async (original) => ({ amount: original.amount + 1n })],
      ['the currency', 'exists_with_different_currency', async () => ({ currency: eur })],
      ['the metadata', 'exists_with_different_metadata', async () => ({ metadata: { first: 1, second: 3 } })],
      [
        'the amount and the metadata (the amount is compared first)',
        'exists_with_different_amount',
        async (original) => ({ amount: original.amount + 1n, metadata: {} }),
      ],
    ];

  async function originalTransfer(): Promise<TransferCommand> {
    const debitAccountId = await createAccount(database.pool);
    const creditAccountId = await createAccount(database.pool);
    return transferFactory({
      debitAccountId,
      creditAccountId,
      amount: 70n,
      metadata: { first: 1, second: 2 },
    });
  }

  it.each(changes)(
    'in a later batch, with %s changed, answers %s and writes nothing',
    async (_change, expected, change) => {
      const original = await originalTransfer();
      expect(await post([original])).toEqual(['posted']);
      const again = { ...original, ...(await change(original)) };
      const countsBefore = await countLedger();
      const debitBefore = await readAccount(original.debitAccountId);

      const results = await post([again]);

      expect(results).toEqual([expected]);
      expect(await countLedger()).toEqual(countsBefore);
      expect(await readAccount(original.debitAccountId)).toEqual(debitBefore);
      expect(await readTransfer(original.id)).toEqual({ status: 'posted', reason: null });
    },
  );

  it.each(changes)(
    'in the same batch, with %s changed, answers %s for the second one',
    async (_change, expected, change) => {
      const original = await originalTransfer();
      const again = { ...original, ...(await change(original)) };
      const countsBefore = await countLedger();

      const results = await post([original, again]);

      expect(results).toEqual(['posted', expected]);
      expect(await countLedger()).toEqual({
        transfers: countsBefore.transfers + 1,
        entries: countsBefore.entries + 2,
        outbox: countsBefore.outbox + 1,
      });
      expect((await readEntries([original.id])).map((entry) => entry.amount)).toEqual([70n, 70n]);
    },
  );

  it('answers exists for a rejected transfer too, and writes no second event', async () => {
    const transfer = transferFactory({ creditAccountId: await createAccount(database.pool) });
    expect(await post([transfer])).toEqual(['debit_account_not_found']);
    const countsBefore = await countLedger();

    const results = await post([transfer]);

    expect(results).toEqual(['exists']);
    expect(await countLedger()).toEqual(countsBefore);
    expect(await readOutbox(transfer.id)).toHaveLength(1);
  });
});

describe('a hot account in one batch', () => {
  it('posts exactly the affordable prefix in message order, rejects the rest and writes the account once', async () => {
    const spenderId = await createAccount(database.pool, { debitsMustNotExceedCredits: true });
    const sinkIds = [await createAccount(database.pool), await createAccount(database.pool)] as const;
    await fund(database.pool, spenderId, 45n);
    const spenderBefore = await mustReadAccount(spenderId);
    const sinkVersionsBefore = await Promise.all(
      sinkIds.map(async (id) => (await mustReadAccount(id)).version),
    );
    const transfers = Array.from({ length: 10 }, (_, index) =>
      transferFactory({ debitAccountId: spenderId, creditAccountId: sinkIds[index % 2], amount: 10n }),
    );

    const outcome = await newStore().postBatch(transfers, []);

    expect(outcome.results).toEqual([...Array(4).fill('posted'), ...Array(6).fill('exceeds_credits')]);
    const entries = await readEntries(transfers.map((transfer) => transfer.id));
    expect(
      entries
        .filter((entry) => entry.accountId === spenderId)
        .map((entry) => [entry.direction, entry.debitsPostedAfter, entry.creditsPostedAfter]),
    ).toEqual([
      ['debit', 10n, 45n],
      ['debit', 20n, 45n],
      ['debit', 30n, 45n],
      ['debit', 40n, 45n],
    ]);
    for (const sinkId of sinkIds) {
      expect(
        entries
          .filter((entry) => entry.accountId === sinkId)
          .map((entry) => [entry.direction, entry.debitsPostedAfter, entry.creditsPostedAfter]),
      ).toEqual([
        ['credit', 0n, 10n],
        ['credit', 0n, 20n],
      ]);
    }
    expect(await readAccount(spenderId)).toEqual({
      debitsPosted: 40n,
      creditsPosted: 45n,
      version: spenderBefore.version + 1n,
    });
    expect(await Promise.all(sinkIds.map(async (id) => (await mustReadAccount(id)).version))).toEqual(
      sinkVersionsBefore.map((version) => version + 1n),
    );
  });

  it('decides each transfer against the totals the earlier ones left: a rejection frees nothing, and a smaller later one still fits', async () => {
    const spenderId = await createAccount(database.pool, { debitsMustNotExceedCredits: true });
    const sinkId = await createAccount(database.pool);
    await fund(database.pool, spenderId, 50n);
    const amounts = [20n, 20n, 30n, 5n, 10n, 1n, 5n];
    const transfers = amounts.map((amount) =>
      transferFactory({ debitAccountId: spenderId, creditAccountId: sinkId, amount }),
    );

    const results = await post(transfers);

    expect(results).toEqual([
      'posted',
      'posted',
      'exceeds_credits',
      'posted',
      'exceeds_credits',
      'posted',
      'exceeds_credits',
    ]);
    expect(
      (await readEntries(transfers.map((transfer) => transfer.id)))
        .filter((entry) => entry.accountId === spenderId)
        .map((entry) => entry.debitsPostedAfter),
    ).toEqual([20n, 40n, 45n, 46n]);
    expect(await readAccount(spenderId)).toMatchObject({ debitsPosted: 46n, creditsPosted: 50n });
  });
});

describe('concurrent batches', () => {
  it('let 40 concurrent consumers spend a flagged account of 25 units exactly 25 times, the rest exceeds_credits', async () => {
    const callCount = 40;
    const transfersPerCall = 2;
    const fundedAmount = 25n;
    const spenderId = await createAccount(database.pool, { debitsMustNotExceedCredits: true });
    await fund(database.pool, spenderId, fundedAmount);
    const creditAccountIds = await Promise.all(
      Array.from({ length: callCount * transfersPerCall }, () => createAccount(database.pool)),
    );
    const batches = Array.from({ length: callCount }, (_, call) =>
      Array.from({ length: transfersPerCall }, (_, index) =>
        transferFactory({
          debitAccountId: spenderId,
          creditAccountId: creditAccountIds[call * transfersPerCall + index],
          amount: 1n,
        }),
      ),
    );

    const outcomes = await Promise.all(batches.map((batch) => settle(newStore().postBatch(batch, []))));

    expect(outcomes.filter((outcome) => 'error' in outcome)).toEqual([]);
    const results = outcomes.flatMap((outcome) => ('value' in outcome ? outcome.value.results : []));
    expect(countOf(results, 'posted')).toBe(25);
    expect(countOf(results, 'exceeds_credits')).toBe(callCount * transfersPerCall - 25);
    expect(await readAccount(spenderId)).toMatchObject({
      debitsPosted: fundedAmount,
      creditsPosted: fundedAmount,
    });
  });

  it('post opposing transfers A to B and B to A in parallel: all post and no attempt deadlocks', async () => {
    const callCount = 30;
    const transfersPerCall = 3;
    const accountA = await createAccount(database.pool, { debitsMustNotExceedCredits: true });
    const accountB = await createAccount(database.pool, { debitsMustNotExceedCredits: true });
    await fund(database.pool, accountA, 100n);
    await fund(database.pool, accountB, 100n);
    const batches = Array.from({ length: callCount }, (_, call) =>
      Array.from({ length: transfersPerCall }, () =>
        call % 2 === 0
          ? transferFactory({ debitAccountId: accountA, creditAccountId: accountB, amount: 1n })
          : transferFactory({ debitAccountId: accountB, creditAccountId: accountA, amount: 1n }),
      ),
    );
    const failedSqlStates: string[] = [];
    const pool = poolRecordingFailures(failedSqlStates);
    // This test is about lock order, so the retry bound is set out of its way: with 20 batches in
    // flight on one pair of rows, the default bound of 12 retries has been seen to need 11 of them.
    const store = new PostgresLedgerStore(pool, {
      retryPolicy: { retryCountMax: 100, backoffBaseMs: 1, backoffCapMs: 32 },
    });

    try {
      const outcomes = await Promise.all(batches.map((batch) => settle(store.postBatch(batch, []))));

      expect(outcomes.filter((outcome) => 'error' in outcome)).toEqual([]);
      const results = outcomes.flatMap((outcome) => ('value' in outcome ? outcome.value.results : []));
      expect(countOf(results, 'posted')).toBe(callCount * transfersPerCall);
      expect(failedSqlStates).not.toContain('40P01');
      const legsEachWay = BigInt((callCount / 2) * transfersPerCall);
      expect(await readAccount(accountA)).toMatchObject({
        debitsPosted: legsEachWay,
        creditsPosted: 100n + legsEachWay,
      });
      expect(await readAccount(accountB)).toMatchObject({
        debitsPosted: legsEachWay,
        creditsPosted: 100n + legsEachWay,
      });
    } finally {
      await pool.end();
    }
  });
});

describe('a whole batch delivered twice', () => {
  async function mixedBatch(): Promise<TransferCommand[]> {
    const spenderId = await createAccount(database.pool, { debitsMustNotExceedCredits: true });
    const otherId = await createAccount(database.pool);
    await fund(database.pool, spenderId, 30n);
    return [
      transferFactory({ debitAccountId: spenderId, creditAccountId: otherId, amount: 10n }),
      transferFactory({ debitAccountId: otherId, creditAccountId: spenderId, amount: 5n }),
      transferFactory({ debitAccountId: spenderId, creditAccountId: otherId, amount: 100n }),
      transferFactory({ debitAccountId: spenderId, creditAccountId: otherId, amount: 25n }),
      transferFactory({ debitAccountId: spenderId, creditAccountId: newAccountId() }),
    ];
  }
  const mixedResults = ['posted', 'posted', 'exceeds_credits', 'posted', 'credit_account_not_found'];

  async function batchOfMissingAccounts(): Promise<TransferCommand[]> {
    return Array.from({ length: 3 }, () => transferFactory());
  }
  const missingResults = Array(3).fill('debit_account_not_found');

  const batches: [string, () => Promise<TransferCommand[]>, TransferResult[]][] = [
    ['transfers between existing accounts', mixedBatch, mixedResults],
    [
      'transfers whose accounts do not exist, so there is no row lock to queue on',
      batchOfMissingAccounts,
      missingResults,
    ],
  ];

  it.each(batches)('sequentially (%s) posts nothing twice', async (_kind, makeBatch, firstResults) => {
    const batch = await makeBatch();
    expect(await post(batch)).toEqual(firstResults);
    const countsBefore = await countLedger();

    const results = await post(batch);

    expect(results).toEqual(Array(batch.length).fill('exists'));
    expect(await countLedger()).toEqual(countsBefore);
  });

  it.each(batches)('concurrently (%s) posts nothing twice', async (_kind, makeBatch, firstResults) => {
    // A few rounds, so that the two deliveries really overlap at least once.
    for (let round = 0; round < 5; round += 1) {
      const batch = await makeBatch();
      const countsBefore = await countLedger();

      const outcomes = await Promise.all([settle(post(batch)), settle(post(batch))]);

      expect(outcomes.filter((outcome) => 'error' in outcome)).toEqual([]);
      const resultLists = outcomes.map((outcome) => ('value' in outcome ? outcome.value : []));
      expect(resultLists).toContainEqual(firstResults);
      expect(resultLists).toContainEqual(Array(batch.length).fill('exists'));
      const recorded = firstResults.length;
      const posted = countOf(firstResults, 'posted');
      expect(await countLedger()).toEqual({
        transfers: countsBefore.transfers + recorded,
        entries: countsBefore.entries + 2 * posted,
        outbox: countsBefore.outbox + recorded,
      });
    }
  });
});

describe('serialization failures', () => {
  it('retries a batch that lost a serialization conflict, and it posts', async () => {
    const debitAccountId = await createAccount(database.pool);
    const creditAccountId = await createAccount(database.pool);
    const transfer = transferFactory({ debitAccountId, creditAccountId });
    const backoffsMs: number[] = [];
    const store = new PostgresLedgerStore(database.pool, {
      retryPolicy: { retryCountMax: 5, backoffBaseMs: 1, backoffCapMs: 5 },
      // The jitter is fixed, so the backoff is known: half the first retry's ceiling of 1 ms.
      random: () => 0.5,
      sleep: async (ms) => {
        backoffsMs.push(ms);
      },
    });
    const blocker = await lockAccountRow(debitAccountId);
    try {
      const posting = settle(store.postBatch([transfer], []));
      await waitForLockWaiter();

      await blocker.query('commit');
      const outcome = await posting;

      if ('error' in outcome) throw outcome.error;
      expect(outcome.value.results).toEqual(['posted']);
      // The first attempt waited behind the blocker and lost to its commit; the second posted.
      expect(outcome.value.attemptCount).toBe(2);
      expect(backoffsMs).toEqual([0.5]);
      expect(await readTransfer(transfer.id)).toEqual({ status: 'posted', reason: null });
    } finally {
      await blocker.end();
    }
  });

  it('fails with SerializationRetriesExhaustedError, a TransientError, past the retry bound and writes nothing', async () => {
    const debitAccountId = await createAccount(database.pool);
    const creditAccountId = await createAccount(database.pool);
    const transfer = transferFactory({ debitAccountId, creditAccountId });
    const store = newStore({ retryCountMax: 0, backoffBaseMs: 1, backoffCapMs: 1 });
    const countsBefore = await countLedger();
    const blocker = await lockAccountRow(debitAccountId);
    try {
      const posting = settle(store.postBatch([transfer], []));
      await waitForLockWaiter();

      await blocker.query('commit');
      const outcome = await posting;

      expect(outcome).toEqual({ error: expect.any(SerializationRetriesExhaustedError) });
      const error = 'error' in outcome ? outcome.error : undefined;
      expect(error).toBeInstanceOf(TransientError);
      expect(error).toMatchObject({ cause: { code: '40001' }, context: { attemptCount: 1 } });
      expect(await readTransfer(transfer.id)).toBeUndefined();
      expect(await countLedger()).toEqual(countsBefore);
    } finally {
      await blocker.end();
    }
  });
});

describe('the entries journal is append-only', () => {
  const statements: [string, string][] = [
    ['UPDATE', 'update ledger.entries set amount = amount + 1'],
    ['DELETE', 'delete from ledger.entries'],
    ['TRUNCATE', 'truncate ledger.entries'],
  ];

  async function postOneTransfer(): Promise<void> {
    const debitAccountId = await createAccount(database.pool);
    const creditAccountId = await createAccount(database.pool);
    expect(await post([transferFactory({ debitAccountId, creditAccountId })])).toEqual(['posted']);
  }

  it.each(statements)('refuses %s by the superuser (trigger)', async (operation, sql) => {
    await postOneTransfer();
    const countsBefore = await countLedger();

    const attempt = inRolledBackTransaction((client) => client.query(sql));

    await expect(attempt).rejects.toMatchObject({
      code: '42501',
      message: `ledger.entries is append-only: ${operation} is not allowed`,
    });
    expect(await countLedger()).toEqual(countsBefore);
  });

  it.each(statements)('refuses %s by ledgerx_app (grants)', async (_operation, sql) => {
    await postOneTransfer();

    const attempt = inRolledBackTransaction(async (client) => {
      await client.query('set local role ledgerx_app');
      return client.query(sql);
    });

    await expect(attempt).rejects.toMatchObject({
      code: '42501',
      message: 'permission denied for table entries',
    });
  });

  it('lets ledgerx_app post a batch with its grants alone', async () => {
    const debitAccountId = await createAccount(database.pool);
    const creditAccountId = await createAccount(database.pool);
    const transfer = transferFactory({ debitAccountId, creditAccountId, amount: 9n });
    const payload = JSON.stringify([
      {
        id: transfer.id,
        debit_account_id: debitAccountId,
        credit_account_id: creditAccountId,
        amount: '9',
        currency: 'USD',
        metadata: {},
        accepted_at: transfer.acceptedAt,
      },
    ]);
    const client = await database.pool.connect();
    let rows: unknown[];
    try {
      await client.query('begin isolation level serializable');
      await client.query('set local role ledgerx_app');
      rows = (
        await client.query('select transfer_id, result from ledger.post_transfers($1::jsonb)', [payload])
      ).rows;
      await client.query('commit');
    } catch (error) {
      await client.query('rollback');
      throw error;
    } finally {
      client.release();
    }

    expect(rows).toEqual([{ transfer_id: transfer.id, result: 'posted' }]);
    expect(await readAccount(creditAccountId)).toMatchObject({ creditsPosted: 9n });
  });
});

describe('the database defends itself', () => {
  const unbalanced: [string, [string, bigint][]][] = [
    ['a single debit leg', [['debit', 10n]]],
    [
      'legs of different amounts',
      [
        ['debit', 10n],
        ['credit', 9n],
      ],
    ],
  ];

  it.each(unbalanced)('refuses entries that do not sum to zero: %s', async (_case, legs) => {
    const debitAccountId = await createAccount(database.pool);
    const creditAccountId = await createAccount(database.pool);
    const transfer = transferFactory({ debitAccountId, creditAccountId, amount: 10n });

    const attempt = inRolledBackTransaction(async (client) => {
      await client.query(
        `insert into ledger.transfers (id, debit_account_id, credit_account_id, amount, currency, status, accepted_at)
         values ($1, $2, $3, 10, 'USD', 'posted', now())`,
        [transfer.id, debitAccountId, creditAccountId],
      );
      await client.query(
        `insert into ledger.entries
           (transfer_id, account_id, direction, amount, currency, debits_posted_after, credits_posted_after)
         select $1, case l.direction when 'debit' then $2::uuid else $3::uuid end, l.direction, l.amount, 'USD',
                case l.direction when 'debit' then l.amount else 0 end,
                case l.direction when 'credit' then l.amount else 0 end
           from unnest($4::text[], $5::bigint[]) as l(direction, amount)`,
        [
          transfer.id,
          debitAccountId,
          creditAccountId,
          legs.map(([direction]) => direction),
          legs.map(([, amount]) => amount.toString()),
        ],
      );
    });

    await expect(attempt).rejects.toMatchObject({
      code: '23514',
      message: expect.stringMatching(/do not sum to zero/),
    });
  });

  const overdrafts: [string, 'debitsMustNotExceedCredits' | 'creditsMustNotExceedDebits', string, string][] =
    [
      [
        'debits past credits',
        'debitsMustNotExceedCredits',
        'update ledger.accounts set debits_posted = credits_posted + 1 where id = $1',
        'accounts_debits_must_not_exceed_credits',
      ],
      [
        'credits past debits',
        'creditsMustNotExceedDebits',
        'update ledger.accounts set credits_posted = debits_posted + 1 where id = $1',
        'accounts_credits_must_not_exceed_debits',
      ],
    ];

  it.each(overdrafts)(
    'refuses a direct UPDATE that takes a flagged account %s',
    async (_case, flag, sql, constraint) => {
      const accountId = await createAccount(database.pool, { [flag]: true });

      const attempt = inRolledBackTransaction((client) => client.query(sql, [accountId]));

      await expect(attempt).rejects.toMatchObject({ code: '23514', constraint });
    },
  );
});

describe('the invariant check', () => {
  const plantings: [string, (client: pg.PoolClient) => Promise<string>][] = [
    [
      'account_totals_equal_entries',
      async (client) => {
        const accountId = newAccountId();
        await client.query(
          `insert into ledger.accounts (id, currency, debits_posted, credits_posted) values ($1, 'USD', 5, 7)`,
          [accountId],
        );
        return accountId;
      },
    ],
    [
      'transfer_has_its_entries',
      async (client) => {
        const transfer = transferFactory({
          debitAccountId: await createAccount(database.pool),
          creditAccountId: await createAccount(database.pool),
        });
        await client.query(
          `with t as (
             insert into ledger.transfers (id, debit_account_id, credit_account_id, amount, currency, status, accepted_at)
             values ($1, $2, $3, 100, 'USD', 'posted', now()) returning id
           )
           insert into ledger.outbox (event_type, transfer_id) select 'transfer.posted', id from t`,
          [transfer.id, transfer.debitAccountId, transfer.creditAccountId],
        );
        return transfer.id;
      },
    ],
    [
      'transfer_has_one_event',
      async (client) => {
        const transfer = transferFactory();
        await client.query(
          `insert into ledger.transfers (id, debit_account_id, credit_account_id, amount, currency, status, reason, accepted_at)
           values ($1, $2, $3, 100, 'USD', 'rejected', 'debit_account_not_found', now())`,
          [transfer.id, transfer.debitAccountId, transfer.creditAccountId],
        );
        return transfer.id;
      },
    ],
    [
      'flagged_account_within_limit',
      async (client) => {
        const accountId = await createAccount(database.pool, { debitsMustNotExceedCredits: true });
        // DDL is transactional: the constraint is back when the transaction rolls back.
        await client.query(
          'alter table ledger.accounts drop constraint accounts_debits_must_not_exceed_credits',
        );
        await client.query('update ledger.accounts set debits_posted = 1 where id = $1', [accountId]);
        return accountId;
      },
    ],
    [
      'entries_sum_to_zero',
      async (client) => {
        const transfer = transferFactory({
          debitAccountId: await createAccount(database.pool),
          creditAccountId: await createAccount(database.pool),
        });
        await client.query('alter table ledger.entries disable trigger entries_balance');
        await client.query(
          `insert into ledger.transfers (id, debit_account_id, credit_account_id, amount, currency, status, accepted_at)
           values ($1, $2, $3, 100, 'USD', 'posted', now())`,
          [transfer.id, transfer.debitAccountId, transfer.creditAccountId],
        );
        await client.query(
          `insert into ledger.entries
             (transfer_id, account_id, direction, amount, currency, debits_posted_after, credits_posted_after)
           values ($1, $2, 'debit', 100, 'USD', 100, 0)`,
          [transfer.id, transfer.debitAccountId],
        );
        return transfer.id;
      },
    ],
    [
      'running_totals_consistent',
      async (client) => {
        const transfer = transferFactory({
          debitAccountId: await createAccount(database.pool),
          creditAccountId: await createAccount(database.pool),
        });
        await client.query(
          `insert into ledger.transfers (id, debit_account_id, credit_account_id, amount, currency, status, accepted_at)
           values ($1, $2, $3, 100, 'USD', 'posted', now())`,
          [transfer.id, transfer.debitAccountId, transfer.creditAccountId],
        );
        const { rows } = await client.query<{ id: string }>(
          `insert into ledger.entries
             (transfer_id, account_id, direction, amount, currency, debits_posted_after, credits_posted_after)
           values ($1, $2, 'debit', 100, 'USD', 999, 0), ($1, $3, 'credit', 100, 'USD', 0, 100)
           returning id`,
          [transfer.id, transfer.debitAccountId, transfer.creditAccountId],
        );
        return rows[0]?.id ?? '';
      },
    ],
  ];

  it.each(plantings)('finds a planted violation of %s', async (invariant, plant) => {
    const violations = await inRolledBackTransaction(async (client) => {
      const subject = await plant(client);
      const { rows } = await client.query('select * from ledger.check_invariants()');
      return { subject, rows };
    });

    expect(violations.rows).toContainEqual(
      expect.objectContaining({ invariant, subject: violations.subject }),
    );
    expect(await checkInvariants(database.pool)).toEqual([]);
  });
});
