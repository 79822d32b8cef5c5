import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type BatchAnswer,
  type BatchItemOutcome,
  batchItemCountMax,
  batchTransferId,
  decodeBatchAnswer,
  encodeBatchAnswer,
} from '../../shared/domain/batch';
import { newTransferId, parseTransferId, type TransferId } from '../../shared/domain/ids';
import {
  planAdmission,
  planBatchAdmission,
  type VelocityLimits,
  type VelocityWindow,
} from '../../shared/domain/velocity';

const t0 = Date.parse('2026-01-31T12:00:00.000Z');

function transferId(text: string): TransferId {
  const id = parseTransferId(text);
  if (id === undefined) throw new Error(`test fixture: ${text} is not a transfer id`);
  return id;
}

describe('batch transfer ids', () => {
  it('gives item i the reserved id with its last ten bits replaced by i, ascending in item order', () => {
    const reserved = transferId('01890a5d-ac96-774b-bcce-b302099a8fff');

    expect(batchTransferId(reserved, 0)).toBe('01890a5d-ac96-774b-bcce-b302099a8c00');
    expect(batchTransferId(reserved, 1)).toBe('01890a5d-ac96-774b-bcce-b302099a8c01');
    expect(batchTransferId(reserved, 999)).toBe('01890a5d-ac96-774b-bcce-b302099a8fe7');
  });

  it('gives every item of a batch its own id, the same on every call, in ascending order', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 40 }), (ms) => {
        const reserved = newTransferId(t0 + ms);
        const ids = Array.from({ length: batchItemCountMax }, (_, index) => batchTransferId(reserved, index));
        expect(new Set(ids).size).toBe(batchItemCountMax);
        expect([...ids].sort()).toEqual(ids);
        expect(ids.map((id, index) => batchTransferId(reserved, index) === id).every(Boolean)).toBe(true);
        // Still a version 7 UUID of the same millisecond: the btrees append it like any new id.
        for (const id of [ids[0], ids[999]]) {
          expect(id?.slice(0, 15)).toBe(reserved.slice(0, 15));
          expect(id?.[19]).toMatch(/[89ab]/);
        }
      }),
      { seed: 1401, numRuns: 50 },
    );
  });

  it('refuses an index outside 0 to 999', () => {
    const reserved = newTransferId(t0);
    expect(() => batchTransferId(reserved, batchItemCountMax)).toThrow(/from 0 to 999/);
    expect(() => batchTransferId(reserved, -1)).toThrow(/from 0 to 999/);
  });
});

describe('the stored answer of a batch', () => {
  const outcome: fc.Arbitrary<BatchItemOutcome> = fc.oneof(
    fc.constant({ kind: 'queued' as const }),
    fc.constant({ kind: 'invalid' as const }),
    fc.record({
      kind: fc.constant('velocity_exceeded' as const),
      limit: fc.constantFrom('transfer_count' as const, 'amount' as const),
      retryAfterS: fc.option(fc.integer({ min: 1, max: 86_400 }), { nil: undefined }),
      windowS: fc.integer({ min: 1, max: 86_400 }),
      transferCountMax: fc.integer({ min: 1, max: 1_000 }),
      amountMax: fc.option(fc.bigInt({ min: 1n, max: 2n ** 63n - 1n }), { nil: undefined }),
    }),
  );

  it('reads back exactly what was stored', () => {
    fc.assert(
      fc.property(fc.array(outcome, { minLength: 1, maxLength: 40 }), (outcomes) => {
        const answer: BatchAnswer = {
          reservedId: newTransferId(t0),
          acceptedAt: '2026-01-31T12:00:00.000Z',
          outcomes,
        };
        expect(decodeBatchAnswer(encodeBatchAnswer(answer))).toEqual(answer);
      }),
      { seed: 1402, numRuns: 200 },
    );
  });

  it('keeps a 1,000-item batch of refusals small enough to be stored twice (progress, answer) in one DynamoDB item', () => {
    const refusal: BatchItemOutcome = {
      kind: 'velocity_exceeded',
      limit: 'amount',
      retryAfterS: 86_400,
      windowS: 86_400,
      transferCountMax: 1_000,
      amountMax: 2n ** 63n - 1n,
    };
    const text = encodeBatchAnswer({
      reservedId: newTransferId(t0),
      acceptedAt: '2026-01-31T12:00:00.000Z',
      outcomes: Array.from({ length: batchItemCountMax }, () => refusal),
    });
    // DynamoDB holds 400 KB per item; the record keeps the answer as progress and as Powertools' data.
    expect(Buffer.byteLength(text)).toBeLessThan(60_000);
  });

  it('reads anything else as no answer', () => {
    expect(decodeBatchAnswer('not json')).toBeUndefined();
    expect(decodeBatchAnswer(JSON.stringify({ v: 2 }))).toBeUndefined();
    const valid = JSON.parse(
      encodeBatchAnswer({
        reservedId: newTransferId(t0),
        acceptedAt: '2026-01-31T12:00:00.000Z',
        outcomes: [{ kind: 'queued' }],
      }),
    ) as Record<string, unknown>;
    expect(decodeBatchAnswer(JSON.stringify({ ...valid, outcomes: 'v' }))).toBeUndefined();
    expect(decodeBatchAnswer(JSON.stringify({ ...valid, outcomes: 'x' }))).toBeUndefined();
  });
});

describe('admitting several transfers of one account', () => {
  const limitsArbitrary: fc.Arbitrary<VelocityLimits> = fc.record({
    windowS: fc.integer({ min: 1, max: 120 }),
    transferCountMax: fc.integer({ min: 1, max: 8 }),
    amountMax: fc.option(fc.bigInt({ min: 1n, max: 100n }), { nil: undefined }),
  });
  const windowArbitrary: fc.Arbitrary<VelocityWindow | undefined> = fc.option(
    fc.record({
      startMs: fc.integer({ min: t0 - 200_000, max: t0 }),
      transferCount: fc.integer({ min: 0, max: 8 }),
      amountTotal: fc.bigInt({ min: 0n, max: 100n }),
    }),
    { nil: undefined },
  );

  it('decides each transfer as planAdmission would, one after another, counting only the admitted', () => {
    fc.assert(
      fc.property(
        windowArbitrary,
        limitsArbitrary,
        fc.array(fc.bigInt({ min: 1n, max: 60n }), { minLength: 1, maxLength: 12 }),
        (window, limits, amounts) => {
          const plan = planBatchAdmission(window, limits, amounts, t0);

          // The reference: one transfer at a time, each admitted one counted before the next.
          let running = window;
          let opened = false;
          const expected = amounts.map((amount) => {
            const single = planAdmission(running, limits, amount, t0);
            if (single.kind === 'exceeded') return single;
            if (single.kind === 'open_window') {
              opened = true;
              running = { startMs: t0, transferCount: 1, amountTotal: amount };
            } else if (running !== undefined) {
              running = {
                ...running,
                transferCount: running.transferCount + 1,
                amountTotal: running.amountTotal + amount,
              };
            }
            return { kind: 'admitted' as const };
          });
          expect(plan.decisions).toEqual(expected);
          const admitted = amounts.filter((_, index) => expected[index]?.kind === 'admitted');
          expect(plan.admittedCount).toBe(admitted.length);
          expect(plan.admittedAmount).toBe(admitted.reduce((sum, amount) => sum + amount, 0n));
          expect(plan.kind).toBe(admitted.length === 0 ? 'none' : opened ? 'open_window' : 'count_in_window');
          // Never past the limits in the window the admitted ones go into.
          if (running !== undefined && plan.kind !== 'none') {
            expect(running.transferCount).toBeLessThanOrEqual(
              Math.max(limits.transferCountMax, window?.transferCount ?? 0),
            );
          }
        },
      ),
      { seed: 1403, numRuns: 500 },
    );
  });

  it('refuses a transfer the amount limit refuses and admits a smaller one after it', () => {
    const limits: VelocityLimits = { windowS: 60, transferCountMax: 10, amountMax: 100n };
    const plan = planBatchAdmission(undefined, limits, [150n, 60n, 50n, 40n], t0);

    expect(plan.decisions).toEqual([
      { kind: 'exceeded', limit: 'amount', retryAfterS: undefined },
      { kind: 'admitted' },
      { kind: 'exceeded', limit: 'amount', retryAfterS: 60 },
      { kind: 'admitted' },
    ]);
    expect(plan).toMatchObject({ kind: 'open_window', admittedCount: 2, admittedAmount: 100n });
  });
});
