import { describe, expect, it } from 'vitest';
import { InvocationSlots } from '../../infra/local/front-door';

describe("a function's invocation slots in the local front door", () => {
  it('grants up to the bound at once, then hands each freed slot to the longest waiting request', async () => {
    const slots = new InvocationSlots(2, 10);
    const order: string[] = [];

    expect(await slots.acquire(10_000)).toBe('acquired');
    expect(await slots.acquire(10_000)).toBe('acquired');
    const third = slots.acquire(10_000).then((outcome) => order.push(`third ${outcome}`));
    const fourth = slots.acquire(10_000).then((outcome) => order.push(`fourth ${outcome}`));
    slots.release();
    await third;
    slots.release();
    await fourth;

    expect(order).toEqual(['third acquired', 'fourth acquired']);
  });

  it('refuses a request when the bound of waiting requests is reached', async () => {
    const slots = new InvocationSlots(1, 1);
    await slots.acquire(10_000);
    const waiting = slots.acquire(10_000);

    expect(await slots.acquire(10_000)).toBe('full');
    slots.release();
    expect(await waiting).toBe('acquired');
  });

  it('gives up on a request that waited past its bound, and does not hand it a slot later', async () => {
    const slots = new InvocationSlots(1, 10);
    await slots.acquire(10_000);

    expect(await slots.acquire(20)).toBe('timeout');
    slots.release();
    // The slot it would have had is free again for the next request.
    expect(await slots.acquire(0)).toBe('acquired');
  });
});
