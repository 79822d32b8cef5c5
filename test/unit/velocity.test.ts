import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decideVelocity,
  effectiveVelocityLimits,
  type VelocityEntry,
  type VelocityLimits,
} from '../../shared/domain/velocity';

const limits: VelocityLimits = { windowS: 60, transferCountMax: 3, amountMax: undefined };
const t0 = Date.parse('2026-01-31T12:00:00.000Z');

function entry(transferId: string, atMs: number, amount = 10n): VelocityEntry {
  return { transferId, atMs, amount };
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

describe('the sliding window', () => {
  it('admits transfers up to the count and refuses the next until the oldest leaves the window', () => {
    const entries = [entry('a', t0), entry('b', t0 + 10_000), entry('c', t0 + 20_000)];

    const refused = decideVelocity(entries, limits, { transferId: 'd', amount: 1n, nowMs: t0 + 30_000 });
    const admitted = decideVelocity(entries, limits, { transferId: 'd', amount: 1n, nowMs: t0 + 60_000 });

    expect(refused).toEqual({ kind: 'exceeded', limit: 'transfer_count', retryAfterS: 30 });
    expect(admitted).toEqual({
      kind: 'admitted',
      entries: [entries[1], entries[2], entry('d', t0 + 60_000, 1n)],
    });
  });

  it('rounds the retry time up to whole seconds, and answers at least 1', () => {
    const entries = [entry('a', t0), entry('b', t0), entry('c', t0)];

    const justAfter = decideVelocity(entries, limits, { transferId: 'd', amount: 1n, nowMs: t0 + 1 });
    const almost = decideVelocity(entries, limits, { transferId: 'd', amount: 1n, nowMs: t0 + 59_999 });

    expect(justAfter).toMatchObject({ retryAfterS: 60 });
    expect(almost).toMatchObject({ retryAfterS: 1 });
  });

  it('counts a transfer id once: the same transfer again is admitted without a new entry', () => {
    const entries = [entry('a', t0), entry('b', t0), entry('c', t0)];

    expect(decideVelocity(entries, limits, { transferId: 'b', amount: 10n, nowMs: t0 + 5 })).toEqual({
      kind: 'already_counted',
    });
  });

  it('counts a transfer id again once its entry has left the window', () => {
    expect(
      decideVelocity([entry('a', t0)], limits, { transferId: 'a', amount: 10n, nowMs: t0 + 60_000 }),
    ).toEqual({ kind: 'admitted', entries: [entry('a', t0 + 60_000)] });
  });

  it('refuses on the amount, and waits for as many old entries to leave as the amount needs', () => {
    const amountLimits: VelocityLimits = { windowS: 60, transferCountMax: 100, amountMax: 100n };
    const entries = [entry('a', t0, 40n), entry('b', t0 + 10_000, 40n), entry('c', t0 + 20_000, 10n)];

    const small = decideVelocity(entries, amountLimits, { transferId: 'd', amount: 10n, nowMs: t0 + 30_000 });
    const large = decideVelocity(entries, amountLimits, { transferId: 'e', amount: 60n, nowMs: t0 + 30_000 });

    expect(small).toMatchObject({ kind: 'admitted' });
    // 90 in the window; 60 more fits once a (40) and b (40) have left: at t0 + 70 s.
    expect(large).toEqual({ kind: 'exceeded', limit: 'amount', retryAfterS: 40 });
  });

  it('never admits an amount that alone is over the amount limit, and says no retry time', () => {
    const amountLimits: VelocityLimits = { windowS: 60, transferCountMax: 100, amountMax: 100n };

    expect(decideVelocity([], amountLimits, { transferId: 'a', amount: 101n, nowMs: t0 })).toEqual({
      kind: 'exceeded',
      limit: 'amount',
      retryAfterS: undefined,
    });
  });

  it('never holds more than the limits in any window, and a refused transfer fits at its retry time', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ gapMs: fc.integer({ min: 0, max: 4_000 }), amount: fc.bigInt({ min: 1n, max: 50n }) }),
          {
            maxLength: 60,
          },
        ),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 10 }),
        (requests, transferCountMax, windowS) => {
          const bounded: VelocityLimits = { windowS, transferCountMax, amountMax: 120n };
          let window: readonly VelocityEntry[] = [];
          let nowMs = t0;
          for (const [index, request] of requests.entries()) {
            nowMs += request.gapMs;
            const transfer = { transferId: `t${index}`, amount: request.amount, nowMs };
            const decision = decideVelocity(window, bounded, transfer);
            if (decision.kind === 'admitted') {
              window = decision.entries;
              const live = window.filter((item) => item.atMs + windowS * 1000 > nowMs);
              expect(live.length).toBeLessThanOrEqual(transferCountMax);
              expect(live.reduce((sum, item) => sum + item.amount, 0n)).toBeLessThanOrEqual(120n);
            } else if (decision.kind === 'exceeded' && decision.retryAfterS !== undefined) {
              const later = decideVelocity(window, bounded, {
                ...transfer,
                nowMs: nowMs + decision.retryAfterS * 1000,
              });
              expect(later.kind).toBe('admitted');
            }
          }
        },
      ),
      { seed: 20_260_131, numRuns: 300 },
    );
  });
});
