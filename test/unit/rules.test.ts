import { describe, expect, it } from 'vitest';
import { type AccountId, parseAccountId, parseTransferId, type TransferId } from '../../shared/domain/ids';
import type { Metadata } from '../../shared/domain/metadata';
import { amountMax, type CurrencyCode, parseCurrency } from '../../shared/domain/money';
import {
  existsResults,
  type RejectionReason,
  rejectionReasons,
  rejectionReasonsOf,
} from '../../shared/domain/results';
import {
  type AccountState,
  decideCommand,
  decidePendingResolution,
  decideTransfer,
  metadataEqual,
  type PendingTarget,
  type PendingTransferState,
  type RecordedTransfer,
  type ReversalTarget,
} from '../../shared/domain/rules';
import type { ReferringCommand, TransferCommand } from '../../shared/domain/transfer';

function accountId(value: string): AccountId {
  const id = parseAccountId(value);
  if (id === undefined) throw new Error(`test fixture: bad account id ${value}`);
  return id;
}

function transferId(value: string): TransferId {
  const id = parseTransferId(value);
  if (id === undefined) throw new Error(`test fixture: bad transfer id ${value}`);
  return id;
}

function currency(code: string): CurrencyCode {
  const parsed = parseCurrency(code);
  if (parsed === undefined) throw new Error(`test fixture: unknown currency ${code}`);
  return parsed;
}

const usd = currency('USD');
const eur = currency('EUR');
const debitId = accountId('00000000-0000-4000-8000-00000000000d');
const creditId = accountId('00000000-0000-4000-8000-00000000000c');
const otherId = accountId('00000000-0000-4000-8000-00000000000e');
const id = transferId('00000000-0000-4000-8000-000000000001');

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function account(overrides: Partial<AccountState> & Pick<AccountState, 'id'>): AccountState {
  return {
    currency: usd,
    debitsMustNotExceedCredits: false,
    creditsMustNotExceedDebits: false,
    status: 'open',
    debitsPosted: 0n,
    creditsPosted: 0n,
    debitsPending: 0n,
    creditsPending: 0n,
    ...overrides,
  };
}

function transfer(overrides: Partial<TransferCommand> = {}): TransferCommand {
  return {
    id,
    debitAccountId: debitId,
    creditAccountId: creditId,
    amount: 10n,
    currency: usd,
    metadata: {},
    acceptedAt: '2025-01-01T00:00:00Z',
    ...overrides,
  };
}

function recordedFrom(command: TransferCommand): RecordedTransfer {
  const { debitAccountId, creditAccountId, amount, currency, metadata } = command;
  return {
    kind: 'transfer',
    debitAccountId,
    creditAccountId,
    amount,
    currency,
    metadata,
    timeoutS: null,
    referenceId: null,
  };
}

/** The arguments of one `decideTransfer` call, recorded transfer aside. */
interface Scenario {
  readonly transfer: TransferCommand;
  readonly debit: AccountState | undefined;
  readonly credit: AccountState | undefined;
}

/**
 * Builds a 10-unit USD transfer and the accounts it meets so that it violates every reason given
 * and no other, with states an account can really be in (a flagged account holds its limit), or
 * returns undefined when the reasons cannot hold together (a missing debit account has no debits
 * to overflow). When the accounts must be different, debit and credit are one account, which is
 * then given every property the other reasons ask of either side.
 */
function violating(reasons: readonly RejectionReason[]): Scenario | undefined {
  const has = (reason: RejectionReason): boolean => reasons.includes(reason);
  const same = has('accounts_must_be_different');
  const debitAccount: Mutable<AccountState> = { ...account({ id: debitId }) };
  const creditAccount: Mutable<AccountState> = same ? debitAccount : { ...account({ id: creditId }) };
  let debit: Mutable<AccountState> | undefined = debitAccount;
  let credit: Mutable<AccountState> | undefined = creditAccount;
  if (has('debit_account_not_found') || (same && has('credit_account_not_found'))) {
    debit = undefined;
    if (same) credit = undefined;
  }
  if (has('credit_account_not_found')) credit = undefined;
  if (has('currency_mismatch')) {
    // Credit side when it exists, so the mismatch composes with every debit-side reason.
    const side = credit ?? debit;
    if (side === undefined) return undefined;
    side.currency = eur;
  }
  // A 10-unit transfer overflows totals at amountMax - 5; the other side keeps 5 units of headroom,
  // so a flagged account in this state still holds its limit and fails it by 5 units.
  if (has('overflows_debits_posted')) {
    if (debit === undefined) return undefined;
    debit.debitsPosted = amountMax - 5n;
    debit.creditsPosted = amountMax;
  }
  if (has('overflows_credits_posted')) {
    if (credit === undefined || (same && has('overflows_debits_posted'))) return undefined;
    credit.creditsPosted = amountMax - 5n;
    credit.debitsPosted = amountMax;
  }
  if (has('exceeds_credits')) {
    if (debit === undefined) return undefined;
    debit.debitsMustNotExceedCredits = true;
    if (!has('overflows_debits_posted')) {
      if (same && has('overflows_credits_posted')) return undefined;
      debit.debitsPosted = 0n;
      debit.creditsPosted = 5n;
    }
  }
  if (has('exceeds_debits')) {
    if (credit === undefined || credit.debitsMustNotExceedCredits) return undefined;
    credit.creditsMustNotExceedDebits = true;
    if (!has('overflows_credits_posted')) {
      if (same && has('overflows_debits_posted')) return undefined;
      credit.creditsPosted = 0n;
      credit.debitsPosted = 5n;
    }
  }
  // States last: a closed account must be empty, which the totals above may already deny.
  const states: [RejectionReason, 'debit' | 'credit', AccountState['status']][] = [
    ['debit_account_frozen', 'debit', 'frozen'],
    ['credit_account_frozen', 'credit', 'frozen'],
    ['debit_account_closed', 'debit', 'closed'],
    ['credit_account_closed', 'credit', 'closed'],
  ];
  for (const [reason, side, status] of states) {
    if (!has(reason)) continue;
    const target = side === 'debit' ? debit : credit;
    if (target === undefined) return undefined;
    target.status = status;
  }
  for (const side of [debit, credit]) {
    if (
      side?.status === 'closed' &&
      (side.debitsPosted !== side.creditsPosted || side.debitsPending !== 0n || side.creditsPending !== 0n)
    ) {
      return undefined;
    }
  }
  return {
    transfer: transfer({ creditAccountId: same ? debitId : creditId }),
    debit,
    credit,
  };
}

/** The reasons a plain transfer can be rejected with, in check order: the ones these tests build. */
const transferReasons = rejectionReasonsOf('transfer');

function decide(scenario: Scenario, recorded?: RecordedTransfer): ReturnType<typeof decideTransfer> {
  return decideTransfer(scenario.transfer, recorded, scenario.debit, scenario.credit);
}

/** Every pair of reasons one transfer can violate together, the earlier reason first. */
const reasonPairs: [RejectionReason, RejectionReason][] = transferReasons.flatMap((earlier, index) =>
  transferReasons
    .slice(index + 1)
    .filter((later) => violating([earlier, later]) !== undefined)
    .map((later): [RejectionReason, RejectionReason] => [earlier, later]),
);

const adjacentReasonPairs = transferReasons
  .slice(1)
  .map((later, index): [RejectionReason, RejectionReason] => [
    transferReasons[index] as RejectionReason,
    later,
  ]);

describe('decideTransfer: the scenarios the order tests are built from', () => {
  it('posts the plain transfer between two unflagged USD accounts', () => {
    const scenario = violating([]);

    expect(scenario && decide(scenario)).toBe('posted');
  });

  it.each(transferReasons)('rejects a transfer that violates only %s with that reason', (reason) => {
    const scenario = violating([reason]);

    expect(scenario && decide(scenario)).toBe(reason);
  });

  it('can build every adjacent pair of reasons, so no step of the order goes untested', () => {
    expect(reasonPairs).toEqual(expect.arrayContaining(adjacentReasonPairs));
  });
});

describe('decideTransfer: the order rejection reasons are checked in', () => {
  it.each(reasonPairs)('prefers %s over %s when a transfer violates both', (earlier, later) => {
    const scenario = violating([earlier, later]);

    expect(scenario && decide(scenario)).toBe(earlier);
  });

  it('says accounts_must_be_different, not debit_account_not_found, for one unknown account on both sides', () => {
    const result = decideTransfer(transfer({ creditAccountId: debitId }), undefined, undefined, undefined);

    expect(result).toBe('accounts_must_be_different');
  });

  it('says debit_account_not_found when neither account exists', () => {
    expect(decideTransfer(transfer(), undefined, undefined, undefined)).toBe('debit_account_not_found');
  });

  it('says currency_mismatch, not exceeds_credits, when a flagged debit account is in another currency', () => {
    const debit = account({ id: debitId, currency: eur, debitsMustNotExceedCredits: true });
    const credit = account({ id: creditId });

    expect(decideTransfer(transfer(), undefined, debit, credit)).toBe('currency_mismatch');
  });

  it('says overflows_debits_posted, not exceeds_credits, when an overdrawing amount would also overflow', () => {
    const debit = account({
      id: debitId,
      debitsMustNotExceedCredits: true,
      creditsPosted: 100n,
      debitsPosted: 1n,
    });
    const credit = account({ id: creditId });

    const result = decideTransfer(transfer({ amount: amountMax }), undefined, debit, credit);

    expect(result).toBe('overflows_debits_posted');
  });

  it('checks exceeds_credits on the debit account before exceeds_debits on the credit account', () => {
    const debit = account({ id: debitId, debitsMustNotExceedCredits: true });
    const credit = account({ id: creditId, creditsMustNotExceedDebits: true });

    expect(decideTransfer(transfer(), undefined, debit, credit)).toBe('exceeds_credits');
  });
});

describe('decideTransfer: a transfer whose id is taken', () => {
  it.each(transferReasons)('answers exists, not %s, when the same transfer was recorded', (reason) => {
    const scenario = violating([reason]);
    if (scenario === undefined) throw new Error(`test fixture: cannot violate ${reason}`);

    expect(decide(scenario, recordedFrom(scenario.transfer))).toBe('exists');
  });

  it('answers exists, not posted, for a redelivered transfer that would still post', () => {
    const command = transfer();

    const result = decideTransfer(
      command,
      recordedFrom(command),
      account({ id: debitId }),
      account({ id: creditId }),
    );

    expect(result).toBe('exists');
  });

  it('answers exists for a transfer whose accounts no longer matter, even when they are unknown', () => {
    const command = transfer();

    expect(decideTransfer(command, recordedFrom(command), undefined, undefined)).toBe('exists');
  });

  it.each([
    [
      'exists_with_different_debit_account_id',
      'exists_with_different_credit_account_id',
      { debitAccountId: otherId, creditAccountId: otherId },
    ],
    [
      'exists_with_different_debit_account_id',
      'exists_with_different_amount',
      { debitAccountId: otherId, amount: 11n },
    ],
    [
      'exists_with_different_credit_account_id',
      'exists_with_different_amount',
      { creditAccountId: otherId, amount: 11n },
    ],
    ['exists_with_different_amount', 'exists_with_different_currency', { amount: 11n, currency: eur }],
    [
      'exists_with_different_currency',
      'exists_with_different_metadata',
      { currency: eur, metadata: { note: 'changed' } },
    ],
    [
      'exists_with_different_debit_account_id',
      'exists_with_different_metadata',
      { debitAccountId: otherId, amount: 11n, currency: eur, metadata: { note: 'changed' } },
    ],
  ] satisfies [string, string, Partial<TransferCommand>][])(
    'answers %s before %s when both fields changed',
    (expected, _later, changes) => {
      const original = transfer();

      const result = decideTransfer(transfer(changes), recordedFrom(original), undefined, undefined);

      expect(result).toBe(expected);
    },
  );

  it.each([
    ['debitAccountId', 'exists_with_different_debit_account_id', { debitAccountId: otherId }],
    ['creditAccountId', 'exists_with_different_credit_account_id', { creditAccountId: otherId }],
    ['amount', 'exists_with_different_amount', { amount: 11n }],
    ['currency', 'exists_with_different_currency', { currency: eur }],
    ['metadata', 'exists_with_different_metadata', { metadata: { note: 'changed' } }],
    ['acceptedAt', 'exists', { acceptedAt: '2025-06-01T00:00:00Z' }],
  ] satisfies [string, string, Partial<TransferCommand>][])(
    'answers a redelivery that changes only %s with %s',
    (_field, expected, changes) => {
      const result = decideTransfer(transfer(changes), recordedFrom(transfer()), undefined, undefined);

      expect(result).toBe(expected);
    },
  );

  it('answers exists_with_different_debit_account_id, not accounts_must_be_different, for a changed same-account transfer', () => {
    const result = decideTransfer(
      transfer({ debitAccountId: creditId }),
      recordedFrom(transfer()),
      account({ id: creditId }),
      account({ id: creditId }),
    );

    expect(result).toBe('exists_with_different_debit_account_id');
  });

  it('lists every exists result in the order checked, ending with exists', () => {
    expect(existsResults.at(-1)).toBe('exists');
  });
});

describe('decideTransfer: metadata of a redelivered transfer', () => {
  it.each([
    ['top-level keys', { a: 1, b: 'two' }, { b: 'two', a: 1 }],
    ['nested keys', { outer: { x: true, y: null } }, { outer: { y: null, x: true } }],
    ['keys inside arrays', { list: [{ p: 1, q: 2 }] }, { list: [{ q: 2, p: 1 }] }],
  ] satisfies [string, Metadata, Metadata][])(
    'answers exists when only the order of %s differs',
    (_where, recorded, redelivered) => {
      const result = decideTransfer(
        transfer({ metadata: redelivered }),
        recordedFrom(transfer({ metadata: recorded })),
        undefined,
        undefined,
      );

      expect(result).toBe('exists');
    },
  );

  it.each([
    ['a value changes', { a: 1 }, { a: 2 }],
    ['a key is added', { a: 1 }, { a: 1, b: 1 }],
    ['array elements are reordered', { list: [1, 2] }, { list: [2, 1] }],
    ['a number becomes a string', { a: 1 }, { a: '1' }],
    ['null becomes absent', { a: null }, {}],
  ] satisfies [string, Metadata, Metadata][])(
    'answers exists_with_different_metadata when %s',
    (_change, recorded, redelivered) => {
      const result = decideTransfer(
        transfer({ metadata: redelivered }),
        recordedFrom(transfer({ metadata: recorded })),
        undefined,
        undefined,
      );

      expect(result).toBe('exists_with_different_metadata');
    },
  );

  it('compares metadata the way jsonb does: key order aside, values and array order count', () => {
    expect(metadataEqual({ a: [1, { b: 2, c: 3 }] }, { a: [1, { c: 3, b: 2 }] })).toBe(true);
    expect(metadataEqual({ a: [1, 2] }, { a: [2, 1] })).toBe(false);
  });
});

describe('decideTransfer: balance limits at their boundary', () => {
  it.each([
    [70n, 'posted'],
    [71n, 'exceeds_credits'],
  ] as const)('lets a debits-limited account with 70 spare credits be debited %s: %s', (amount, expected) => {
    const debit = account({
      id: debitId,
      debitsMustNotExceedCredits: true,
      creditsPosted: 100n,
      debitsPosted: 30n,
    });

    expect(decideTransfer(transfer({ amount }), undefined, debit, account({ id: creditId }))).toBe(expected);
  });

  it.each([
    [70n, 'posted'],
    [71n, 'exceeds_debits'],
  ] as const)(
    'lets a credits-limited account with 70 spare debits be credited %s: %s',
    (amount, expected) => {
      const credit = account({
        id: creditId,
        creditsMustNotExceedDebits: true,
        debitsPosted: 100n,
        creditsPosted: 30n,
      });

      expect(decideTransfer(transfer({ amount }), undefined, account({ id: debitId }), credit)).toBe(
        expected,
      );
    },
  );

  it.each([
    [50n, 'posted'],
    [51n, 'exceeds_credits'],
  ] as const)(
    'counts pending debits against the limit: 70 spare minus 20 pending, debit %s: %s',
    (amount, expected) => {
      const debit = account({
        id: debitId,
        debitsMustNotExceedCredits: true,
        creditsPosted: 100n,
        debitsPosted: 30n,
        debitsPending: 20n,
      });

      expect(decideTransfer(transfer({ amount }), undefined, debit, account({ id: creditId }))).toBe(
        expected,
      );
    },
  );

  it.each([
    [50n, 'posted'],
    [51n, 'exceeds_debits'],
  ] as const)(
    'counts pending credits against the limit: 70 spare minus 20 pending, credit %s: %s',
    (amount, expected) => {
      const credit = account({
        id: creditId,
        creditsMustNotExceedDebits: true,
        debitsPosted: 100n,
        creditsPosted: 30n,
        creditsPending: 20n,
      });

      expect(decideTransfer(transfer({ amount }), undefined, account({ id: debitId }), credit)).toBe(
        expected,
      );
    },
  );

  it('rejects any debit of a debits-limited account with no credits', () => {
    const debit = account({ id: debitId, debitsMustNotExceedCredits: true });

    expect(decideTransfer(transfer({ amount: 1n }), undefined, debit, account({ id: creditId }))).toBe(
      'exceeds_credits',
    );
  });

  it('lets unflagged accounts go past zero either way', () => {
    const debit = account({ id: debitId, creditsPosted: 5n });
    const credit = account({ id: creditId, debitsPosted: 5n });

    expect(decideTransfer(transfer({ amount: 1_000n }), undefined, debit, credit)).toBe('posted');
  });

  it('ignores the pending totals of an unflagged account', () => {
    const debit = account({ id: debitId, debitsPending: amountMax });
    const credit = account({ id: creditId, creditsPending: amountMax });

    expect(decideTransfer(transfer(), undefined, debit, credit)).toBe('posted');
  });

  it('checks the limit of the debit account only on its debits, and of the credit account only on its credits', () => {
    const debit = account({ id: debitId, creditsMustNotExceedDebits: true });
    const credit = account({ id: creditId, debitsMustNotExceedCredits: true });

    expect(decideTransfer(transfer(), undefined, debit, credit)).toBe('posted');
  });
});

describe('decideTransfer: the 2^63-1 bound on posted totals', () => {
  it.each([
    [10n, 'posted'],
    [11n, 'overflows_debits_posted'],
  ] as const)('lets debits posted of amountMax - 10 take %s more: %s', (amount, expected) => {
    const debit = account({ id: debitId, debitsPosted: amountMax - 10n });

    expect(decideTransfer(transfer({ amount }), undefined, debit, account({ id: creditId }))).toBe(expected);
  });

  it.each([
    [10n, 'posted'],
    [11n, 'overflows_credits_posted'],
  ] as const)('lets credits posted of amountMax - 10 take %s more: %s', (amount, expected) => {
    const credit = account({ id: creditId, creditsPosted: amountMax - 10n });

    expect(decideTransfer(transfer({ amount }), undefined, account({ id: debitId }), credit)).toBe(expected);
  });

  it('posts amountMax itself between two empty accounts', () => {
    const result = decideTransfer(
      transfer({ amount: amountMax }),
      undefined,
      account({ id: debitId }),
      account({ id: creditId }),
    );

    expect(result).toBe('posted');
  });

  it('rejects one more unit once debits posted reach amountMax', () => {
    const debit = account({ id: debitId, debitsPosted: amountMax });

    expect(decideTransfer(transfer({ amount: 1n }), undefined, debit, account({ id: creditId }))).toBe(
      'overflows_debits_posted',
    );
  });

  it('bounds posted totals only: pending totals do not count towards overflow', () => {
    const debit = account({ id: debitId, debitsPending: amountMax });
    const credit = account({ id: creditId, creditsPending: amountMax });

    expect(decideTransfer(transfer({ amount: amountMax }), undefined, debit, credit)).toBe('posted');
  });
});

describe('the closed result set', () => {
  it('gives every rejection reason to some kind of transfer, and each kind checks its reasons in the one order', () => {
    const kinds = ['transfer', 'pending', 'post_pending', 'void_pending', 'reversal'] as const;
    const used = new Set(kinds.flatMap((kind) => rejectionReasonsOf(kind)));

    expect([...rejectionReasons].filter((reason) => !used.has(reason))).toEqual([]);
    for (const kind of kinds) {
      const reasons = rejectionReasonsOf(kind);
      expect(reasons).toEqual(
        [...reasons].sort((a, b) => rejectionReasons.indexOf(a) - rejectionReasons.indexOf(b)),
      );
    }
  });
});

const pendingId = transferId('00000000-0000-4000-8000-0000000000a1');
const nowMs = Date.parse('2026-01-01T00:00:00Z');

function hold(overrides: Partial<PendingTransferState> = {}): PendingTarget {
  return {
    kind: 'pending',
    state: {
      id: pendingId,
      debitAccountId: debitId,
      creditAccountId: creditId,
      amount: 10n,
      currency: usd,
      status: 'pending',
      expiresAtMs: nowMs + 1_000,
      ...overrides,
    },
  };
}

function resolution(kind: 'post_pending' | 'void_pending', amount?: bigint): ReferringCommand {
  return {
    kind,
    id,
    referenceId: pendingId,
    amount,
    metadata: {},
    acceptedAt: '2026-01-01T00:00:00.000Z',
    referenced: undefined,
  };
}

describe('decidePendingResolution: posting and voiding a pending transfer', () => {
  const open = { debit: account({ id: debitId }), credit: account({ id: creditId }) };

  it.each([
    ['pending_transfer_not_found', { kind: 'not_found' } as PendingTarget],
    ['pending_transfer_not_pending', { kind: 'not_pending' } as PendingTarget],
    ['pending_transfer_already_posted', hold({ status: 'posted' })],
    ['pending_transfer_already_voided', hold({ status: 'voided' })],
    ['pending_transfer_expired', hold({ status: 'expired' })],
    ['pending_transfer_expired', hold({ expiresAtMs: nowMs })],
  ] as const)('answers a post with %s', (expected, target) => {
    expect(decidePendingResolution(resolution('post_pending'), target, open.debit, open.credit, nowMs)).toBe(
      expected,
    );
  });

  it('rejects a post of more than the pending amount, and posts exactly the pending amount', () => {
    const post = (amount: bigint) =>
      decidePendingResolution(resolution('post_pending', amount), hold(), open.debit, open.credit, nowMs);

    expect([post(11n), post(10n), post(1n)]).toEqual(['exceeds_pending_transfer_amount', 'posted', 'posted']);
  });

  it('says expired, not exceeds_pending_transfer_amount, for a too-large post after the timeout', () => {
    const result = decidePendingResolution(
      resolution('post_pending', 11n),
      hold({ expiresAtMs: nowMs - 1 }),
      open.debit,
      open.credit,
      nowMs,
    );

    expect(result).toBe('pending_transfer_expired');
  });

  it('refuses to post into a frozen account but lets the hold be voided', () => {
    const frozen = account({ id: debitId, status: 'frozen' });

    expect([
      decidePendingResolution(resolution('post_pending'), hold(), frozen, open.credit, nowMs),
      decidePendingResolution(resolution('void_pending'), hold(), frozen, open.credit, nowMs),
    ]).toEqual(['debit_account_frozen', 'voided']);
  });

  it('posts a hold on a debits-limited account that has spent its credits on the hold itself', () => {
    // The hold counted against the limit when it was made: posting it needs no further headroom.
    const debit = account({
      id: debitId,
      debitsMustNotExceedCredits: true,
      creditsPosted: 10n,
      debitsPending: 10n,
    });

    expect(decidePendingResolution(resolution('post_pending'), hold(), debit, open.credit, nowMs)).toBe(
      'posted',
    );
  });
});

describe('decideCommand: pending transfers and reversals', () => {
  it('counts pending debits against a debits-limited account', () => {
    const debit = account({
      id: debitId,
      debitsMustNotExceedCredits: true,
      creditsPosted: 15n,
      debitsPending: 10n,
    });
    const pending = transfer({ pending: { timeoutS: 60 } });

    expect(decideTransfer(pending, undefined, debit, account({ id: creditId }))).toBe('exceeds_credits');
    expect(decideTransfer(transfer({ amount: 5n }), undefined, debit, account({ id: creditId }))).toBe(
      'posted',
    );
  });

  function reversal(amount?: bigint): ReferringCommand {
    return { ...resolution('post_pending', amount), kind: 'reversal' };
  }

  function original(overrides: Partial<ReversalTarget> = {}): ReversalTarget {
    return {
      kind: 'transfer',
      status: 'posted',
      debitAccountId: debitId,
      creditAccountId: creditId,
      amount: 10n,
      currency: usd,
      reversedAmount: 0n,
      ...overrides,
    };
  }

  // A reversal debits the original's credit account and credits its debit account.
  const decideReversal = (
    command: ReferringCommand,
    target: ReversalTarget | undefined,
    debit = account({ id: creditId }),
  ) =>
    decideCommand(command, {
      recorded: undefined,
      original: target,
      debit,
      credit: account({ id: debitId }),
      nowMs,
    });

  it.each([
    ['transfer_not_found', reversal(), undefined],
    ['transfer_not_posted', reversal(), original({ status: 'rejected' })],
    ['transfer_not_posted', reversal(), original({ kind: 'pending', status: 'pending' })],
    ['exceeds_reversible_amount', reversal(11n), original()],
    ['exceeds_reversible_amount', reversal(), original({ reversedAmount: 1n })],
    ['posted', reversal(9n), original({ reversedAmount: 1n })],
  ] as const)('answers %s', (expected, command, target) => {
    expect(decideReversal(command, target)).toBe(expected);
  });

  it('rejects a reversal with exceeds_credits once the money has left a debits-limited account', () => {
    const spent = account({
      id: creditId,
      debitsMustNotExceedCredits: true,
      creditsPosted: 10n,
      debitsPosted: 10n,
    });

    expect(decideReversal(reversal(), original(), spent)).toBe('exceeds_credits');
  });
});
