import { randomUUID } from 'node:crypto';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { afterAll, describe, expect, it } from 'vitest';
import { listDeadLetters, redriveDeadLetters } from '../../infra/local/dead-letters';
import type { LocalRuntime } from '../../infra/local/runtime';
import { gaugesResponseSchema, transferResponseSchema } from '../../shared/api/schemas';
import { uniqueNamePrefix } from '../support/aws';
import { useTestDatabase } from '../support/database';
import { client, startTestRuntime, waitFor } from '../support/runtime';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';
import { completeTrail, openAccount, submitTransfer, trailOf, waitForCompleteTrail } from './ledger';

const database = useTestDatabase();
let runtime: LocalRuntime | undefined;
let proxy: TcpProxy | undefined;

afterAll(async () => {
  await runtime?.stop();
  await proxy?.close();
});

describe('an outage that outlasts the receive count', () => {
  it('moves the transfers to the dead-letter queue, says so on GET and the gauges; once redriven they post exactly once, in order', async () => {
    const target = new URL(database.url);
    proxy = await startTcpProxy(target.hostname, Number.parseInt(target.port, 10));
    const proxied = new URL(database.url);
    proxied.port = String(proxy.port);
    runtime = await startTestRuntime({
      databaseUrl: proxied.toString(),
      namePrefix: uniqueNamePrefix(),
      visibilityTimeoutS: { transfers: 1, transferEvents: 1 },
      maxReceiveCount: { transfers: 2 },
    });
    const { sqs } = runtime.clients;
    const { resources } = runtime;
    const api = client(runtime);
    const [debit, credit] = [await openAccount(api), await openAccount(api)];

    await proxy.cut();
    const transferIds: string[] = [];
    for (let index = 0; index < 3; index += 1) {
      transferIds.push(await submitTransfer(api, { debit, credit, amount: '9' }, `dlq-${randomUUID()}`));
    }
    await waitFor(
      'the transfers in the dead-letter queue',
      async () => {
        const { Attributes = {} } = await sqs.send(
          new GetQueueAttributesCommand({
            QueueUrl: resources.queueUrls.transfersDeadLetter,
            AttributeNames: ['ApproximateNumberOfMessages'],
          }),
        );
        return Attributes.ApproximateNumberOfMessages === '3' ? true : undefined;
      },
      30_000,
    );
    await proxy.restore();
    const whileDeadLettered = await Promise.all(
      transferIds.map(async (id) =>
        transferResponseSchema.parse((await api.get(`/v1/transfers/${id}`)).body),
      ),
    );
    const gauges = gaugesResponseSchema.parse((await api.get('/v1/admin/gauges')).body);
    const listed = await listDeadLetters(sqs, resources.queueUrls.transfersDeadLetter);
    const beforeRedrive = await trailOf(database.pool, transferIds);
    const outcome = await redriveDeadLetters(sqs, {
      deadLetterQueueUrl: resources.queueUrls.transfersDeadLetter,
      sourceQueueUrl: resources.queueUrls.transfers,
      fifo: true,
    });
    const trail = await waitForCompleteTrail(database.pool, transferIds);

    expect(new Set(listed.map((letter) => letter.transferId))).toEqual(new Set(transferIds));
    expect(beforeRedrive.transferRows).toBe(0);
    expect(outcome).toEqual({ movedCount: 3, undeletedCount: 0 });
    expect(trail).toEqual(completeTrail(3));
    // Every delivery failed, so the account's later transfers were dead-lettered behind the
    // first, in order; the redrive sends them back in that order.
    expect(
      whileDeadLettered.map((transfer) => [transfer.status, transfer.dead_letter?.receive_count]),
    ).toEqual([
      ['queued', 2],
      ['queued', 2],
      ['queued', 2],
    ]);
    expect(gauges.transfers_dead_letter_queue).toMatchObject({ visible: 3 });
    const { rows } = await database.pool.query<{ transfer_id: string }>(
      `select transfer_id from ledger.entries where account_id = $1 and direction = 'debit' order by id`,
      [debit],
    );
    expect(rows.map((row) => row.transfer_id)).toEqual(transferIds);
    const afterRedrive = await Promise.all(
      transferIds.map(async (id) =>
        transferResponseSchema.parse((await api.get(`/v1/transfers/${id}`)).body),
      ),
    );
    expect(afterRedrive.map((transfer) => [transfer.status, transfer.dead_letter])).toEqual([
      ['posted', null],
      ['posted', null],
      ['posted', null],
    ]);
  });
});
