import { randomUUID } from 'node:crypto';
import type { SQSEvent } from 'aws-lambda';
import { afterAll, describe, expect, it } from 'vitest';
import transferConsumer from '../../functions/transfer-consumer';
import type { LocalRuntime } from '../../infra/local/runtime';
import { uniqueNamePrefix } from '../support/aws';
import { checkInvariants, useTestDatabase } from '../support/database';
import { client, startTestRuntime, waitFor } from '../support/runtime';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';
import { completeTrail, openAccount, submitTransfer, totalsOf, waitForCompleteTrail } from './ledger';

const database = useTestDatabase();
let runtime: LocalRuntime | undefined;
let proxy: TcpProxy | undefined;

afterAll(async () => {
  await runtime?.stop();
  await proxy?.close();
});

describe('Postgres unreachable for a while', () => {
  it('fails the batches, which come back and post once Postgres is back: nothing lost, nothing twice', async () => {
    const target = new URL(database.url);
    proxy = await startTcpProxy(target.hostname, Number.parseInt(target.port, 10));
    const proxied = new URL(database.url);
    proxied.port = String(proxy.port);
    /** How often each record (by SQS message id) was reported failed. */
    const failureCounts = new Map<string, number>();
    runtime = await startTestRuntime({
      databaseUrl: proxied.toString(),
      namePrefix: uniqueNamePrefix(),
      wrapConsumer: (definition, consume) => {
        if (definition !== transferConsumer) return consume;
        return async (event: SQSEvent) => {
          const response = await consume(event);
          for (const failure of response.batchItemFailures) {
            failureCounts.set(failure.itemIdentifier, (failureCounts.get(failure.itemIdentifier) ?? 0) + 1);
          }
          return response;
        };
      },
    });
    const api = client(runtime);
    const [debit, credit] = [await openAccount(api), await openAccount(api)];

    await proxy.cut();
    // Submitting needs only SQS and DynamoDB, so the API keeps accepting transfers.
    const transferIds: string[] = [];
    for (let index = 0; index < 6; index += 1) {
      transferIds.push(await submitTransfer(api, { debit, credit, amount: '25' }, `pg-down-${randomUUID()}`));
    }
    // Postgres stays away until a failed batch has come back after its visibility timeout and
    // failed again.
    await waitFor('a failed record redelivered and failed again', async () =>
      [...failureCounts.values()].some((count) => count >= 2) ? true : undefined,
    );
    await proxy.restore();
    const trail = await waitForCompleteTrail(database.pool, transferIds);

    expect(trail).toEqual(completeTrail(6));
    expect(await totalsOf(database.pool, credit)).toEqual({ debits: '0', credits: '150' });
    expect(await checkInvariants(database.pool)).toEqual([]);
  });
});
