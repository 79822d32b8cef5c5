import { describe, expect, it } from 'vitest';
import { evaluateFraud } from '../eval/fraud';
import { anomalyKinds } from '../eval/traffic';

describe('the fraud evaluation (seed 42)', () => {
  it('keeps precision at least 0.9 and recall at least 0.8 for every injected kind', async () => {
    const result = await evaluateFraud({ seed: 42 });

    for (const kind of anomalyKinds) {
      expect({ kind, ...result.kinds[kind] }).toMatchObject({
        kind,
        precision: expect.toSatisfy((value: number) => value >= 0.9),
        recall: expect.toSatisfy((value: number) => value >= 0.8),
      });
    }
    expect(result.kinds.amount_spike.injected).toBeGreaterThan(0);
    expect(result.kinds.business_fan_out.injected).toBeGreaterThan(0);
    expect(result.business.evaluatedNormalCount).toBeGreaterThan(0);
  }, 60_000);

  it('makes the same traffic and figures from the same seed', async () => {
    const [first, second] = [
      await evaluateFraud({ seed: 9, accountCount: 20, businessAccountCount: 2 }),
      await evaluateFraud({ seed: 9, accountCount: 20, businessAccountCount: 2 }),
    ];

    expect(second).toEqual(first);
  }, 60_000);
});
