import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import createAccountFunction from '../../functions/create-account';
import getAccountFunction from '../../functions/get-account';
import setAccountVelocityFunction from '../../functions/set-account-velocity';
import submitTransferFunction from '../../functions/submit-transfer';
import { DynamoVelocityStore } from '../../shared/adapters/aws/velocity-store';
import { newAccountId, newTransferId } from '../../shared/domain/ids';
import type { VelocityLimits } from '../../shared/domain/velocity';
import { toProblemError } from '../../shared/handlers/http';
import {
  VelocityContentionError,
  VelocityExceededError,
  VelocityService,
  type VelocityStore,
} from '../../shared/services/velocity';
import type { Wiring } from '../../shared/wiring';
import { apiEvent, type ParsedResponse, parseResponse, silentLogger, testWiring } from '../support/api';
import { useTestAws } from '../support/aws';
import { useTestDatabase } from '../support/database';
import { createAccount } from '../support/factories';

const createCreateAccount = (wiring: Wiring) => createAccountFunction.build(wiring);
const createGetAccount = (wiring: Wiring) => getAccountFunction.build(wiring);
const createSetAccountVelocity = (wiring: Wiring) => setAccountVelocityFunction.build(wiring);
const createSubmitTransfer = (wiring: Wiring) => submitTransferFunction.build(wiring);

const database = useTestDatabase();
const aws = useTestAws();

function dependencies(velocity: VelocityLimits): Wiring {
  return testWiring(database.pool, { clients: aws.clients, resources: aws.resources, velocity });
}

function velocityService(
  defaults: VelocityLimits,
  store: VelocityStore = new DynamoVelocityStore(aws.clients.dynamo, aws.resources.tableNames.velocity),
  retryCountMax?: number,
): VelocityService {
  return new VelocityService({
    store,
    defaults,
    logger: silentLogger,
    ...(retryCountMax === undefined ? {} : { retryCountMax }),
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
  const ids: string[] = [];
  for (let round = 0; round < 10; round += 1) {
    const { Messages = [] } = await aws.clients.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: aws.resources.queueUrls.transfers,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
        VisibilityTimeout: 0,
        MessageSystemAttributeNames: ['All'],
      }),
    );
    if (Messages.length === 0) break;
    for (const message of Messages) {
      if (message.Attributes?.MessageGroupId === groupId && message.Attributes.MessageDeduplicationId) {
        ids.push(message.Attributes.MessageDeduplicationId);
      }
    }
    // FIFO: a group's messages come one batch at a time; they stay visible for the next test's read.
    if (ids.length > 0) break;
  }
  return [...new Set(ids)];
}

async function windowEntryCount(accountId: string): Promise<number> {
  const { Item } = await aws.clients.dynamo.send(
    new GetItemCommand({
      TableName: aws.resources.tableNames.velocity,
      Key: { pk: { S: `window#${accountId}` } },
      ConsistentRead: true,
    }),
  );
  return Item?.entries?.L?.length ?? 0;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const newKey = (): string => `key-${crypto.randomUUID()}`;

describe('the velocity window in DynamoDB', () => {
  it('admits exactly L of N concurrent transfers from one account', async () => {
    const service = velocityService({ windowS: 60, transferCountMax: 5, amountMax: undefined });
    const debitAccountId = newAccountId();

    const outcomes = await Promise.allSettled(
      Array.from({ length: 20 }, () =>
        service.admit({ transferId: newTransferId(), debitAccountId, amount: 1n }),
      ),
    );

    expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(5);
    const refusals = outcomes.flatMap((outcome) => (outcome.status === 'rejected' ? [outcome.reason] : []));
    expect(refusals).toHaveLength(15);
    for (const refusal of refusals) expect(refusal).toBeInstanceOf(VelocityExceededError);
    expect(await windowEntryCount(debitAccountId)).toBe(5);
  });

  it('admits exactly as much money as the amount limit allows under concurrency', async () => {
    const service = velocityService({ windowS: 60, transferCountMax: 100, amountMax: 1000n });
    const debitAccountId = newAccountId();

    const outcomes = await Promise.allSettled(
      Array.from({ length: 12 }, () =>
        service.admit({ transferId: newTransferId(), debitAccountId, amount: 300n }),
      ),
    );

    expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(3);
    expect(await windowEntryCount(debitAccountId)).toBe(3);
  });

  it('counts one transfer id once, however often it is admitted', async () => {
    const service = velocityService({ windowS: 60, transferCountMax: 2, amountMax: undefined });
    const debitAccountId = newAccountId();
    const transferId = newTransferId();

    await Promise.all([1, 2, 3].map(() => service.admit({ transferId, debitAccountId, amount: 1n })));
    await service.admit({ transferId: newTransferId(), debitAccountId, amount: 1n });

    expect(await windowEntryCount(debitAccountId)).toBe(2);
  });

  it('gives up with a transient error after its retry bound when every write loses', async () => {
    const real = new DynamoVelocityStore(aws.clients.dynamo, aws.resources.tableNames.velocity);
    let writes = 0;
    const alwaysLosing: VelocityStore = {
      read: (accountId) => real.read(accountId),
      write: async () => {
        writes += 1;
        return 'conflict';
      },
      putOverrides: (accountId, overrides, version) => real.putOverrides(accountId, overrides, version),
    };
    const service = velocityService(
      { windowS: 60, transferCountMax: 5, amountMax: undefined },
      alwaysLosing,
      3,
    );

    await expect(
      service.admit({ transferId: newTransferId(), debitAccountId: newAccountId(), amount: 1n }),
    ).rejects.toBeInstanceOf(VelocityContentionError);
    expect(writes).toBe(4);
    // Transient: the API answers it 503 (retry the same request), never 429.
    expect(toProblemError(new VelocityContentionError()).status).toBe(503);
  });

  it("keeps the newest copy of an account's limits when an older one arrives late", async () => {
    const store = new DynamoVelocityStore(aws.clients.dynamo, aws.resources.tableNames.velocity);
    const accountId = newAccountId();

    await store.putOverrides(accountId, { windowS: 10, transferCountMax: 2, amountMax: 5n }, 2n);
    await store.putOverrides(accountId, { windowS: 99, transferCountMax: 99, amountMax: null }, 1n);

    expect((await store.read(accountId)).overrides).toEqual({
      windowS: 10,
      transferCountMax: 2,
      amountMax: 5n,
    });
  });
});

describe('POST /v1/transfers over the velocity limit', () => {
  it('answers 429 velocity_exceeded with Retry-After, queues nothing, and frees the key until the window admits it', async () => {
    const handler = createSubmitTransfer(
      dependencies({ windowS: 3, transferCountMax: 2, amountMax: undefined }),
    );
    const debit = await createAccount(database.pool);
    const credit = await createAccount(database.pool);
    const acceptedKeys = [newKey(), newKey()];
    const accepted = [];
    for (const key of acceptedKeys) accepted.push(await submit(handler, { debit, credit }, key));
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
    const retryAfterS = Number(refused.headers['retry-after']);
    expect(retryAfterS).toBeGreaterThanOrEqual(1);
    expect(retryAfterS).toBeLessThanOrEqual(3);
    // The replay is answered from the idempotency record: same transfer, not counted again.
    expect(replay.status).toBe(202);
    expect(replay.body.id).toBe(accepted[0]?.body.id);
    expect(await windowEntryCount(debit)).toBe(2);
    expect((await queuedIds(debit)).sort()).toEqual(
      accepted.map((response) => String(response.body.id)).sort(),
    );

    await sleep(retryAfterS * 1000 + 100);
    const later = await submit(handler, { debit, credit }, refusedKey);

    expect(later.status).toBe(202);
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

  it('answers 503 problem+json, not 429, when the window cannot be read', async () => {
    const handler = createSubmitTransfer(
      testWiring(database.pool, {
        clients: aws.clients,
        velocity: { windowS: 60, transferCountMax: 10, amountMax: undefined },
        // A table that does not exist: every read of the window fails.
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
