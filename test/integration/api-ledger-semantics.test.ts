/**
 * Two-phase transfers, reversals, balances and account states through the API's own handlers, the
 * real queue and the real engine: each request goes through its handler (idempotency, the FIFO
 * queue), the test takes the queued messages of the message group and posts them as the consumer
 * would, then reads the result back through GET.
 */
import { DeleteMessageCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import closeAccountFunction from '../../functions/close-account';
import expirePendingTransfersFunction from '../../functions/expire-pending-transfers';
import freezeAccountFunction from '../../functions/freeze-account';
import getAccountFunction from '../../functions/get-account';
import getTransferFunction from '../../functions/get-transfer';
import postPendingTransferFunction from '../../functions/post-pending-transfer';
import reverseTransferFunction from '../../functions/reverse-transfer';
import submitTransferFunction from '../../functions/submit-transfer';
import unfreezeAccountFunction from '../../functions/unfreeze-account';
import voidPendingTransferFunction from '../../functions/void-pending-transfer';
import { PostgresLedgerStore } from '../../shared/adapters/postgres/ledger-store';
import { accountResponseSchema, transferResponseSchema } from '../../shared/api/schemas';
import type { AccountId } from '../../shared/domain/ids';
import type { TransferResult } from '../../shared/domain/results';
import { type LedgerCommand, parseLedgerMessage } from '../../shared/domain/transfer';
import type { Wiring } from '../../shared/wiring';
import { apiEvent, type ParsedResponse, parseResponse, testWiring } from '../support/api';
import { useTestAws } from '../support/aws';
import { useTestDatabase } from '../support/database';
import { createAccount, fund } from '../support/factories';

const database = useTestDatabase();
const aws = useTestAws();

function wiring(now?: () => Date): Wiring {
  return testWiring(database.pool, {
    clients: aws.clients,
    resources: aws.resources,
    ...(now === undefined ? {} : { now }),
  });
}

const newKey = (): string => `key-${crypto.randomUUID()}`;

type Route =
  | typeof submitTransferFunction
  | typeof postPendingTransferFunction
  | typeof voidPendingTransferFunction
  | typeof reverseTransferFunction
  | typeof getTransferFunction
  | typeof getAccountFunction
  | typeof freezeAccountFunction
  | typeof unfreezeAccountFunction
  | typeof closeAccountFunction;

async function call(
  route: Route,
  request: {
    readonly method: 'GET' | 'POST';
    readonly resource: string;
    readonly id?: string;
    readonly body?: unknown;
    readonly key?: boolean;
  },
): Promise<ParsedResponse> {
  const handler = route.build(wiring());
  return parseResponse(
    await handler(
      apiEvent({
        method: request.method,
        resource: request.resource,
        ...(request.id === undefined ? {} : { pathParameters: { id: request.id } }),
        ...(request.body === undefined ? {} : { body: request.body }),
        headers: request.key === false ? {} : { 'Idempotency-Key': newKey() },
      }),
    ),
  );
}

async function submitTransfer(body: Record<string, unknown>): Promise<string> {
  const response = await call(submitTransferFunction, { method: 'POST', resource: '/v1/transfers', body });
  if (response.status !== 202) throw new Error(`test: submit answered ${response.status}`);
  return String(response.body.id);
}

const referringRoutes = {
  post: postPendingTransferFunction,
  void: voidPendingTransferFunction,
  reverse: reverseTransferFunction,
} as const;

async function refer(
  action: keyof typeof referringRoutes,
  id: string,
  body?: Record<string, unknown>,
): Promise<ParsedResponse> {
  return call(referringRoutes[action], {
    method: 'POST',
    resource: `/v1/transfers/{id}/${action}`,
    id,
    ...(body === undefined ? {} : { body }),
  });
}

async function getTransfer(id: string) {
  const response = await call(getTransferFunction, {
    method: 'GET',
    resource: '/v1/transfers/{id}',
    id,
    key: false,
  });
  expect(response.status).toBe(200);
  return transferResponseSchema.parse(response.body);
}

async function getAccount(id: string) {
  const response = await call(getAccountFunction, {
    method: 'GET',
    resource: '/v1/accounts/{id}',
    id,
    key: false,
  });
  expect(response.status).toBe(200);
  return accountResponseSchema.parse(response.body);
}

/**
 * Takes every visible message off the transfers queue (each test's accounts are its own, so the
 * messages are its own) and posts them in one batch, as the consumer would, with the given clock.
 */
async function consume(receivedAt: Date = new Date()): Promise<Map<string, TransferResult>> {
  const commands: LedgerCommand[] = [];
  for (let round = 0; round < 20; round += 1) {
    const { Messages = [] } = await aws.clients.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: aws.resources.queueUrls.transfers,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
      }),
    );
    if (Messages.length === 0) break;
    for (const message of Messages) {
      await aws.clients.sqs.send(
        new DeleteMessageCommand({
          QueueUrl: aws.resources.queueUrls.transfers,
          ReceiptHandle: message.ReceiptHandle,
        }),
      );
      const parsed = parseLedgerMessage(message.Body ?? '');
      if (!parsed.ok) throw new Error(`test: a queued message does not parse: ${parsed.reason}`);
      commands.push(parsed.value);
    }
  }
  const { results } = await new PostgresLedgerStore(database.pool).postBatch(commands, [], receivedAt);
  return new Map(commands.map((command, index) => [command.id, results[index] as TransferResult]));
}

async function fundedPair(amount = 1_000n): Promise<{ debit: AccountId; credit: AccountId }> {
  const debit = await createAccount(database.pool, { debitsMustNotExceedCredits: true });
  const credit = await createAccount(database.pool);
  await fund(database.pool, debit, amount);
  return { debit, credit };
}

function transferBody(debit: string, credit: string, overrides: Record<string, unknown> = {}) {
  return { debit_account_id: debit, credit_account_id: credit, amount: '400', currency: 'USD', ...overrides };
}

describe('a card authorisation: a pending transfer, then its partial post', () => {
  it('holds the amount, posts part of it and releases the rest, and each transfer names the other', async () => {
    const { debit, credit } = await fundedPair();
    const pendingId = await submitTransfer(transferBody(debit, credit, { pending: true, timeout_s: 3600 }));
    expect(await consume()).toEqual(new Map([[pendingId, 'pending']]));

    const held = await getAccount(debit);
    expect([held.debits_pending, held.balance]).toEqual([
      '400',
      { posted: '1000', pending: '-400', available: '600' },
    ]);
    expect(await getTransfer(pendingId)).toMatchObject({
      kind: 'pending',
      status: 'pending',
      timeout_s: 3600,
    });

    const accepted = await refer('post', pendingId, { amount: '250' });
    expect(accepted.status).toBe(202);
    expect(accepted.body).toMatchObject({
      kind: 'post_pending',
      status: 'queued',
      pending_id: pendingId,
      debit_account_id: debit,
      credit_account_id: credit,
      amount: '250',
    });
    const postId = String(accepted.body.id);
    expect(await consume()).toEqual(new Map([[postId, 'posted']]));

    const pending = await getTransfer(pendingId);
    expect(pending).toMatchObject({
      status: 'posted',
      pending: { posted_amount: '250', resolved_by: postId },
    });
    expect(pending.timeline.map((step) => step.step)).toContain('pending_posted');
    expect(await getTransfer(postId)).toMatchObject({
      status: 'posted',
      pending_id: pendingId,
      amount: '250',
    });
    expect((await getAccount(debit)).balance).toEqual({ posted: '750', pending: '0', available: '750' });
    expect((await getAccount(credit)).balance).toEqual({ posted: '250', pending: '0', available: '250' });
  });

  it('answers a second post pending_transfer_already_posted, and a void after it pending_transfer_already_posted', async () => {
    const { debit, credit } = await fundedPair();
    const pendingId = await submitTransfer(transferBody(debit, credit, { pending: true }));
    await consume();
    const first = String((await refer('post', pendingId)).body.id);
    const second = String((await refer('post', pendingId)).body.id);
    const voided = String((await refer('void', pendingId)).body.id);

    expect(await consume()).toEqual(
      new Map([
        [first, 'posted'],
        [second, 'pending_transfer_already_posted'],
        [voided, 'pending_transfer_already_posted'],
      ]),
    );
  });

  it('rejects a post of more than was held with exceeds_pending_transfer_amount, and the hold stays', async () => {
    const { debit, credit } = await fundedPair();
    const pendingId = await submitTransfer(transferBody(debit, credit, { pending: true }));
    await consume();
    const post = String((await refer('post', pendingId, { amount: '401' })).body.id);

    expect(await consume()).toEqual(new Map([[post, 'exceeds_pending_transfer_amount']]));
    expect(await getTransfer(pendingId)).toMatchObject({ status: 'pending' });
    expect((await getAccount(debit)).debits_pending).toBe('400');
  });
});

describe('voiding and expiry', () => {
  it('voids a hold: the money is released and the void names the pending transfer', async () => {
    const { debit, credit } = await fundedPair();
    const pendingId = await submitTransfer(transferBody(debit, credit, { pending: true }));
    await consume();
    const voidId = String((await refer('void', pendingId)).body.id);

    expect(await consume()).toEqual(new Map([[voidId, 'voided']]));
    expect(await getTransfer(pendingId)).toMatchObject({
      status: 'voided',
      pending: { resolved_by: voidId },
    });
    expect(await getTransfer(voidId)).toMatchObject({
      kind: 'void_pending',
      status: 'voided',
      pending_id: pendingId,
    });
    expect((await getAccount(debit)).balance).toEqual({ posted: '1000', pending: '0', available: '1000' });
  });

  it('refuses a post that arrives after the timeout with pending_transfer_expired before any sweep', async () => {
    const { debit, credit } = await fundedPair();
    const pendingId = await submitTransfer(transferBody(debit, credit, { pending: true, timeout_s: 1 }));
    const heldAt = new Date();
    await consume(heldAt);
    const post = String((await refer('post', pendingId)).body.id);

    expect(await consume(new Date(heldAt.getTime() + 1_000))).toEqual(
      new Map([[post, 'pending_transfer_expired']]),
    );
    // Until the sweep runs the money is still held; the post moved none of it.
    expect((await getAccount(debit)).debits_pending).toBe('400');
  });

  it('expires a hold past its timeout by the scheduled sweep, with a transfer.expired event', async () => {
    const { debit, credit } = await fundedPair();
    const pendingId = await submitTransfer(transferBody(debit, credit, { pending: true, timeout_s: 60 }));
    await consume();
    const later = new Date(Date.now() + 61_000);
    // Earlier tests of this file may have left holds that are due by then too.
    const due = await database.pool.query<{ count: string }>(
      `select count(*) from ledger.pending_transfers where status = 'pending' and expires_at <= $1`,
      [later],
    );

    const outcome = await expirePendingTransfersFunction.build(wiring(() => later))();

    expect(outcome).toEqual({
      expiredCount: Number.parseInt(due.rows[0]?.count ?? '', 10),
      pageCount: 1,
      truncated: false,
    });
    const expired = await getTransfer(pendingId);
    expect(expired.status).toBe('expired');
    expect(expired.timeline.map((step) => step.step)).toContain('pending_expired');
    expect((await getAccount(debit)).balance).toEqual({ posted: '1000', pending: '0', available: '1000' });
    const { rows } = await database.pool.query<{ event_type: string; published: boolean }>(
      `select event_type, published_at is not null as published from ledger.outbox
        where transfer_id = $1 order by id`,
      [pendingId],
    );
    // The function publishes what it wrote, and whatever else the outbox held.
    expect(rows).toEqual([
      { event_type: 'transfer.pending', published: true },
      { event_type: 'transfer.expired', published: true },
    ]);
  });
});

describe('reversals', () => {
  it('reverses in parts up to the original amount, lists the reversals on it, and refuses more', async () => {
    const { debit, credit } = await fundedPair();
    const originalId = await submitTransfer(transferBody(debit, credit));
    await consume();
    const first = await refer('reverse', originalId, { amount: '300' });
    expect(first.body).toMatchObject({ kind: 'reversal', reverses: originalId, debit_account_id: credit });
    const firstId = String(first.body.id);
    const secondId = String((await refer('reverse', originalId, { amount: '101' })).body.id);
    const thirdId = String((await refer('reverse', originalId, { amount: '100' })).body.id);

    expect(await consume()).toEqual(
      new Map([
        [firstId, 'posted'],
        [secondId, 'exceeds_reversible_amount'],
        [thirdId, 'posted'],
      ]),
    );
    const original = await getTransfer(originalId);
    expect(original.reversed_amount).toBe('400');
    // Listed in id order, which for these time-ordered ids is the order they were accepted in.
    expect(original.reversals.map((reversal) => [reversal.id, reversal.amount])).toEqual([
      [firstId, '300'],
      [thirdId, '100'],
    ]);
    expect((await getAccount(debit)).balance.posted).toBe('1000');
  });

  it('rejects the reversal of a rejected transfer with transfer_not_posted, and of an unknown id with transfer_not_found', async () => {
    const { debit, credit } = await fundedPair();
    const rejectedId = await submitTransfer(transferBody(debit, credit, { amount: '5000' }));
    expect(await consume()).toEqual(new Map([[rejectedId, 'exceeds_credits']]));
    const notPosted = String((await refer('reverse', rejectedId)).body.id);
    const unknown = String((await refer('reverse', crypto.randomUUID())).body.id);

    expect(await consume()).toEqual(
      new Map([
        [notPosted, 'transfer_not_posted'],
        [unknown, 'transfer_not_found'],
      ]),
    );
  });

  it('rejects a reversal with exceeds_credits when the money has already left a limited account', async () => {
    const { debit, credit: spender } = await fundedPair();
    const sink = await createAccount(database.pool);
    // Flags are set when an account opens; the owner changes them here, behind the API.
    await database.ownerPool.query(
      'update ledger.accounts set debits_must_not_exceed_credits = true where id = $1',
      [spender],
    );
    const originalId = await submitTransfer(transferBody(debit, spender));
    await consume();
    await submitTransfer(transferBody(spender, sink));
    await consume();
    const reversal = String((await refer('reverse', originalId)).body.id);

    expect(await consume()).toEqual(new Map([[reversal, 'exceeds_credits']]));
  });
});

describe('freeze, unfreeze and close', () => {
  const action = (name: 'freeze' | 'unfreeze' | 'close', id: string) =>
    call(
      { freeze: freezeAccountFunction, unfreeze: unfreezeAccountFunction, close: closeAccountFunction }[name],
      {
        method: 'POST',
        resource: `/v1/accounts/{id}/${name}`,
        id,
        key: false,
      },
    );

  it('rejects new transfers of a frozen account but lets its hold be voided, and takes them again once unfrozen', async () => {
    const { debit, credit } = await fundedPair();
    const pendingId = await submitTransfer(transferBody(debit, credit, { pending: true }));
    await consume();

    const frozen = await action('freeze', debit);
    expect([frozen.status, frozen.body.status]).toEqual([200, 'frozen']);
    const refused = await submitTransfer(transferBody(debit, credit, { amount: '1' }));
    const toFrozen = await submitTransfer(transferBody(credit, debit, { amount: '1' }));
    const voidId = String((await refer('void', pendingId)).body.id);
    const results = await consume();
    expect([results.get(refused), results.get(toFrozen), results.get(voidId)]).toEqual([
      'debit_account_frozen',
      'credit_account_frozen',
      'voided',
    ]);

    expect((await action('unfreeze', debit)).body.status).toBe('open');
    const accepted = await submitTransfer(transferBody(debit, credit, { amount: '1' }));
    expect(await consume()).toEqual(new Map([[accepted, 'posted']]));
  });

  it('refuses to close an account with a balance or a hold with 409, and closes an empty one for good', async () => {
    const { debit } = await fundedPair();
    const notEmpty = await action('close', debit);
    expect(notEmpty.status).toBe(409);
    expect(notEmpty.headers['content-type']).toBe('application/problem+json');
    expect(notEmpty.body).toMatchObject({ status: 409, title: 'Account cannot be closed' });

    const empty = await createAccount(database.pool);
    const pendingId = await submitTransfer(transferBody(debit, empty, { pending: true }));
    await consume();
    expect((await action('close', empty)).status).toBe(409);
    await refer('void', pendingId);
    await consume();

    const closed = await action('close', empty);
    expect([closed.status, closed.body.status]).toEqual([200, 'closed']);
    expect((await action('freeze', empty)).status).toBe(409);
    const toClosed = await submitTransfer(transferBody(debit, empty, { amount: '1' }));
    expect(await consume()).toEqual(new Map([[toClosed, 'credit_account_closed']]));
    expect((await getAccount(empty)).status).toBe('closed');
    const { rows } = await database.pool.query<{ event_type: string }>(
      `select o.event_type from ledger.outbox o join ledger.account_changes c on c.id = o.transfer_id
        where c.account_id = $1`,
      [empty],
    );
    expect(rows).toEqual([{ event_type: 'account.closed' }]);
  });

  it('answers 404 for an account that does not exist', async () => {
    expect((await action('freeze', crypto.randomUUID())).status).toBe(404);
  });
});
