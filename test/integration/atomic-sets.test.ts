import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PostgresLedgerStore } from '../../shared/adapters/postgres/ledger-store';
import { toAtomicSetMessage } from '../../shared/domain/atomic-set';
import { type AccountId, newTransferId } from '../../shared/domain/ids';
import type { CurrencyCode } from '../../shared/domain/money';
import { rejectionReasons, type TransferResult } from '../../shared/domain/results';
import { type TransferCommand, toTransferMessage } from '../../shared/domain/transfer';
import { PostingService, type QueuedRecord } from '../../shared/services/posting-service';
import { silentLogger } from '../support/api';
import { checkInvariants, useTestDatabase } from '../support/database';
import { createAccount, currency, fund, transferFactory, usd } from '../support/factories';

const database = useTestDatabase({ connectionCountMax: 12 });

/** Fixed, so a failure reproduces; change it only to explore, and keep the failing one if found. */
const propertySeed = 20_261_130;

const eur = currency('EUR');

/** A leg from one account to another, in USD unless the test says otherwise. */
function leg(
  debitAccountId: AccountId,
  creditAccountId: AccountId,
  amount: bigint,
  code = usd,
): TransferCommand {
  return transferFactory({ debitAccountId, creditAccountId, amount, currency: code });
}

async function totals(accountId: AccountId): Promise<{ debits: bigint; credits: bigint }> {
  const { rows } = await database.pool.query<{ debits_posted: string; credits_posted: string }>(
    'select debits_posted::text, credits_posted::text from ledger.accounts where id = $1',
    [accountId],
  );
  const row = rows[0];
  if (row === undefined) throw new Error(`test: no account ${accountId}`);
  return { debits: BigInt(row.debits_posted), credits: BigInt(row.credits_posted) };
}

async function recorded(
  ids: readonly string[],
): Promise<{ id: string; status: string; reason: string | null }[]> {
  const { rows } = await database.pool.query<{ id: string; status: string; reason: string | null }>(
    'select id::text, status, reason from ledger.transfers where id = any($1::uuid[])',
    [ids],
  );
  return ids.map((id) => rows.find((row) => row.id === id) ?? { id, status: 'missing', reason: null });
}

/** A flagged account (it may not spend more than it holds) funded with `balance`. */
async function flaggedAccount(balance: bigint, code: CurrencyCode = usd): Promise<AccountId> {
  const id = await createAccount(database.pool, { currency: code, debitsMustNotExceedCredits: true });
  if (balance > 0n) await fund(database.pool, id, balance, code);
  return id;
}

describe('an atomic set through the posting engine', () => {
  it('posts every leg in one transaction, across accounts and currencies, and records the set', async () => {
    const buyer = await flaggedAccount(1_000n);
    const [seller, platform, tax] = await Promise.all([1, 2, 3].map(() => createAccount(database.pool)));
    const euroPayer = await flaggedAccount(50n, eur);
    const euroPayee = await createAccount(database.pool, { currency: eur });
    if (seller === undefined || platform === undefined || tax === undefined)
      throw new Error('test: accounts');
    const legs = [
      leg(buyer, seller, 900n),
      leg(buyer, platform, 70n),
      leg(buyer, tax, 30n),
      leg(euroPayer, euroPayee, 50n, eur),
    ];

    const { results } = await new PostgresLedgerStore(database.pool).postSet(legs);

    expect(results).toEqual(['posted', 'posted', 'posted', 'posted']);
    expect(await totals(buyer)).toEqual({ debits: 1_000n, credits: 1_000n });
    expect(await totals(euroPayee)).toEqual({ debits: 0n, credits: 50n });
    const { rows } = await database.pool.query<{ transfer_id: string; set_id: string; position: number }>(
      'select transfer_id::text, set_id::text, position from ledger.atomic_set_legs order by position',
    );
    expect(rows).toEqual(
      legs.map((item, position) => ({ transfer_id: item.id, set_id: legs[0]?.id, position })),
    );
  });

  it('rejects every leg when one is rejected: that one with its reason, the others linked_transfer_failed, nothing moved', async () => {
    const buyer = await flaggedAccount(100n);
    const [seller, platform] = await Promise.all([1, 2].map(() => createAccount(database.pool)));
    if (seller === undefined || platform === undefined) throw new Error('test: accounts');
    const before = await totals(buyer);
    // The second leg alone fits; after the first it overdraws the buyer.
    const legs = [leg(buyer, seller, 60n), leg(buyer, platform, 50n), leg(seller, platform, 1n)];

    const { results } = await new PostgresLedgerStore(database.pool).postSet(legs);

    expect(results).toEqual(['linked_transfer_failed', 'exceeds_credits', 'linked_transfer_failed']);
    expect(await recorded(legs.map((item) => item.id))).toEqual([
      { id: legs[0]?.id, status: 'rejected', reason: 'linked_transfer_failed' },
      { id: legs[1]?.id, status: 'rejected', reason: 'exceeds_credits' },
      { id: legs[2]?.id, status: 'rejected', reason: 'linked_transfer_failed' },
    ]);
    expect(await totals(buyer)).toEqual(before);
    expect(await totals(seller)).toEqual({ debits: 0n, credits: 0n });
    const events = await database.pool.query<{ event_type: string }>(
      'select event_type from ledger.outbox where transfer_id = any($1::uuid[])',
      [legs.map((item) => item.id)],
    );
    expect(events.rows.map((row) => row.event_type)).toEqual([
      'transfer.rejected',
      'transfer.rejected',
      'transfer.rejected',
    ]);
  });

  it('gives the first failing leg in set order its reason when several legs fail', async () => {
    const payer = await flaggedAccount(10n);
    const payee = await createAccount(database.pool);
    const euroAccount = await createAccount(database.pool, { currency: eur });
    const legs = [leg(payer, payee, 5n), leg(payer, euroAccount, 1n), leg(payer, payee, 500n)];

    const { results } = await new PostgresLedgerStore(database.pool).postSet(legs);

    expect(results).toEqual(['linked_transfer_failed', 'currency_mismatch', 'linked_transfer_failed']);
  });

  it('answers exists for every leg when a set is delivered again, and writes nothing', async () => {
    const payer = await flaggedAccount(10n);
    const payee = await createAccount(database.pool);
    const posted = [leg(payer, payee, 4n), leg(payer, payee, 6n)];
    const rejected = [leg(payer, payee, 4n), leg(payer, payee, 60n)];
    const store = new PostgresLedgerStore(database.pool);
    await store.postSet(posted);
    await store.postSet(rejected);
    const before = await totals(payer);

    const again = [await store.postSet(posted), await store.postSet(rejected)];

    expect(again.map((outcome) => outcome.results)).toEqual([
      ['exists', 'exists'],
      ['exists', 'exists'],
    ]);
    expect(await totals(payer)).toEqual(before);
  });

  it('posts a consumer batch of single transfers and sets in message order', async () => {
    const payer = await flaggedAccount(100n);
    const payee = await createAccount(database.pool);
    const first = leg(payer, payee, 30n);
    const set = [leg(payer, payee, 50n), leg(payer, payee, 20n)];
    // Fits only if the set has not posted before it.
    const last = leg(payer, payee, 1n);
    const record = (body: string, index: number): QueuedRecord => ({
      messageId: `message-${index}`,
      messageGroupId: payer,
      body,
    });
    const records = [
      record(JSON.stringify(toTransferMessage(first)), 0),
      record(toAtomicSetMessage(set), 1),
      record(JSON.stringify(toTransferMessage(last)), 2),
    ];

    const outcomes = await new PostingService(
      new PostgresLedgerStore(database.pool),
      silentLogger,
    ).postRecords(records);

    expect(outcomes).toEqual([
      { kind: 'decided', result: 'posted' },
      { kind: 'decided_set', results: ['posted', 'posted'] },
      { kind: 'decided', result: 'exceeds_credits' },
    ]);
    expect(await totals(payer)).toEqual({ debits: 100n, credits: 100n });
  });
});

/** A leg as generated: accounts by index into the run's accounts, an amount, and a currency slip. */
interface LegSpec {
  readonly debit: number;
  readonly credit: number;
  readonly amount: bigint;
  /** The credit account is the run's euro account instead: the leg is a currency mismatch. */
  readonly euro: boolean;
}

const accountCount = 4;

const legSpec = fc.record({
  debit: fc.integer({ min: 0, max: accountCount - 1 }),
  credit: fc.integer({ min: 0, max: accountCount - 1 }),
  amount: fc.bigInt({ min: 1n, max: 60n }),
  // One leg in twelve slips into the euro account.
  euro: fc.integer({ min: 0, max: 11 }).map((draw) => draw === 0),
});

const setSpecs = fc.array(fc.array(legSpec, { minLength: 1, maxLength: 5 }), { minLength: 2, maxLength: 10 });

interface Run {
  readonly accounts: AccountId[];
  readonly euroAccount: AccountId;
  readonly funding: bigint[];
}

/** Opens the run's flagged USD accounts, each funded, and one euro account. */
async function openRun(funding: readonly bigint[]): Promise<Run> {
  const accounts = await Promise.all(funding.map((amount) => flaggedAccount(amount)));
  const euroAccount = await createAccount(database.pool, { currency: eur });
  return { accounts, euroAccount, funding: [...funding] };
}

function toLegs(run: Run, specs: readonly LegSpec[]): TransferCommand[] {
  return specs.map((spec) => ({
    ...transferFactory({
      debitAccountId: run.accounts[spec.debit] as AccountId,
      creditAccountId: spec.euro ? run.euroAccount : (run.accounts[spec.credit] as AccountId),
      amount: spec.amount,
    }),
    id: newTransferId(),
  }));
}

/**
 * The reference model of a set over the run's accounts (all flagged, all found): each leg checked
 * in order against the balances the legs before it left, the first failure named and every other
 * leg linked. Applies the set to `balances` when it posts.
 */
function referenceSet(balances: bigint[], specs: readonly LegSpec[]): TransferResult[] {
  const after = [...balances];
  let failure: { index: number; reason: TransferResult } | undefined;
  for (const [index, spec] of specs.entries()) {
    const reason: TransferResult | undefined =
      !spec.euro && spec.debit === spec.credit
        ? 'accounts_must_be_different'
        : spec.euro
          ? 'currency_mismatch'
          : spec.amount > (after[spec.debit] ?? 0n)
            ? 'exceeds_credits'
            : undefined;
    if (reason !== undefined) {
      failure = { index, reason };
      break;
    }
    after[spec.debit] = (after[spec.debit] ?? 0n) - spec.amount;
    after[spec.credit] = (after[spec.credit] ?? 0n) + spec.amount;
  }
  if (failure === undefined) {
    balances.splice(0, balances.length, ...after);
    return specs.map(() => 'posted');
  }
  const { index: failedIndex, reason } = failure;
  return specs.map((_spec, index) => (index === failedIndex ? reason : 'linked_transfer_failed'));
}

async function balancesOf(run: Run): Promise<bigint[]> {
  return Promise.all(
    run.accounts.map(async (id) => {
      const { debits, credits } = await totals(id);
      return credits - debits;
    }),
  );
}

describe('atomic sets, property-tested through the real engine (fixed seed)', () => {
  it('agree with the reference model when posted one after another', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.bigInt({ min: 0n, max: 120n }), { minLength: accountCount, maxLength: accountCount }),
        setSpecs,
        async (funding, sets) => {
          const run = await openRun(funding);
          const balances = [...funding];
          const store = new PostgresLedgerStore(database.pool);
          for (const specs of sets) {
            const expected = referenceSet(balances, specs);
            const { results } = await store.postSet(toLegs(run, specs));
            expect(results).toEqual(expected);
          }
          expect(await balancesOf(run)).toEqual(balances);
        },
      ),
      { seed: propertySeed, numRuns: 15, endOnFailure: true },
    );
    expect(await checkInvariants(database.pool)).toEqual([]);
  });

  it('stay all or nothing, never overdraw, and conserve money when conflicting sets race', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.bigInt({ min: 0n, max: 120n }), { minLength: accountCount, maxLength: accountCount }),
        setSpecs,
        async (funding, sets) => {
          const run = await openRun(funding);
          const legSets = sets.map((specs) => toLegs(run, specs));

          // Each set on its own store instance, all at once: they conflict on the same accounts.
          const outcomes = await Promise.all(
            legSets.map((legs) => new PostgresLedgerStore(database.pool).postSet(legs)),
          );

          const balances = await balancesOf(run);
          let moved = 0n;
          for (const [index, { results }] of outcomes.entries()) {
            const posted = results.every((result) => result === 'posted');
            if (!posted) {
              // Exactly one leg carries a rule's reason; every other leg is linked.
              const own = results.filter((result) => result !== 'linked_transfer_failed');
              expect(own).toHaveLength(1);
              expect(rejectionReasons).toContain(own[0]);
            }
            const statuses = new Set(
              (await recorded(legSets[index]?.map((item) => item.id) ?? [])).map((row) => row.status),
            );
            expect([...statuses]).toEqual([posted ? 'posted' : 'rejected']);
            if (posted) {
              for (const item of legSets[index] ?? [])
                if (item.creditAccountId === run.euroAccount) moved += 1n;
            }
          }
          // A posted set never holds a currency mismatch, and no flagged account is overdrawn.
          expect(moved).toBe(0n);
          for (const balance of balances) expect(balance).toBeGreaterThanOrEqual(0n);
          // Money only moves between the run's accounts: their sum is their funding's.
          expect(balances.reduce((sum, balance) => sum + balance, 0n)).toBe(
            funding.reduce((sum, amount) => sum + amount, 0n),
          );
          expect(await checkInvariants(database.pool)).toEqual([]);
        },
      ),
      { seed: propertySeed, numRuns: 10, endOnFailure: true },
    );
  });
});
