import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PostgresLedgerStore } from '../../shared/adapters/postgres/ledger-store';
import { type AccountId, newAccountId, newTransferId, type TransferId } from '../../shared/domain/ids';
import {
  type JsonValue,
  jsonbTextBytes,
  type Metadata,
  metadataBytesMax,
  metadataDepthMax,
  parseMetadata,
} from '../../shared/domain/metadata';
import { amountMax, type CurrencyCode, parseCurrency } from '../../shared/domain/money';
import {
  existsResults,
  isRecorded,
  rejectionReasons,
  type TransferResult,
} from '../../shared/domain/results';
import { parseTransferMessage, type TransferCommand } from '../../shared/domain/transfer';
import { checkInvariants, useTestDatabase } from '../support/database';
import { type ReferenceBalance, ReferenceLedger, type ReferenceTransfer } from '../support/reference-ledger';

const database = useTestDatabase();

/** Fixed, so a failure reproduces; change it only to explore, and keep the failing one if found. */
const propertySeed = 20_250_611;
const propertyRunCount = 40;

function currency(code: string): CurrencyCode {
  const parsed = parseCurrency(code);
  if (parsed === undefined) throw new Error(`test fixture: unknown currency ${code}`);
  return parsed;
}

const currencies = [currency('USD'), currency('EUR')] as const;

type Flag = 'none' | 'debits_must_not_exceed_credits' | 'credits_must_not_exceed_debits';

/** An account to open: pending totals are set at opening when unflagged, after funding when flagged. */
interface AccountSpec {
  readonly currency: CurrencyCode;
  readonly flag: Flag;
  readonly debitsPending: bigint;
  readonly creditsPending: bigint;
}

/** Which account a debit leg names: one of the run's accounts (by index, modulo), or an unknown id. */
type AccountPick = { readonly index: number } | 'unknown';

/**
 * Which account a credit leg names: the debit account itself, an unknown id, or another of the
 * run's accounts (by index, modulo), mostly one in the debit account's currency, so that most
 * transfers get past the account checks to the limits.
 */
type CreditPick = { readonly other: number; readonly preferSameCurrency: boolean } | 'unknown' | 'same';

type Change = 'none' | 'debit' | 'credit' | 'amount' | 'currency' | 'metadata';

/**
 * A transfer to send. With `reuse`, and some transfer sent before it in the run, it is that earlier
 * transfer again under the same id, identical (key order and accepted_at aside) or with one field
 * changed; otherwise it is a new transfer built from the other fields.
 */
interface TransferSpec {
  readonly debit: AccountPick;
  readonly credit: CreditPick;
  readonly amount: bigint;
  readonly currency: 'debit' | CurrencyCode;
  readonly metadata: Metadata;
  readonly reuse: { readonly earlier: number; readonly change: Change } | null;
}

interface Scenario {
  readonly accounts: readonly AccountSpec[];
  /** Whether a first batch funds every flagged account from a partner of its currency. */
  readonly fund: boolean;
  readonly batches: readonly (readonly TransferSpec[])[];
}

const pendingArbitrary = fc.oneof(
  { arbitrary: fc.constant(0n), weight: 6 },
  { arbitrary: fc.bigInt(1n, 30n), weight: 2 },
  { arbitrary: fc.bigInt(amountMax - 30n, amountMax), weight: 1 },
);

const accountArbitrary: fc.Arbitrary<AccountSpec> = fc.record({
  currency: fc.constantFrom(...currencies),
  flag: fc.constantFrom<Flag>('none', 'debits_must_not_exceed_credits', 'credits_must_not_exceed_debits'),
  debitsPending: pendingArbitrary,
  creditsPending: pendingArbitrary,
});

const accountPickArbitrary: fc.Arbitrary<AccountPick> = fc.oneof(
  { arbitrary: fc.nat({ max: 5 }).map((index) => ({ index })), weight: 20 },
  { arbitrary: fc.constant('unknown' as const), weight: 1 },
);

/** Mostly small amounts, so balances move and limits bite; sometimes amounts that overflow. */
const amountArbitrary = fc.oneof(
  { arbitrary: fc.bigInt(1n, 50n), weight: 20 },
  { arbitrary: fc.bigInt(amountMax / 2n - 25n, amountMax / 2n + 25n), weight: 1 },
  { arbitrary: fc.bigInt(amountMax - 50n, amountMax), weight: 1 },
);

const jsonLeafArbitrary: fc.Arbitrary<JsonValue> = fc.oneof(
  fc.integer({ min: -1_000, max: 1_000 }),
  fc.boolean(),
  fc.constant(null),
  fc.string({ maxLength: 8 }),
);

function objectArbitrary(
  keys: readonly string[],
  value: fc.Arbitrary<JsonValue>,
): fc.Arbitrary<{ [key: string]: JsonValue }> {
  return fc
    .uniqueArray(fc.tuple(fc.constantFrom(...keys), value), {
      selector: ([key]) => key,
      minLength: 1,
      maxLength: keys.length,
    })
    .map((entries) => Object.fromEntries(entries));
}

/** Metadata is mostly empty; when set, its keys come in generated order, so key order varies. */
const metadataArbitrary: fc.Arbitrary<Metadata> = fc.oneof(
  { arbitrary: fc.constant({}), weight: 3 },
  {
    arbitrary: objectArbitrary(
      ['note', 'ref', 'a', 'b'],
      fc.oneof(
        jsonLeafArbitrary,
        objectArbitrary(['x', 'y'], jsonLeafArbitrary),
        fc.array(jsonLeafArbitrary, { maxLength: 3 }),
      ),
    ),
    weight: 1,
  },
);

const transferArbitrary: fc.Arbitrary<TransferSpec> = fc.record({
  debit: accountPickArbitrary,
  credit: fc.oneof(
    {
      arbitrary: fc.record({
        other: fc.nat({ max: 5 }),
        preferSameCurrency: fc.oneof({ arbitrary: fc.constant(true), weight: 4 }, fc.constant(false)),
      }),
      weight: 20,
    },
    { arbitrary: fc.constant('unknown' as const), weight: 1 },
    { arbitrary: fc.constant('same' as const), weight: 1 },
  ),
  amount: amountArbitrary,
  currency: fc.oneof(
    { arbitrary: fc.constant('debit' as const), weight: 8 },
    { arbitrary: fc.constantFrom(...currencies), weight: 1 },
  ),
  metadata: metadataArbitrary,
  reuse: fc.oneof(
    { arbitrary: fc.constant(null), weight: 8 },
    {
      arbitrary: fc.record({
        earlier: fc.nat(),
        change: fc.constantFrom<Change>('none', 'debit', 'credit', 'amount', 'currency', 'metadata'),
      }),
      weight: 1,
    },
  ),
});

const scenarioArbitrary: fc.Arbitrary<Scenario> = fc.record({
  accounts: fc.array(accountArbitrary, { minLength: 3, maxLength: 6 }),
  fund: fc.boolean(),
  batches: fc.array(fc.array(transferArbitrary, { minLength: 1, maxLength: 10 }), {
    minLength: 1,
    maxLength: 6,
  }),
});

/** One run's accounts: fresh ids, so runs (and fast-check's shrinking reruns) never share rows. */
interface Run {
  readonly accountIds: readonly AccountId[];
  readonly specs: readonly AccountSpec[];
  readonly unknownAccountId: AccountId;
  readonly model: ReferenceLedger;
}

function at<T>(items: readonly T[], index: number): T {
  const item = items[index % items.length];
  if (item === undefined) throw new Error(`test bug: no item at ${index} of ${items.length}`);
  return item;
}

async function openAccounts(specs: readonly AccountSpec[]): Promise<Run> {
  const accountIds = specs.map(() => newAccountId());
  const model = new ReferenceLedger();
  // Pending totals must fit a flagged account's limit, so flagged accounts open with none.
  const pendingOf = (spec: AccountSpec): { debitsPending: bigint; creditsPending: bigint } =>
    spec.flag === 'none'
      ? { debitsPending: spec.debitsPending, creditsPending: spec.creditsPending }
      : { debitsPending: 0n, creditsPending: 0n };
  specs.forEach((spec, index) => {
    model.openAccount({
      id: at(accountIds, index),
      currency: spec.currency,
      debitsMustNotExceedCredits: spec.flag === 'debits_must_not_exceed_credits',
      creditsMustNotExceedDebits: spec.flag === 'credits_must_not_exceed_debits',
      ...pendingOf(spec),
    });
  });
  // Pending totals are arranged by the owner: nothing in the product holds them yet, and the
  // functions' login may open an account only without totals.
  await database.ownerPool.query(
    `insert into ledger.accounts
       (id, currency, debits_must_not_exceed_credits, credits_must_not_exceed_debits,
        debits_pending, credits_pending)
     select * from unnest($1::uuid[], $2::text[], $3::boolean[], $4::boolean[], $5::bigint[], $6::bigint[])`,
    [
      accountIds,
      specs.map((spec) => spec.currency),
      specs.map((spec) => spec.flag === 'debits_must_not_exceed_credits'),
      specs.map((spec) => spec.flag === 'credits_must_not_exceed_debits'),
      specs.map((spec) => pendingOf(spec).debitsPending.toString()),
      specs.map((spec) => pendingOf(spec).creditsPending.toString()),
    ],
  );
  return { accountIds, specs, unknownAccountId: newAccountId(), model };
}

/**
 * A batch that gives every flagged account 100 units to spend: a debits-limited account is
 * credited by an account that may be debited freely, a credits-limited account is debited towards
 * one that may be credited freely. Accounts without such a partner in their currency are skipped.
 */
function fundingBatch(run: Run): TransferCommand[] {
  const partner = (index: number, allowed: Flag): AccountId | undefined => {
    const spec = at(run.specs, index);
    const found = run.specs.findIndex(
      (other, otherIndex) =>
        otherIndex !== index &&
        other.currency === spec.currency &&
        (other.flag === 'none' || other.flag === allowed),
    );
    return found < 0 ? undefined : at(run.accountIds, found);
  };
  return run.specs.flatMap((spec, index) => {
    const id = at(run.accountIds, index);
    if (spec.flag === 'debits_must_not_exceed_credits') {
      const source = partner(index, 'credits_must_not_exceed_debits');
      return source === undefined ? [] : [newTransfer(source, id, 100n, spec.currency, {})];
    }
    if (spec.flag === 'credits_must_not_exceed_debits') {
      const target = partner(index, 'debits_must_not_exceed_credits');
      return target === undefined ? [] : [newTransfer(id, target, 100n, spec.currency, {})];
    }
    return [];
  });
}

/** Holds pending totals on flagged accounts, as far as their funding allows, in Postgres and the model. */
async function holdPendingOnFlaggedAccounts(run: Run): Promise<void> {
  for (const [index, spec] of run.specs.entries()) {
    if (spec.flag === 'none') continue;
    const id = at(run.accountIds, index);
    const account = run.model.account(id);
    if (account === undefined) throw new Error(`test bug: account ${id} is not in the model`);
    const headroom =
      spec.flag === 'debits_must_not_exceed_credits'
        ? account.creditsPosted - account.debitsPosted
        : account.debitsPosted - account.creditsPosted;
    const wanted = spec.flag === 'debits_must_not_exceed_credits' ? spec.debitsPending : spec.creditsPending;
    const held = smaller(wanted, headroom);
    if (held <= 0n) continue;
    const pending =
      spec.flag === 'debits_must_not_exceed_credits'
        ? { debitsPending: held, creditsPending: 0n }
        : { debitsPending: 0n, creditsPending: held };
    run.model.setPending(id, pending);
    await database.ownerPool.query(
      'update ledger.accounts set debits_pending = $2::bigint, credits_pending = $3::bigint where id = $1',
      [id, pending.debitsPending.toString(), pending.creditsPending.toString()],
    );
  }
}

function smaller(left: bigint, right: bigint): bigint {
  if (left < right) return left;
  return right;
}

let acceptedAtSequence = 0;

function newTransfer(
  debitAccountId: AccountId,
  creditAccountId: AccountId,
  amount: bigint,
  transferCurrency: CurrencyCode,
  metadata: Metadata,
  id: TransferId = newTransferId(),
): TransferCommand {
  // Every delivery gets its own accepted_at, which an `exists` comparison must not look at.
  acceptedAtSequence += 1;
  const acceptedAt = new Date(Date.UTC(2025, 0, 1) + acceptedAtSequence * 1_000).toISOString();
  return { id, debitAccountId, creditAccountId, amount, currency: transferCurrency, metadata, acceptedAt };
}

function reversedKeys(metadata: Metadata): Metadata {
  return Object.fromEntries(Object.entries(metadata).reverse());
}

/** Turns a spec into a command; `sent` is every transfer sent earlier in the run, in order. */
function materialize(spec: TransferSpec, run: Run, sent: readonly TransferCommand[]): TransferCommand {
  const otherAccount = (id: AccountId): AccountId => run.accountIds.find((other) => other !== id) ?? id;
  if (spec.reuse !== null && sent.length > 0) {
    const earlier = at(sent, spec.reuse.earlier);
    const { id, debitAccountId, creditAccountId, amount, currency: earlierCurrency, metadata } = earlier;
    switch (spec.reuse.change) {
      case 'none':
        return newTransfer(
          debitAccountId,
          creditAccountId,
          amount,
          earlierCurrency,
          reversedKeys(metadata),
          id,
        );
      case 'debit':
        return newTransfer(
          otherAccount(debitAccountId),
          creditAccountId,
          amount,
          earlierCurrency,
          metadata,
          id,
        );
      case 'credit':
        return newTransfer(
          debitAccountId,
          otherAccount(creditAccountId),
          amount,
          earlierCurrency,
          metadata,
          id,
        );
      case 'amount':
        return newTransfer(
          debitAccountId,
          creditAccountId,
          amount === amountMax ? amount - 1n : amount + 1n,
          earlierCurrency,
          metadata,
          id,
        );
      case 'currency':
        return newTransfer(
          debitAccountId,
          creditAccountId,
          amount,
          at(currencies, currencies.indexOf(earlierCurrency as (typeof currencies)[number]) + 1),
          metadata,
          id,
        );
      case 'metadata':
        return newTransfer(
          debitAccountId,
          creditAccountId,
          amount,
          earlierCurrency,
          { ...metadata, revision: sent.length },
          id,
        );
    }
  }
  const debitAccountId =
    spec.debit === 'unknown' ? run.unknownAccountId : at(run.accountIds, spec.debit.index);
  const debitCurrency =
    spec.debit === 'unknown' ? at(currencies, 0) : at(run.specs, spec.debit.index).currency;
  const pickCredit = (choice: CreditPick): AccountId => {
    if (choice === 'unknown') return run.unknownAccountId;
    if (choice === 'same') return debitAccountId;
    const others = run.accountIds.filter((id) => id !== debitAccountId);
    const sameCurrency = others.filter((id) => run.model.account(id)?.currency === debitCurrency);
    return at(choice.preferSameCurrency && sameCurrency.length > 0 ? sameCurrency : others, choice.other);
  };
  const creditAccountId = pickCredit(spec.credit);
  const transferCurrency = spec.currency === 'debit' ? debitCurrency : spec.currency;
  return newTransfer(debitAccountId, creditAccountId, spec.amount, transferCurrency, spec.metadata);
}

async function storedBalances(run: Run): Promise<Map<AccountId, ReferenceBalance>> {
  const { rows } = await database.pool.query<{
    id: AccountId;
    debits_posted: string;
    credits_posted: string;
  }>('select id, debits_posted::text, credits_posted::text from ledger.accounts where id = any($1::uuid[])', [
    run.accountIds,
  ]);
  return new Map(
    rows.map((row) => [
      row.id,
      { debitsPosted: BigInt(row.debits_posted), creditsPosted: BigInt(row.credits_posted) },
    ]),
  );
}

/** A recorded transfer as the comparison sees it, whether read from Postgres or from the model. */
interface RecordedView {
  readonly status: string;
  readonly reason: string | null;
  readonly debitAccountId: string;
  readonly creditAccountId: string;
  readonly amount: bigint;
  readonly currency: string;
  readonly metadata: Metadata;
}

async function storedTransfers(ids: readonly TransferId[]): Promise<Map<string, RecordedView>> {
  const { rows } = await database.pool.query<{
    id: string;
    status: string;
    reason: string | null;
    debit_account_id: string;
    credit_account_id: string;
    amount: string;
    currency: string;
    metadata: Metadata;
  }>(
    `select id, status, reason, debit_account_id, credit_account_id, amount::text, currency::text, metadata
       from ledger.transfers where id = any($1::uuid[])`,
    [ids],
  );
  return new Map(
    rows.map((row) => [
      row.id,
      {
        status: row.status,
        reason: row.reason,
        debitAccountId: row.debit_account_id,
        creditAccountId: row.credit_account_id,
        amount: BigInt(row.amount),
        currency: row.currency,
        metadata: row.metadata,
      },
    ]),
  );
}

function modelTransfers(model: ReferenceLedger): Map<string, RecordedView> {
  return new Map(
    [...model.recordedTransfers()].map(([id, recorded]: [TransferId, ReferenceTransfer]) => [
      id,
      {
        status: recorded.status,
        reason: recorded.reason,
        debitAccountId: recorded.transfer.debitAccountId,
        creditAccountId: recorded.transfer.creditAccountId,
        amount: recorded.transfer.amount,
        currency: recorded.transfer.currency,
        metadata: recorded.transfer.metadata,
      },
    ]),
  );
}

/** Postgres holds what the model holds: the run's account totals and its recorded transfers. */
async function expectStoreMatchesModel(run: Run, sent: readonly TransferCommand[]): Promise<void> {
  expect(await storedBalances(run)).toEqual(run.model.balances());
  // toEqual ignores key order, so metadata compares the way jsonb does.
  expect(await storedTransfers([...new Set(sent.map((transfer) => transfer.id))])).toEqual(
    modelTransfers(run.model),
  );
}

describe('posting: the SQL engine against the reference model', () => {
  it('agrees with decideTransfer on every batch, stores what the model holds, and replays as exists', async () => {
    const store = new PostgresLedgerStore(database.pool);
    const seen = new Set<TransferResult>();

    await fc.assert(
      fc.asyncProperty(scenarioArbitrary, async (scenario) => {
        const run = await openAccounts(scenario.accounts);
        const sent: TransferCommand[] = [];
        const batches: TransferCommand[][] = [];
        const firstResults: TransferResult[][] = [];
        const post = async (batch: TransferCommand[]): Promise<void> => {
          const expected = run.model.postBatch(batch);
          const { results } = await store.postBatch(batch, []);
          expect(results, `results of batch ${batches.length}`).toEqual(expected);
          for (const result of results) seen.add(result);
          batches.push(batch);
          firstResults.push(expected);
        };

        if (scenario.fund) {
          const funding = fundingBatch(run);
          if (funding.length > 0) {
            sent.push(...funding);
            await post(funding);
          }
          await holdPendingOnFlaggedAccounts(run);
        }
        for (const specs of scenario.batches) {
          const batch: TransferCommand[] = [];
          for (const spec of specs) {
            const transfer = materialize(spec, run, sent);
            sent.push(transfer);
            batch.push(transfer);
          }
          await post(batch);
        }
        await expectStoreMatchesModel(run, sent);

        const balancesBefore = run.model.balances();
        for (const [index, batch] of batches.entries()) {
          const expected = run.model.postBatch(batch);
          const { results } = await store.postBatch(batch, []);
          expect(results, `replayed results of batch ${index}`).toEqual(expected);
          // A transfer that was recorded now finds itself; one that found another still does.
          expect(results, `replayed results of batch ${index}`).toEqual(
            (firstResults[index] ?? []).map((result) => (isRecorded(result) ? 'exists' : result)),
          );
        }
        expect(run.model.balances()).toEqual(balancesBefore);
        await expectStoreMatchesModel(run, sent);
        expect(await checkInvariants(database.pool)).toEqual([]);
      }),
      { seed: propertySeed, numRuns: propertyRunCount },
    );

    // The generator must reach every result, or the agreement above says little about the rules.
    expect([...seen].sort()).toEqual(['posted', ...rejectionReasons, ...existsResults].sort());
  });
});

describe('posting: metadata the domain accepts is always stored', () => {
  // Metadata that passes parseMetadata must never make ledger.post_transfers raise, or one message
  // would fail its whole batch and block its message group until the dead-letter queue.
  it.each([
    ['a NUL character in a string', { note: '\u0000' }],
    ['a NUL character in a key', { 'a\u0000b': 1 }],
    ['a lone UTF-16 surrogate in a string', { note: '\ud800' }],
    ['numbers jsonb prints longer than the bound', { amounts: Array.from({ length: 14 }, () => 1e300) }],
  ] satisfies [string, Metadata][])('refuses metadata that holds %s', (_what, metadata) => {
    expect(parseMetadata(metadata)).toBeUndefined();
  });

  it('stores any metadata the domain accepts, and refuses before any write what it does not', async () => {
    const run = await openAccounts([
      { currency: at(currencies, 0), flag: 'none', debitsPending: 0n, creditsPending: 0n },
      { currency: at(currencies, 0), flag: 'none', debitsPending: 0n, creditsPending: 0n },
    ]);
    const store = new PostgresLedgerStore(database.pool);
    const text = fc.string({ unit: 'binary', maxLength: 40 });
    const leaf = fc.oneof(text, fc.double(), fc.integer(), fc.boolean(), fc.constant(null));
    const value = fc.letrec<{ json: JsonValue }>((tie) => ({
      json: fc.oneof(
        { depthSize: 'small' },
        leaf,
        fc.array(tie('json'), { maxLength: 30 }),
        fc.dictionary(text, tie('json'), { maxKeys: 8 }),
      ),
    })).json;
    let acceptedCount = 0;
    await fc.assert(
      fc.asyncProperty(fc.dictionary(text, value, { maxKeys: 8 }), async (candidate) => {
        const metadata = parseMetadata(candidate);
        if (metadata === undefined) return;
        acceptedCount += 1;
        const parsed = parseTransferMessage(
          JSON.stringify({
            id: newTransferId(),
            debit_account_id: at(run.accountIds, 0),
            credit_account_id: at(run.accountIds, 1),
            amount: '1',
            currency: at(currencies, 0),
            metadata,
            accepted_at: '2025-01-01T00:00:00.000Z',
          }),
        );
        if (!parsed.ok) throw new Error(`test fixture: the message must parse, but ${parsed.reason}`);
        const { results } = await store.postBatch([parsed.value], []);
        expect(results).toEqual(run.model.postBatch([parsed.value]));
        const { rows } = await database.pool.query<{ bytes: number }>(
          'select octet_length(metadata::text) as bytes from ledger.transfers where id = $1',
          [parsed.value.id],
        );
        // The domain's size measure is the database's to the byte.
        expect(rows[0]?.bytes).toBe(jsonbTextBytes(metadata, metadataDepthMax, metadataBytesMax));
      }),
      { seed: propertySeed, numRuns: 200 },
    );
    // The generator must produce accepted metadata, or the property says nothing.
    expect(acceptedCount).toBeGreaterThan(50);
  });
});
