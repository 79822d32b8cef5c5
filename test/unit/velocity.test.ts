import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  effectiveVelocityLimits,
  planAdmission,
  type VelocityLimits,
  type VelocityWindow,
} from '../../shared/domain/velocity';
import { VelocityModel } from '../support/velocity-model';

const limits: VelocityLimits = { windowS: 60, transferCountMax: 3, amountMax: undefined };
const t0 = Date.parse('2026-01-31T12:00:00.000Z');

function window(startMs: number, transferCount: number, amountTotal = 0n): VelocityWindow {
  return { startMs, transferCount, amountTotal };
}

describe('effective limits', () => {
  it("takes the account's own limits where it has them and the defaults elsewhere", () => {
    const defaults: VelocityLimits = { windowS: 60, transferCountMax: 100, amountMax: 5000n };
    expect(
      effectiveVelocityLimits(defaults, { windowS: null, transferCountMax: 2, amountMax: null }),
    ).toEqual({
      windowS: 60,
      transferCountMax: 2,
      amountMax: 5000n,
    });
  });
});

describe('admission to a fixed window', () => {
  it('opens a window when the account has none, or when its last one has closed', () => {
    expect(planAdmission(undefined, limits, 1n, t0)).toEqual({ kind: 'open_window' });
    expect(planAdmission(window(t0, 3), limits, 1n, t0 + 60_000)).toEqual({ kind: 'open_window' });
  });

  it('counts in the open window while it has room, and refuses until it closes once it is full', () => {
    expect(planAdmission(window(t0, 2), limits, 1n, t0 + 59_999)).toEqual({ kind: 'count_in_window' });
    expect(planAdmission(window(t0, 3), limits, 1n, t0 + 30_000)).toEqual({
      kind: 'exceeded',
      limit: 'transfer_count',
      retryAfterS: 30,
    });
  });

  it('rounds the retry time up to whole seconds, and answers at least 1', () => {
    expect(planAdmission(window(t0, 3), limits, 1n, t0 + 1)).toMatchObject({ retryAfterS: 60 });
    expect(planAdmission(window(t0, 3), limits, 1n, t0 + 59_999)).toMatchObject({ retryAfterS: 1 });
  });

  it('refuses on the amount when the window holds too much for this transfer, until it closes', () => {
    const amountLimits: VelocityLimits = { windowS: 60, transferCountMax: 100, amountMax: 100n };

    expect(planAdmission(window(t0, 3, 90n), amountLimits, 10n, t0 + 30_000)).toEqual({
      kind: 'count_in_window',
    });
    expect(planAdmission(window(t0, 3, 90n), amountLimits, 11n, t0 + 30_000)).toEqual({
      kind: 'exceeded',
      limit: 'amount',
      retryAfterS: 30,
    });
  });

  it('never admits an amount that alone is over the amount limit, and says no retry time', () => {
    const amountLimits: VelocityLimits = { windowS: 60, transferCountMax: 100, amountMax: 100n };

    for (const current of [undefined, window(t0, 0), window(t0 - 120_000, 5, 50n)]) {
      expect(planAdmission(current, amountLimits, 101n, t0)).toEqual({
        kind: 'exceeded',
        limit: 'amount',
        retryAfterS: undefined,
      });
    }
  });

  it('checks the count before the amount, so a full window names the count', () => {
    const both: VelocityLimits = { windowS: 60, transferCountMax: 2, amountMax: 100n };

    expect(planAdmission(window(t0, 2, 100n), both, 1n, t0)).toMatchObject({ limit: 'transfer_count' });
  });
});

describe('the reference model of admission', () => {
  const operation = fc.oneof(
    fc.record({
      kind: fc.constant('admit' as const),
      gapMs: fc.integer({ min: 0, max: 4_000 }),
      amount: fc.bigInt({ min: 1n, max: 60n }),
    }),
    // Gives back the slot of the admission this many admissions ago, if it has one.
    fc.record({ kind: fc.constant('release' as const), back: fc.integer({ min: 0, max: 5 }) }),
  );

  it('never admits more than the limits within one window, refuses only a full window, and a refused transfer fits at its retry time', () => {
    fc.assert(
      fc.property(
        fc.array(operation, { maxLength: 80 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 10 }),
        (operations, transferCountMax, windowS) => {
          const bounded: VelocityLimits = { windowS, transferCountMax, amountMax: 120n };
          const model = new VelocityModel(bounded);
          let nowMs = t0;
          for (const step of operations) {
            if (step.kind === 'release') {
              model.releaseAgo(step.back);
              continue;
            }
            nowMs += step.gapMs;
            const before = model.window;
            const outcome = model.admit(step.amount, nowMs);
            if (outcome.kind === 'exceeded') {
              // A refusal is never spurious: the open window has no room for this amount.
              if (outcome.retryAfterS === undefined) {
                expect(step.amount).toBeGreaterThan(120n);
              } else {
                const open = before !== undefined && before.startMs + windowS * 1000 > nowMs;
                expect(open).toBe(true);
                const full =
                  (before?.transferCount ?? 0) >= transferCountMax ||
                  (before?.amountTotal ?? 0n) + step.amount > 120n;
                expect(full).toBe(true);
                const later = planAdmission(
                  model.window,
                  bounded,
                  step.amount,
                  nowMs + outcome.retryAfterS * 1000,
                );
                expect(later.kind).not.toBe('exceeded');
              }
            }
          }
          for (const held of model.countedPerWindow().values()) {
            expect(held.transferCount).toBeLessThanOrEqual(transferCountMax);
            expect(held.amountTotal).toBeLessThanOrEqual(120n);
          }
        },
      ),
      { seed: 20_260_131, numRuns: 300 },
    );
  });

  it('lets at most twice the limit pass within any span of one window length (two fixed windows meet in it)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 3_000 }), { maxLength: 80 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 10 }),
        (gaps, transferCountMax, windowS) => {
          const model = new VelocityModel({ windowS, transferCountMax, amountMax: undefined });
          const admittedAt: number[] = [];
          let nowMs = t0;
          for (const gapMs of gaps) {
            nowMs += gapMs;
            if (model.admit(1n, nowMs).kind !== 'exceeded') admittedAt.push(nowMs);
          }
          for (const start of admittedAt) {
            const within = admittedAt.filter((at) => at >= start && at < start + windowS * 1000);
            expect(within.length).toBeLessThanOrEqual(2 * transferCountMax);
          }
        },
      ),
      { seed: 20_260_131, numRuns: 200 },
    );
  });
});
