/**
 * How long a queue message that failed waits before its next delivery. A failure that may pass
 * (the database is down, a timeout) must not use up the queue's receive count in minutes: the
 * wait doubles with each delivery, from `baseS` up to `capS`, so the count lasts hours. With the
 * defaults and the transfer queue's maxReceiveCount (shared/topology.ts), a message survives at
 * least 3 hours of failures before it is dead-lettered (docs/operations.md has the arithmetic).
 */

/** The wait after a message's first failed delivery, doubling with each further one, up to a cap. */
export interface RedeliveryBackoff {
  readonly baseS: number;
  readonly capS: number;
}

export const defaultRedeliveryBackoff: RedeliveryBackoff = { baseS: 30, capS: 900 };

/** SQS hides a message for at most 12 hours at a time. */
export const visibilityTimeoutSMax = 43_200;

/**
 * Each wait is cut by up to this fraction at random, so the messages of a batch that failed
 * together come back spread out rather than all at once; never more, so the total wait has a
 * floor that the dead-letter arithmetic can rely on.
 */
export const jitterFraction = 0.2;

function ceilingS(receiveCount: number, backoff: RedeliveryBackoff): number {
  // The exponent is bounded so the doubling never leaves the range of exact doubles.
  const exponent = Math.min(Math.max(receiveCount, 1) - 1, 30);
  return Math.min(backoff.capS, backoff.baseS * 2 ** exponent, visibilityTimeoutSMax);
}

/**
 * Seconds to hide a message that failed on its `receiveCount`-th delivery: the ceiling
 * min(cap, base × 2^(receiveCount − 1)), less up to `jitterFraction` of it at random, and at
 * least one second. `random` returns a number in [0, 1).
 */
export function redeliveryDelayS(
  receiveCount: number,
  backoff: RedeliveryBackoff,
  random: () => number = Math.random,
): number {
  const ceiling = ceilingS(receiveCount, backoff);
  return Math.max(1, Math.ceil(ceiling * (1 - jitterFraction * random())));
}

/**
 * The shortest and longest time a message that fails every delivery spends waiting before SQS
 * moves it to the dead-letter queue: the sum of the waits after each of its `maxReceiveCount`
 * deliveries (processing time comes on top).
 */
export function waitBeforeDeadLetterS(
  backoff: RedeliveryBackoff,
  maxReceiveCount: number,
): { readonly leastS: number; readonly mostS: number } {
  let leastS = 0;
  let mostS = 0;
  for (let receiveCount = 1; receiveCount <= maxReceiveCount; receiveCount += 1) {
    const ceiling = ceilingS(receiveCount, backoff);
    leastS += Math.max(1, Math.ceil(ceiling * (1 - jitterFraction)));
    mostS += Math.max(1, ceiling);
  }
  return { leastS, mostS };
}
