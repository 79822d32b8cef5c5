import { describe, expect, it } from 'vitest';
import {
  addObservation,
  assess,
  defaultFraudSettings,
  detectPatterns,
  deviation,
  emptyProfile,
  emptyStat,
  type FirstPaidAt,
  type FraudProfile,
  features,
  logMinorUnits,
  type ScoredTransfer,
  scoreAgainstProfile,
  type WindowTransfer,
} from '../../shared/domain/fraud';

const settings = defaultFraudSettings;

function last<T>(items: readonly T[]): T {
  const item = items.at(-1);
  if (item === undefined) throw new Error('test: no items');
  return item;
}

function transfer(overrides: Partial<ScoredTransfer> = {}): ScoredTransfer {
  return {
    transferId: 'transfer',
    debitAccountId: 'debit',
    creditAccountId: 'regular',
    amount: 10_000n,
    postedAt: '2026-03-02T10:00:00.000Z',
    ...overrides,
  };
}

/** When each counterparty was first paid, if `transfers` were all the account ever paid. */
function firstPaidWithin(transfers: readonly WindowTransfer[]): FirstPaidAt {
  const first = new Map<string, string>();
  for (const item of transfers) {
    const known = first.get(item.creditAccountId);
    if (known === undefined || item.postedAt < known) first.set(item.creditAccountId, item.postedAt);
  }
  return first;
}

/** A profile learned from 40 days (up to 1 March) of one transfer a day at about 10:00 UTC, ~100.00, to one payee. */
function learnedProfile(): FraudProfile {
  const days = 40;
  let profile = emptyProfile;
  for (let day = 0; day < days; day += 1) {
    const minutes = 570 + ((day * 37) % 60);
    const at = new Date(Date.UTC(2026, 0, 21 + day, 0, minutes)).toISOString();
    const amount = 9_000n + BigInt((day * 211) % 2_000);
    profile = scoreAgainstProfile(transfer({ postedAt: at, amount }), profile, day, settings).profile;
  }
  return profile;
}

describe('the fraud model', () => {
  it('takes the logarithm of any amount up to 2^63-1 without holding it in a float', () => {
    expect(logMinorUnits(1n)).toBe(0);
    expect(logMinorUnits(1_000n)).toBeCloseTo(Math.log(1_000), 12);
    expect(logMinorUnits(9_223_372_036_854_775_807n)).toBeCloseTo(63 * Math.LN2, 9);
    expect(() => logMinorUnits(0n)).toThrow(RangeError);
  });

  it("keeps Welford's running mean and deviation equal to the two-pass ones", () => {
    const values = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5];
    const stat = values.reduce(addObservation, emptyStat);
    const mean = values.reduce((sum, value) => sum + value, 0) / values.length;
    const variance = values.reduce((sum, value) => sum + (value - mean) ** 2, 0) / (values.length - 1);

    expect(stat.mean).toBeCloseTo(mean, 12);
    expect(deviation(stat, 0)).toBeCloseTo(Math.sqrt(variance), 12);
    expect(deviation(addObservation(emptyStat, 7), 0.5)).toBe(0.5);
  });

  it('puts 23:30 and 00:30 close together on the circle', () => {
    const late = features(transfer({ postedAt: '2026-03-02T23:30:00.000Z' }), emptyProfile, 0, settings);
    const early = features(transfer({ postedAt: '2026-03-03T00:30:00.000Z' }), emptyProfile, 0, settings);

    expect(Math.hypot(late.hourSin - early.hourSin, late.hourCos - early.hourCos)).toBeLessThan(0.3);
  });

  it('judges a new account by the cold-start amount rule alone', () => {
    const small = assess(transfer(), emptyProfile, features(transfer(), emptyProfile, 0, settings), settings);
    const large = transfer({ amount: settings.coldStartAmountMax + 1n });
    const flagged = assess(large, emptyProfile, features(large, emptyProfile, 0, settings), settings);

    expect(small).toEqual({ score: 0, reasons: [], flagged: false });
    expect(flagged).toMatchObject({ reasons: ['amount_unusual'], flagged: true });
  });

  it('clears a transfer like the account’s usual ones', () => {
    const profile = learnedProfile();
    const usual = transfer({ postedAt: '2026-03-02T10:05:00.000Z' });

    const { assessment } = scoreAgainstProfile(usual, profile, 40, settings);

    expect(assessment.flagged).toBe(false);
    expect(assessment.score).toBeLessThan(0.1);
  });

  it('flags an amount far above the account’s, at its usual hour and payee', () => {
    const profile = learnedProfile();
    const spike = transfer({ amount: 500_000n, postedAt: '2026-03-02T10:05:00.000Z' });

    const { assessment } = scoreAgainstProfile(spike, profile, 40, settings);

    expect(assessment.flagged).toBe(true);
    expect(assessment.reasons).toContain('amount_unusual');
  });

  it('flags an odd hour with a new payee, but neither alone', () => {
    const profile = learnedProfile();
    const night = '2026-03-02T22:00:00.000Z';

    const both = scoreAgainstProfile(
      transfer({ postedAt: night, creditAccountId: 'new' }),
      profile,
      0,
      settings,
    );
    const hourOnly = scoreAgainstProfile(transfer({ postedAt: night }), profile, 40, settings);
    const payeeOnly = scoreAgainstProfile(
      transfer({ postedAt: '2026-03-02T10:05:00.000Z', creditAccountId: 'new' }),
      profile,
      0,
      settings,
    );

    expect(both.assessment).toMatchObject({ flagged: true, reasons: ['unusual_hour', 'new_counterparty'] });
    expect(hourOnly.assessment.flagged).toBe(false);
    expect(payeeOnly.assessment.flagged).toBe(false);
  });

  it('learns an outlier clipped, so one spike does not make the next one usual', () => {
    const profile = learnedProfile();
    const spike = transfer({ amount: 5_000_000n, postedAt: '2026-03-02T10:05:00.000Z' });

    const after = scoreAgainstProfile(spike, profile, 40, settings).profile;
    const again = scoreAgainstProfile(
      { ...spike, postedAt: '2026-03-03T10:05:00.000Z' },
      after,
      41,
      settings,
    );

    expect(after.stats.logAmount.mean - profile.stats.logAmount.mean).toBeLessThan(0.1);
    expect(again.assessment.flagged).toBe(true);
  });

  it('finds a fan-out and structuring, and nothing in ordinary traffic', () => {
    const at = (minute: number) => new Date(Date.UTC(2026, 2, 2, 10, minute)).toISOString();
    const fanOut = Array.from({ length: 5 }, (_, index) => ({
      transferId: `t${index}`,
      creditAccountId: `payee${index}`,
      amount: 1_000n,
      postedAt: at(index),
    }));
    const structured = Array.from({ length: 3 }, (_, index) => ({
      transferId: `s${index}`,
      creditAccountId: 'payee',
      amount: 990_000n,
      postedAt: at(index * 20),
    }));
    const ordinary = fanOut.map((item) => ({ ...item, creditAccountId: 'payee' }));

    expect(detectPatterns(last(fanOut), fanOut, firstPaidWithin(fanOut), settings)).toEqual([
      { reason: 'fan_out', transferIds: ['t0', 't1', 't2', 't3', 't4'] },
    ]);
    expect(detectPatterns(last(structured), structured, firstPaidWithin(structured), settings)).toEqual([
      { reason: 'structuring', transferIds: ['s0', 's1', 's2'] },
    ]);
    expect(detectPatterns(last(ordinary), ordinary, firstPaidWithin(ordinary), settings)).toEqual([]);
  });

  it('counts and names only the counterparties first paid inside the fan-out window', () => {
    const startMs = Date.UTC(2026, 2, 2, 10, 0);
    const at = (second: number) => new Date(startMs + second * 1000).toISOString();
    const weekAgo = new Date(startMs - 7 * 86_400_000).toISOString();
    const shops = ['shop0', 'shop1', 'shop2', 'shop3', 'shop4', 'shop5'];
    const ordinary = Array.from({ length: 40 }, (_, index) => ({
      transferId: `o${index}`,
      creditAccountId: shops[index % shops.length] ?? 'shop0',
      amount: 2_000n,
      postedAt: at(index * 6),
    }));
    const payees = (count: number) =>
      Array.from({ length: count }, (_, index) => ({
        transferId: `n${index}`,
        creditAccountId: `payee${index}`,
        amount: 40_000n,
        postedAt: at(241 + index),
      }));
    const familiar = new Map(shops.map((shop) => [shop, weekAgo]));
    const firstPaid = (transfers: readonly WindowTransfer[]): FirstPaidAt =>
      new Map([...firstPaidWithin(transfers), ...familiar]);
    const { fanOutNewCounterpartyCountMin: countMin, fanOutWindowS } = settings;
    const almost = [...ordinary, ...payees(countMin - 1)];
    const fanOut = [...ordinary, ...payees(countMin)];
    // A payee first paid exactly at the window's start is not new in it; a second later it is.
    const edge = new Date(Date.parse(last(fanOut).postedAt) - fanOutWindowS * 1000).toISOString();
    const paidAtEdge = new Map([...firstPaid(fanOut), ['payee0', edge]]);
    const paidAfterEdge = new Map([
      ...firstPaid(fanOut),
      ['payee0', new Date(Date.parse(edge) + 1000).toISOString()],
    ]);

    expect(detectPatterns(last(ordinary), ordinary, firstPaid(ordinary), settings)).toEqual([]);
    expect(detectPatterns(last(almost), almost, firstPaid(almost), settings)).toEqual([]);
    expect(detectPatterns(last(fanOut), fanOut, firstPaid(fanOut), settings)).toEqual([
      { reason: 'fan_out', transferIds: payees(countMin).map((transfer) => transfer.transferId) },
    ]);
    expect(detectPatterns(last(fanOut), fanOut, paidAtEdge, settings)).toEqual([]);
    expect(detectPatterns(last(fanOut), fanOut, paidAfterEdge, settings)).toHaveLength(1);
    // The same shops paid for the first time today are new, and their forty transfers with them.
    expect(detectPatterns(last(fanOut), fanOut, firstPaidWithin(fanOut), settings)).toEqual([
      { reason: 'fan_out', transferIds: fanOut.map((transfer) => transfer.transferId) },
    ]);
  });
});
