import { describe, expect, it } from 'vitest';
import {
  defaultRedeliveryBackoff,
  redeliveryDelayS,
  visibilityTimeoutSMax,
  waitBeforeDeadLetterS,
} from '../../shared/handlers/redelivery';
import { readFunctionSettings } from '../../shared/settings';
import { type QueueKey, topology } from '../../shared/topology';

const oneHourS = 3_600;
/** The random numbers at the two ends of what Math.random returns. */
const lowest = () => 0;
const highest = () => 0.999_999;

describe('the redelivery backoff', () => {
  it('doubles from the base with each delivery, up to the cap, cut by at most a fifth', () => {
    const backoff = { baseS: 30, capS: 900 };

    expect([1, 2, 3, 4, 5, 6, 7, 20].map((count) => redeliveryDelayS(count, backoff, lowest))).toEqual([
      30, 60, 120, 240, 480, 900, 900, 900,
    ]);
    expect([1, 2, 3, 4, 5, 6, 7, 20].map((count) => redeliveryDelayS(count, backoff, highest))).toEqual([
      25, 49, 97, 193, 385, 721, 721, 721,
    ]);
  });

  it('waits at least a second, and never past what SQS allows, whatever the count', () => {
    expect(redeliveryDelayS(1, { baseS: 1, capS: 1 }, highest)).toBe(1);
    expect(redeliveryDelayS(10_000, { baseS: 3_600, capS: visibilityTimeoutSMax }, lowest)).toBe(
      visibilityTimeoutSMax,
    );
    expect(redeliveryDelayS(0, { baseS: 30, capS: 900 }, lowest)).toBe(30);
  });
});

describe('the dead-letter arithmetic of the defaults', () => {
  const sourceQueues = (Object.keys(topology.queues) as QueueKey[]).filter(
    (key) => topology.queues[key].deadLetter !== undefined,
  );

  it.each(sourceQueues)(
    '%s: failures that may pass are dead-lettered after an hour at the earliest, and before the queue drops them',
    (key) => {
      const queue = topology.queues[key];
      const receiveCountMax = queue.deadLetter?.maxReceiveCount ?? 0;
      const backoff = readFunctionSettings({}).backoff;

      const wait = waitBeforeDeadLetterS(backoff, receiveCountMax);

      expect(backoff).toEqual(defaultRedeliveryBackoff);
      expect(wait).toEqual({ leastS: 11_544, mostS: 14_430 });
      expect(wait.leastS).toBeGreaterThanOrEqual(oneHourS);
      expect(wait.mostS).toBeLessThan(queue.retentionPeriodS);
      expect(backoff.capS).toBeLessThanOrEqual(visibilityTimeoutSMax);
    },
  );

  it.each(sourceQueues)(
    '%s: a failure that may never pass reaches the dead-letter queue within half an hour',
    (key) => {
      const queue = topology.queues[key];

      expect((queue.deadLetter?.maxReceiveCount ?? 0) * queue.visibilityTimeoutS).toBe(1_200);
    },
  );
});
