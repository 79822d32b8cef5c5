import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import createAccountFunction from '../../functions/create-account';
import getAccountFunction from '../../functions/get-account';
import setAccountVelocityFunction from '../../functions/set-account-velocity';
import submitTransferFunction from '../../functions/submit-transfer';
import { DynamoVelocityStore } from '../../shared/adapters/aws/velocity-store';
import { newAccountId } from '../../shared/domain/ids';
import type { VelocityLimits } from '../../shared/domain/velocity';
import { VelocityExceededError, type VelocitySlot } from '../../shared/ports/submission';
import { VelocityService } from '../../shared/services/velocity';
import type { Wiring } from '../../shared/wiring';
import { apiEvent, type ParsedResponse, parseResponse, silentLogger, testWiring } from '../support/api';
import { useTestAws } from '../support/aws';
import { useTestDatabase } from '../support/database';
import { createAccount } from '../support/factories';
import { VelocityModel } from '../support/velocity-model';

const createCreateAccount = (wiring: Wiring) => createAccountFunction.build(wiring);
const createGetAccount = (wiring: Wiring) => getAccountFunction.build(wiring);
const createSetAccountVelocity = (wiring: Wiring) => setAccountVelocityFunction.build(wiring);
const createSubmitTransfer = (wiring: Wiring) => submitTransferFunction.build(wiring);

const database = useTestDatabase();
const aws = useTestAws();

const t0 = Date.parse('2026-01-31T12:00:00.000Z');
const newKey = (): string => `key-${crypto.randomUUID()}`;

/** A clock a test moves by hand, so a window closes without waiting for it. */
function testClock(startMs = Date.now()): { now: () => Date; advance: (ms: number) => void } {
  let nowMs = startMs;
  return { now: () => new Date(nowMs), advance: (ms) => (nowMs += ms) };
}

function dependencies(velocity: VelocityLimits, now?: () => Date): Wiring {
  return testWiring(database.pool, {
    clients: aws.clients,
    resources: aws.resources,
    velocity,
    ...(now === undefined ? {} : { now }),
  });
}

function store(): DynamoVelocityStore {
  return new DynamoVelocityStore(aws.clients.dynamo, aws.resources.tableNames.velocity);
}

/** A velocity service of its own (one API instance, with its own cache). */
function velocityService(defaults: VelocityLimits, now?: () => Date): VelocityService {
  return new VelocityService({
    store: store(),
    defaults,
    logger: silentLogger,
    ...(now === undefined ? {} : { now }),
  });
}

async function submit(
  handler: ReturnType<typeof createSubmitTransfer>,
  transfer: { debit: string; credit: string; amount?: string },
  idempotencyKey: string,
): Promise<ParsedResponse> {
  return parseResponse(
    await handler(
      apiEvent({
        method: 'POST',
        resource: '/v1/transfers',
        body: {
          debit_account_id: transfer.debit,
          credit_account_id: transfer.credit,
          amount: transfer.amount ?? '100',
          currency: 'USD',
        },
        headers: { 'Idempotency-Key': idempotencyKey },
      }),
    ),
  );
}

/** The transfer ids queued in the debit account's message group (each test has its own account). */
async function queuedIds(groupId: string): Promise<string[]> {
  const ids = new Set<string>();
  for (let round = 0; round < 40; round += 1) {
    const { Messages = [] } = await aws.clients.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: aws.resources.queueUrls.transfers,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
        MessageSystemAttributeNames: ['All'],
      }),
    );
    if (Messages.length === 0) break;
    for (const message of Messages) {
      if (message.Attributes?.MessageGroupId === groupId && message.Attributes.MessageDeduplicationId) {
        ids.add(message.Attributes.MessageDeduplicationId);
      }
    }
  }
  return [...ids];
}

/** What the account's velocity item holds, read straight from the table. */
async function storedWindow(
  accountId: string,
): Promise<{ transferCount: number; amountTotal: string } | undefined> {
  const { Item } = await aws.clients.dynamo.send(
    new GetItemCommand({
      TableName: aws.resources.tableNames.velocity,
      Key: { pk: { S: `limits#${accountId}` } },
      ConsistentRead: true,
    }),
  );
  if (Item?.transfer_count?.N === undefined) return undefined;
  return {
    transferCount: Number.parseInt(Item.transfer_count.N, 10),
    amountTotal: Item.amount_total?.N ?? '',
  };
}

/** Runs `admit` for every request at once and sorts the outcomes. */
async function race(admissions: readonly (() => Promise<VelocitySlot>)[]) {
  const outcomes = await Promise.allSettled(admissions.map((admit) => admit()));
  const admitted = outcomes.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []));
  const refused = outcomes.flatMap((outcome) =>
    outcome.status === 'rejected' && outcome.reason instanceof VelocityExceededError ? [outcome.reason] : [],
  );
  const failed = outcomes.flatMap((outcome) =>
    outcome.status === 'rejected' && !(outcome.reason instanceof VelocityExceededError)
      ? [outcome.reason]
      : [],
  );
  return { admitted, refused, failed };
}

describe('atomic admission in DynamoDB', () => {
  it('admits exactly K of 1,000 concurrent transfers of one account, and refuses the rest with the window end', async () => {
    const service = velocityService({ windowS: 60, transferCountMax: 10, amountMax: undefined });
    const debitAccountId = newAccountId();

    const { admitted, refused, failed } = await race(
      Array.from({ length: 1_000 }, () => () => service.admit({ debitAccountId, amount: 1n })),
    );

    expect(failed).toEqual([]);
    expect(admitted).toHaveLength(10);
    expect(refused).toHaveLength(990);
    for (const refusal of refused) {
      expect(refusal.limit).toBe('transfer_count');
      expect(refusal.retryAfterS).toBeGreaterThanOrEqual(1);
      expect(refusal.retryAfterS).toBeLessThanOrEqual(60);
    }
    expect(new Set(admitted.map((slot) => slot.windowStartMs)).size).toBe(1);
    expect(await storedWindow(debitAccountId)).toEqual({ transferCount: 10, amountTotal: '10' });
  });

  it('admits exactly K when many instances with cold caches race on one account', async () => {
    const instances = Array.from({ length: 20 }, () =>
      velocityService({ windowS: 60, transferCountMax: 7, amountMax: undefined }),
    );
    const debitAccountId = newAccountId();

    const { admitted, refused, failed } = await race(
      instances.flatMap((service) =>
        Array.from({ length: 5 }, () => () => service.admit({ debitAccountId, amount: 1n })),
      ),
    );

    expect(failed).toEqual([]);
    expect(admitted).toHaveLength(7);
    expect(refused).toHaveLength(93);
  });

  it('admits exactly as much money as the amount limit allows under concurrency, counting amounts above 2^53 exactly', async () => {
    const large = 2n ** 62n;
    const service = velocityService({ windowS: 60, transferCountMax: 100, amountMax: 3n * large + 5n });
    const debitAccountId = newAccountId();

    const { admitted, refused, failed } = await race(
      Array.from({ length: 12 }, () => () => service.admit({ debitAccountId, amount: large })),
    );

    expect(failed).toEqual([]);
    expect(admitted).toHaveLength(3);
    expect(refused.map((refusal) => refusal.limit)).toEqual(Array.from({ length: 9 }, () => 'amount'));
    expect(await storedWindow(debitAccountId)).toEqual({
      transferCount: 3,
      amountTotal: (3n * large).toString(),
    });
  });

  it('refuses until the window ends, and opens a new one then (an injected clock, no waiting)', async () => {
    const clock = testClock(t0);
    const service = velocityService({ windowS: 60, transferCountMax: 2, amountMax: undefined }, clock.now);
    const debitAccountId = newAccountId();

    const first = await service.admit({ debitAccountId, amount: 1n });
    clock.advance(10_000);
    await service.admit({ debitAccountId, amount: 1n });
    clock.advance(15_500);
    const refusal = await service.admit({ debitAccountId, amount: 1n }).catch((error: unknown) => error);
    clock.advance(34_500);
    const next = await service.admit({ debitAccountId, amount: 1n });

    expect(first.windowStartMs).toBe(t0);
    expect(refusal).toBeInstanceOf(VelocityExceededError);
    // The window opened at t0 and ends at t0 + 60 s; it was refused at t0 + 25.5 s.
    expect((refusal as VelocityExceededError).retryAfterS).toBe(35);
    expect(next.windowStartMs).toBe(t0 + 60_000);
    expect(await storedWindow(debitAccountId)).toEqual({ transferCount: 1, amountTotal: '1' });
  });

  it('takes limits changed mid-window at once, even from an instance whose cache still holds the old ones', async () => {
    const service = velocityService({ windowS: 60, transferCountMax: 5, amountMax: undefined });
    const debitAccountId = newAccountId();
    await service.admit({ debitAccountId, amount: 1n });

    await store().putOverrides(debitAccountId, { windowS: null, transferCountMax: 2, amountMax: null }, 1n);
    const second = await race([() => service.admit({ debitAccountId, amount: 1n })]);
    const third = await race([() => service.admit({ debitAccountId, amount: 1n })]);
    await store().putOverrides(debitAccountId, { windowS: null, transferCountMax: 3, amountMax: null }, 2n);
    const fourth = await race([() => service.admit({ debitAccountId, amount: 1n })]);
    const fifth = await race([() => service.admit({ debitAccountId, amount: 1n })]);

    expect(second.admitted).toHaveLength(1);
    expect(third.refused.map((refusal) => refusal.limits.transferCountMax)).toEqual([2]);
    expect(fourth.admitted).toHaveLength(1);
    expect(fifth.refused.map((refusal) => refusal.limits.transferCountMax)).toEqual([3]);
    expect(await storedWindow(debitAccountId)).toEqual({ transferCount: 3, amountTotal: '3' });
  });

  it('admits exactly the new limit when the limits change while requests race', async () => {
    const instances = Array.from({ length: 5 }, () =>
      velocityService({ windowS: 60, transferCountMax: 50, amountMax: undefined }),
    );
    const debitAccountId = newAccountId();
    // Every instance has seen the account with no limits of its own.
    for (const service of instances) await service.admit({ debitAccountId, amount: 1n });
    await store().putOverrides(debitAccountId, { windowS: null, transferCountMax: 12, amountMax: null }, 1n);

    const { admitted, refused, failed } = await race(
      instances.flatMap((service) =>
        Array.from({ length: 10 }, () => () => service.admit({ debitAccountId, amount: 1n })),
      ),
    );

    expect(failed).toEqual([]);
    expect(admitted).toHaveLength(7);
    expect(refused).toHaveLength(43);
    expect(await storedWindow(debitAccountId)).toEqual({ transferCount: 12, amountTotal: '12' });
  });

  it('gives a slot back to the window it was counted in, and never to a later one', async () => {
    const clock = testClock(t0);
    const service = velocityService({ windowS: 60, transferCountMax: 1, amountMax: undefined }, clock.now);
    const debitAccountId = newAccountId();

    const slot = await service.admit({ debitAccountId, amount: 5n });
    await service.release(slot);
    const again = await service.admit({ debitAccountId, amount: 5n });
    clock.advance(60_000);
    const nextWindow = await service.admit({ debitAccountId, amount: 7n });
    await service.release(again);

    expect(again.windowStartMs).toBe(slot.windowStartMs);
    expect(nextWindow.windowStartMs).toBe(t0 + 60_000);
    expect(await storedWindow(debitAccountId)).toEqual({ transferCount: 1, amountTotal: '7' });
  });

  it('agrees with the reference model on random admissions, releases and time (fixed seed)', async () => {
    const operation = fc.oneof(
      fc.record({
        kind: fc.constant('admit' as const),
        gapMs: fc.integer({ min: 0, max: 2_500 }),
        amount: fc.bigInt({ min: 1n, max: 40n }),
      }),
      fc.record({ kind: fc.constant('release' as const), back: fc.integer({ min: 0, max: 3 }) }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(operation, { minLength: 1, maxLength: 15 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 5 }),
        async (operations, transferCountMax, windowS) => {
          const limits: VelocityLimits = { windowS, transferCountMax, amountMax: 100n };
          const clock = testClock(t0);
          const service = velocityService(limits, clock.now);
          const model = new VelocityModel(limits);
          const debitAccountId = newAccountId();
          const slots: VelocitySlot[] = [];
          for (const step of operations) {
            if (step.kind === 'release') {
              // A slot is given back at most once, as the submission does.
              const slot = slots[slots.length - 1 - step.back];
              const modelSlot = model.slots[model.slots.length - 1 - step.back];
              if (slot === undefined || modelSlot === undefined || modelSlot.released) continue;
              await service.release(slot);
              model.release(modelSlot);
              modelSlot.released = true;
              continue;
            }
            clock.advance(step.gapMs);
            const expected = model.admit(step.amount, clock.now().getTime());
            const actual = await service
              .admit({ debitAccountId, amount: step.amount })
              .catch((error: unknown) => error);
            if (expected.kind === 'exceeded') {
              expect(actual).toBeInstanceOf(VelocityExceededError);
              expect(actual).toMatchObject({ limit: expected.limit, retryAfterS: expected.retryAfterS });
            } else {
              expect(actual).toMatchObject({ windowStartMs: expected.slot?.windowStartMs });
              slots.push(actual as VelocitySlot);
            }
          }
          const stored = await storedWindow(debitAccountId);
          expect(stored?.transferCount).toBe(model.window?.transferCount);
          expect(stored?.amountTotal).toBe(model.window?.amountTotal.toString());
        },
      ),
      { seed: 20_260_131, numRuns: 25 },
    );
  });

  it("keeps the newest copy of an account's limits when an older one arrives late", async () => {
    const accountId = newAccountId();
    await store().putOverrides(accountId, { windowS: 10, transferCountMax: 2, amountMax: 5n }, 2n);
    await store().putOverrides(accountId, { windowS: 99, transferCountMax: 99, amountMax: null }, 1n);
    const service = velocityService({ windowS: 60, transferCountMax: 100, amountMax: undefined });

    const { admitted, refused } = await race(
      Array.from({ length: 3 }, () => () => service.admit({ debitAccountId: accountId, amount: 1n })),
    );

    expect(admitted).toHaveLength(2);
    expect(refused[0]?.limits).toEqual({ windowS: 10, transferCountMax: 2, amountMax: 5n });
  });
});

describe('admitting several transfers of one account at once (batches)', () => {
  it('admits, in order, as many as the window holds with one write, and refuses the rest with the window end', async () => {
    const clock = testClock(t0);
    const service = velocityService({ windowS: 60, transferCountMax: 3, amountMax: undefined }, clock.now);
    const debitAccountId = newAccountId();
    await service.admit({ debitAccountId, amount: 1n });

    const several = await service.admitSeveral(debitAccountId, [10n, 20n, 30n, 40n]);

    expect(several.decisions).toEqual([
      { kind: 'admitted' },
      { kind: 'admitted' },
      { kind: 'exceeded', limit: 'transfer_count', retryAfterS: 60 },
      { kind: 'exceeded', limit: 'transfer_count', retryAfterS: 60 },
    ]);
    expect(several.slot).toMatchObject({ windowStartMs: t0, transferCount: 2, amount: 30n });
    expect(await storedWindow(debitAccountId)).toEqual({ transferCount: 3, amountTotal: '31' });
  });

  it('checks a refusal its cache guessed with a read, and admits what a given-back slot made room for', async () => {
    const clock = testClock(t0);
    const limits: VelocityLimits = { windowS: 60, transferCountMax: 2, amountMax: undefined };
    const cached = velocityService(limits, clock.now);
    const other = velocityService(limits, clock.now);
    const debitAccountId = newAccountId();
    await cached.admitSeveral(debitAccountId, [1n]);
    const slot = await other.admit({ debitAccountId, amount: 1n });
    // Full by `cached`'s last sight of it (one counted by it, one by `other` unseen); then freed.
    await cached.admitSeveral(debitAccountId, [1n]);
    await other.release(slot);

    const several = await cached.admitSeveral(debitAccountId, [5n, 6n]);

    expect(several.decisions).toEqual([
      { kind: 'admitted' },
      { kind: 'exceeded', limit: 'transfer_count', retryAfterS: 60 },
    ]);
    expect(await storedWindow(debitAccountId)).toEqual({ transferCount: 2, amountTotal: '6' });
  });

  it('never admits past the limits when batches and single transfers of one account race', async () => {
    const limits: VelocityLimits = { windowS: 60, transferCountMax: 25, amountMax: 1_000n };
    const instances = Array.from({ length: 4 }, () => velocityService(limits));
    const debitAccountId = newAccountId();

    const outcomes = await Promise.allSettled(
      Array.from({ length: 40 }, (_, index) => {
        const service = instances[index % instances.length] ?? velocityService(limits);
        return index % 2 === 0
          ? service.admitSeveral(debitAccountId, [30n, 5n, 70n]).then((several) => several.slot?.amount ?? 0n)
          : service.admit({ debitAccountId, amount: 20n }).then((slot) => slot.amount);
      }),
    );
    const admittedAmount = outcomes.reduce(
      (sum, outcome) => sum + (outcome.status === 'fulfilled' ? outcome.value : 0n),
      0n,
    );
    const failures = outcomes.filter(
      (outcome) => outcome.status === 'rejected' && !(outcome.reason instanceof VelocityExceededError),
    );

    expect(failures).toEqual([]);
    const stored = await storedWindow(debitAccountId);
    expect(stored?.transferCount).toBeLessThanOrEqual(25);
    expect(BigInt(stored?.amountTotal ?? '')).toBe(admittedAmount);
    expect(admittedAmount).toBeLessThanOrEqual(1_000n);
  });

  it('gives the slot of several back to their window', async () => {
    const clock = testClock(t0);
    const service = velocityService({ windowS: 60, transferCountMax: 5, amountMax: undefined }, clock.now);
    const debitAccountId = newAccountId();
    await service.admit({ debitAccountId, amount: 1n });
    const several = await service.admitSeveral(debitAccountId, [2n, 3n, 4n]);

    if (several.slot === undefined) throw new Error('test: the transfers were admitted');
    await service.releaseSeveral(several.slot);

    expect(await storedWindow(debitAccountId)).toEqual({ transferCount: 1, amountTotal: '1' });
  });
});

describe('POST /v1/transfers over the velocity limit', () => {
  it('answers 429 velocity_exceeded with Retry-After at the window end, queues nothing, and frees the key until then', async () => {
    const clock = testClock();
    const handler = createSubmitTransfer(
      dependencies({ windowS: 30, transferCountMax: 2, amountMax: undefined }, clock.now),
    );
    const debit = await createAccount(database.pool);
    const credit = await createAccount(database.pool);
    const acceptedKeys = [newKey(), newKey()];
    const accepted: ParsedResponse[] = [];
    for (const key of acceptedKeys) accepted.push(await submit(handler, { debit, credit }, key));
    clock.advance(12_300);
    const refusedKey = newKey();

    const refused = await submit(handler, { debit, credit }, refusedKey);
    const replay = await submit(handler, { debit, credit }, acceptedKeys[0] ?? '');

    expect(accepted.map((response) => response.status)).toEqual([202, 202]);
    expect(refused.status).toBe(429);
    expect(refused.headers['content-type']).toBe('application/problem+json');
    expect(refused.body).toMatchObject({
      type: 'https://ledgerx.dev/problems/velocity_exceeded',
      title: expect.stringContaining('velocity_exceeded'),
      status: 429,
      field: 'debit_account_id',
    });
    expect(refused.headers['retry-after']).toBe('18');
    // The replay is answered from the idempotency record: same transfer, not counted again.
    expect(replay.status).toBe(202);
    expect(replay.body.id).toBe(accepted[0]?.body.id);
    expect(await storedWindow(debit)).toEqual({ transferCount: 2, amountTotal: '200' });
    expect((await queuedIds(debit)).sort()).toEqual(
      accepted.map((response) => String(response.body.id)).sort(),
    );

    clock.advance(18_000);
    const later = await submit(handler, { debit, credit }, refusedKey);

    expect(later.status).toBe(202);
    expect(await storedWindow(debit)).toEqual({ transferCount: 1, amountTotal: '100' });
  });

  it('answers each of 100 racing requests of one account 202 or 429, exactly K of them 202, and queues exactly those', async () => {
    const handler = createSubmitTransfer(
      dependencies({ windowS: 60, transferCountMax: 10, amountMax: undefined }),
    );
    const debit = await createAccount(database.pool);
    const credit = await createAccount(database.pool);

    const responses = await Promise.all(
      Array.from({ length: 100 }, () => submit(handler, { debit, credit, amount: '3' }, newKey())),
    );

    const statuses = responses.map((response) => response.status);
    expect(statuses.filter((status) => status !== 202 && status !== 429)).toEqual([]);
    const accepted = responses.filter((response) => response.status === 202);
    expect(accepted).toHaveLength(10);
    for (const response of responses.filter((each) => each.status === 429)) {
      expect(Number(response.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(Number(response.headers['retry-after'])).toBeLessThanOrEqual(60);
    }
    expect((await queuedIds(debit)).sort()).toEqual(
      accepted.map((response) => String(response.body.id)).sort(),
    );
    expect(await storedWindow(debit)).toEqual({ transferCount: 10, amountTotal: '30' });
  });

  it('admits exactly the amount limit of 30 racing requests through the handler, and refuses the rest on the amount', async () => {
    const handler = createSubmitTransfer(
      dependencies({ windowS: 60, transferCountMax: 100, amountMax: 1_000n }),
    );
    const debit = await createAccount(database.pool);
    const credit = await createAccount(database.pool);

    const responses = await Promise.all(
      Array.from({ length: 30 }, () => submit(handler, { debit, credit, amount: '100' }, newKey())),
    );

    expect(responses.filter((response) => response.status !== 202 && response.status !== 429)).toEqual([]);
    expect(responses.filter((response) => response.status === 202)).toHaveLength(10);
    for (const refused of responses.filter((response) => response.status === 429)) {
      expect(refused.body.detail).toMatch(/at most 1000 minor units within 60 s/);
    }
    expect(await storedWindow(debit)).toEqual({ transferCount: 10, amountTotal: '1000' });
  });

  it('answers 429 without Retry-After when the amount alone is over the limit', async () => {
    const handler = createSubmitTransfer(
      dependencies({ windowS: 60, transferCountMax: 10, amountMax: 500n }),
    );
    const debit = await createAccount(database.pool);
    const credit = await createAccount(database.pool);

    const refused = await submit(handler, { debit, credit, amount: '501' }, newKey());

    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBeUndefined();
    expect(refused.body.detail).toMatch(/at most 500 minor units within 60 s/);
  });

  it('answers 503 problem+json, not 429, when the window cannot be written', async () => {
    const handler = createSubmitTransfer(
      testWiring(database.pool, {
        clients: aws.clients,
        velocity: { windowS: 60, transferCountMax: 10, amountMax: undefined },
        // A table that does not exist: every write of the window fails.
        resources: {
          ...aws.resources,
          tableNames: { ...aws.resources.tableNames, velocity: `${aws.namePrefix}no-such-table` },
        },
      }),
    );
    const debit = await createAccount(database.pool);

    const response = await submit(handler, { debit, credit: newAccountId() }, newKey());

    expect(response.status).toBe(503);
    expect(response.headers['content-type']).toBe('application/problem+json');
    expect(response.body.type).toBe('https://ledgerx.dev/problems/service-unavailable');
  });
});

describe("an account's own velocity limits", () => {
  async function openAccount(body: Record<string, unknown>, deps: Wiring): Promise<ParsedResponse> {
    return parseResponse(
      await createCreateAccount(deps)(apiEvent({ method: 'POST', resource: '/v1/accounts', body })),
    );
  }

  async function setVelocity(id: string, body: unknown): Promise<ParsedResponse> {
    const handler = createSetAccountVelocity(
      dependencies({ windowS: 60, transferCountMax: 100, amountMax: undefined }),
    );
    return parseResponse(
      await handler(
        apiEvent({
          method: 'PUT',
          resource: '/v1/accounts/{id}/velocity',
          pathParameters: { id },
          body,
        }),
      ),
    );
  }

  it('are taken at opening, shown by GET, and applied to the account instead of the defaults', async () => {
    const deps = dependencies({ windowS: 60, transferCountMax: 100, amountMax: undefined });
    const opened = await openAccount(
      { currency: 'USD', velocity: { window_s: 30, max_transfers: 1, max_amount: '100000' } },
      deps,
    );
    const debit = String(opened.body.id);
    const credit = await createAccount(database.pool);
    const handler = createSubmitTransfer(deps);

    const read = parseResponse(
      await createGetAccount(deps)(
        apiEvent({ method: 'GET', resource: '/v1/accounts/{id}', pathParameters: { id: debit } }),
      ),
    );
    const first = await submit(handler, { debit, credit }, newKey());
    const second = await submit(handler, { debit, credit }, newKey());

    expect(opened.status).toBe(201);
    expect(read.body.velocity).toEqual({ window_s: 30, max_transfers: 1, max_amount: '100000' });
    expect(first.status).toBe(202);
    expect(second.status).toBe(429);
    expect(second.body.detail).toMatch(/at most 1 transfers within 30 s/);
  });

  it('are changed by PUT /v1/accounts/{id}/velocity and apply at once; null takes the default again', async () => {
    const deps = dependencies({ windowS: 60, transferCountMax: 2, amountMax: undefined });
    const debit = await createAccount(database.pool);
    const credit = await createAccount(database.pool);
    const handler = createSubmitTransfer(deps);

    const stricter = await setVelocity(debit, { max_transfers: 1 });
    const first = await submit(handler, { debit, credit }, newKey());
    const refused = await submit(handler, { debit, credit }, newKey());
    const looser = await setVelocity(debit, { window_s: 120, max_transfers: 3, max_amount: null });
    const second = await submit(handler, { debit, credit }, newKey());
    const backToDefault = await setVelocity(debit, {});
    const third = await submit(handler, { debit, credit }, newKey());

    expect(stricter.status).toBe(200);
    expect(stricter.body.velocity).toEqual({ window_s: null, max_transfers: 1, max_amount: null });
    expect([first.status, refused.status, second.status]).toEqual([202, 429, 202]);
    expect(looser.body.velocity).toEqual({ window_s: 120, max_transfers: 3, max_amount: null });
    expect(backToDefault.body.velocity).toEqual({ window_s: null, max_transfers: null, max_amount: null });
    // The default is 2 per window, and the window holds 2 already.
    expect(third.status).toBe(429);
    const { rows } = await database.pool.query<{ velocity_version: string }>(
      'select velocity_version from ledger.accounts where id = $1',
      [debit],
    );
    expect(rows[0]?.velocity_version).toBe('3');
  });

  it('answers 404 for an unknown account and 400 naming a bad field', async () => {
    const unknown = await setVelocity(newAccountId(), { max_transfers: 1 });
    const tooMany = await setVelocity(await createAccount(database.pool), { max_transfers: 1001 });
    const badAmount = await setVelocity(await createAccount(database.pool), { max_amount: 5 });
    const unknownField = await setVelocity(await createAccount(database.pool), { max_transfer: 5 });

    expect(unknown.status).toBe(404);
    expect([tooMany.status, tooMany.body.field]).toEqual([400, 'max_transfers']);
    expect([badAmount.status, badAmount.body.field]).toEqual([400, 'max_amount']);
    expect(unknownField.status).toBe(400);
  });

  it('are not stored at all when their copy cannot be written: no account is opened', async () => {
    const unreachable = testWiring(database.pool, { resources: aws.resources });
    const before = await database.pool.query('select count(*)::int as n from ledger.accounts');

    const response = await openAccount({ currency: 'USD', velocity: { max_transfers: 1 } }, unreachable);

    expect(response.status).toBe(503);
    const after = await database.pool.query('select count(*)::int as n from ledger.accounts');
    expect(after.rows[0].n).toBe(before.rows[0].n);
  });

  it('keep the account and its old limits when a change cannot reach the copy', async () => {
    const debit = await createAccount(database.pool);
    const unreachable = testWiring(database.pool, { resources: aws.resources });
    const handler = createSetAccountVelocity(unreachable);

    const response = parseResponse(
      await handler(
        apiEvent({
          method: 'PUT',
          resource: '/v1/accounts/{id}/velocity',
          pathParameters: { id: debit },
          body: { max_transfers: 1 },
        }),
      ),
    );

    expect(response.status).toBe(503);
    const { rows } = await database.pool.query(
      'select velocity_max_transfers, velocity_version from ledger.accounts where id = $1',
      [debit],
    );
    expect(rows[0]).toEqual({ velocity_max_transfers: null, velocity_version: '0' });
  });

  it('opens an account without limits of its own without touching DynamoDB', async () => {
    const unreachable = testWiring(database.pool);

    const response = await openAccount({ currency: 'USD', velocity: {} }, unreachable);

    expect(response.status).toBe(201);
  });
});
