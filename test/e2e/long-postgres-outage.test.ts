import { randomUUID } from 'node:crypto';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { afterAll, describe, expect, it } from 'vitest';
import transferConsumer from '../../functions/transfer-consumer';
import type { LocalRuntime } from '../../infra/local/runtime';
import { waitBeforeDeadLetterS } from '../../shared/handlers/redelivery';
import { maxReceiveCount } from '../../shared/topology';
import { uniqueNamePrefix } from '../support/aws';
import { checkInvariants, useTestDatabase } from '../support/database';
import { client, startTestRuntime, waitFor } from '../support/runtime';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';
import { completeTrail, openAccount, submitTransfer, waitForCompleteTrail } from './ledger';

const database = useTestDatabase();

/**
 * The timings, shortened through the settings as a whole: a 1 s visibility timeout and a backoff
 * of 1 s doubling to 4 s, with the topology's own maxReceiveCount. Before the backoff, a message
 * was dead-lettered after 5 deliveries, one per visibility timeout (5 × 60 s on AWS, 5 × 1 s
 * here); the outage lasts six times that.
 */
const visibilityTimeoutS = 1;
const backoff = { baseS: 1, capS: 4 };
const outageMs = 30_000;
const accountCount = 3;
const transfersPerAccount = 4;

let runtime: LocalRuntime | undefined;
let proxy: TcpProxy | undefined;

afterAll(async () => {
  await runtime?.stop();
  await proxy?.close();
});

describe('Postgres unreachable for six times as long as the old receive count lasted', () => {
  it('dead-letters nothing, keeps each account’s order, and posts every transfer once when Postgres is back', async () => {
    // The arithmetic the test relies on: the schedule outlasts the outage.
    expect(waitBeforeDeadLetterS(backoff, maxReceiveCount).leastS * 1000).toBeGreaterThan(outageMs);
    const target = new URL(database.url);
    proxy = await startTcpProxy(target.hostname, Number.parseInt(target.port, 10));
    const proxied = new URL(database.url);
    proxied.port = String(proxy.port);
    let failedRecordCount = 0;
    runtime = await startTestRuntime({
      databaseUrl: proxied.toString(),
      namePrefix: uniqueNamePrefix(),
      visibilityTimeoutS: { transfers: visibilityTimeoutS, transferEvents: visibilityTimeoutS },
      settings: {
        LEDGER_CONSUMER_BACKOFF_BASE_S: String(backoff.baseS),
        LEDGER_CONSUMER_BACKOFF_CAP_S: String(backoff.capS),
      },
      wrapConsumer: (definition, consume) => {
        if (definition !== transferConsumer) return consume;
        return async (event: SQSEvent) => {
          const response = await consume(event);
          failedRecordCount += response.batchItemFailures.length;
          return response;
        };
      },
    });
    const { sqs } = runtime.clients;
    const api = client(runtime);
    const credit = await openAccount(api);
    const debits: string[] = [];
    for (let index = 0; index < accountCount; index += 1) debits.push(await openAccount(api));

    await proxy.cut();
    const cutAt = Date.now();
    // Interleaved, so each account's transfers share batches with the others'.
    const sent = new Map<string, string[]>(debits.map((debit) => [debit, []]));
    for (let round = 1; round <= transfersPerAccount; round += 1) {
      for (const debit of debits) {
        const id = await submitTransfer(
          api,
          { debit, credit, amount: String(round) },
          `outage-${randomUUID()}`,
        );
        sent.get(debit)?.push(id);
      }
    }
    await waitFor('a batch to fail on the missing database', async () =>
      failedRecordCount > 0 ? true : undefined,
    );
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, outageMs - (Date.now() - cutAt))));
    await proxy.restore();
    const transferIds = [...sent.values()].flat();
    const trail = await waitForCompleteTrail(database.pool, transferIds, 60_000);

    const { Attributes = {} } = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: runtime.resources.queueUrls.transfersDeadLetter,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    expect(failedRecordCount).toBeGreaterThan(0);
    expect(Attributes).toEqual({
      ApproximateNumberOfMessages: '0',
      ApproximateNumberOfMessagesNotVisible: '0',
    });
    expect(trail).toEqual(completeTrail(transferIds.length));
    for (const debit of debits) {
      const { rows } = await database.pool.query<{ transfer_id: string }>(
        `select transfer_id from ledger.entries where account_id = $1 and direction = 'debit' order by id`,
        [debit],
      );
      expect(
        rows.map((row) => row.transfer_id),
        `the order of ${debit}`,
      ).toEqual(sent.get(debit));
    }
    expect(await checkInvariants(database.pool)).toEqual([]);
  });
});
