import { randomUUID } from 'node:crypto';
import type { SQSEvent } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import transferConsumer from '../../functions/transfer-consumer';
import type { LocalRuntime } from '../../infra/local/runtime';
import { uniqueNamePrefix } from '../support/aws';
import { useTestDatabase } from '../support/database';
import { client, startTestRuntime, waitFor } from '../support/runtime';
import { completeTrail, openAccount, submitTransfer, trailOf, waitForCompleteTrail } from './ledger';

const database = useTestDatabase();
const runtimes: LocalRuntime[] = [];

afterEach(async () => {
  for (const runtime of runtimes.splice(0)) await runtime.stop();
});

describe('a consumer that dies mid-batch', () => {
  it('posts each record once when the handler crashes after its transaction committed', async () => {
    let crashCount = 0;
    const runtime = await startTestRuntime({
      databaseUrl: database.url,
      namePrefix: uniqueNamePrefix(),
      wrapConsumer: (definition, consume) => {
        if (definition !== transferConsumer) return consume;
        // The batch commits, then the invocation dies before Lambda could delete the messages:
        // they come back after the visibility timeout and must not post again.
        return async (event: SQSEvent) => {
          const response = await consume(event);
          if (crashCount < 2) {
            crashCount += 1;
            throw new Error('test: the consumer crashed after committing');
          }
          return response;
        };
      },
    });
    runtimes.push(runtime);
    const api = client(runtime);
    const accounts = [await openAccount(api), await openAccount(api), await openAccount(api)];

    const transferIds: string[] = [];
    for (let index = 0; index < 4; index += 1) {
      const debit = accounts[index % 3] ?? '';
      const credit = accounts[(index + 1) % 3] ?? '';
      transferIds.push(await submitTransfer(api, { debit, credit, amount: '10' }, `crash-${randomUUID()}`));
    }
    const trail = await waitForCompleteTrail(database.pool, transferIds);

    expect(crashCount).toBe(2);
    expect(trail).toEqual(completeTrail(4));
  });

  it('posts each record once when the runtime stops with a batch in flight and a new one starts', async () => {
    const namePrefix = uniqueNamePrefix();
    let release: () => void = () => undefined;
    const blocked = new Promise<void>((resolve) => {
      release = resolve;
    });
    let inFlight = false;
    const first = await startTestRuntime({
      databaseUrl: database.url,
      namePrefix,
      stopTimeoutMs: 500,
      wrapConsumer: (definition, consume) => {
        if (definition !== transferConsumer) return consume;
        // The first runtime's consumer hangs before it posts: the stop finds it in flight.
        return async (event: SQSEvent) => {
          inFlight = true;
          await blocked;
          return consume(event);
        };
      },
    });
    const api = client(first);
    const [debit, credit] = [await openAccount(api), await openAccount(api)];
    const transferIds = [
      await submitTransfer(api, { debit, credit, amount: '3' }, `stop-${randomUUID()}`),
      await submitTransfer(api, { debit, credit, amount: '4' }, `stop-${randomUUID()}`),
    ];
    await waitFor('a batch in flight', async () => (inFlight ? true : undefined));

    await first.stop();
    // The hung invocation wakes after its runtime is gone; its pool is closed, so it cannot post.
    release();
    const afterStop = await trailOf(database.pool, transferIds);
    const second = await startTestRuntime({ databaseUrl: database.url, namePrefix });
    runtimes.push(second);
    const trail = await waitForCompleteTrail(database.pool, transferIds);

    expect(afterStop.transferRows).toBe(0);
    expect(trail).toEqual(completeTrail(2));
  });
});
