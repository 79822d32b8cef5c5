import { randomUUID } from 'node:crypto';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { afterAll, describe, expect, it } from 'vitest';
import { listDeadLetters, redriveDeadLetters } from '../../infra/local/dead-letters';
import type { LocalRuntime } from '../../infra/local/runtime';
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
  it('moves the transfers to the dead-letter queue; once redriven they post exactly once', async () => {
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
  });
});
