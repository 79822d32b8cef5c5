import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import outboxRelay from '../../functions/outbox-relay';
import type { LocalRuntime } from '../../infra/local/runtime';
import { PostgresLedgerStore } from '../../shared/adapters/postgres/ledger-store';
import type { AccountId } from '../../shared/domain/ids';
import { uniqueNamePrefix } from '../support/aws';
import { useTestDatabase } from '../support/database';
import { transferFactory } from '../support/factories';
import { client, startTestRuntime, waitFor } from '../support/runtime';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';
import { completeTrail, openAccount, submitTransfer, trailOf, waitForCompleteTrail } from './ledger';

const database = useTestDatabase();
/** Scheduled relay runs that must fail while the endpoint is away, before it comes back. */
const failedRelayRunCountMin = 2;
let runtime: LocalRuntime | undefined;
let proxy: TcpProxy | undefined;

afterAll(async () => {
  await runtime?.stop();
  await proxy?.close();
});

describe('the AWS endpoint unreachable for a while', () => {
  it('loses nothing: committed events wait in the outbox, a refused submission is retried, queued transfers post', async () => {
    const moto = new URL(inject('awsEndpoint'));
    proxy = await startTcpProxy(moto.hostname, Number.parseInt(moto.port, 10));
    let relayRunCount = 0;
    runtime = await startTestRuntime({
      databaseUrl: database.url,
      awsEndpoint: `http://127.0.0.1:${proxy.port}`,
      namePrefix: uniqueNamePrefix(),
      wrapScheduled: (definition, relay) => {
        if (definition !== outboxRelay) return relay;
        return async (event) => {
          try {
            return await relay(event);
          } finally {
            relayRunCount += 1;
          }
        };
      },
    });
    const api = client(runtime);
    const [debit, credit] = [await openAccount(api), await openAccount(api)];
    const queuedBefore = await submitTransfer(
      api,
      { debit, credit, amount: '11' },
      `aws-before-${randomUUID()}`,
    );
    await waitForCompleteTrail(database.pool, [queuedBefore]);

    await proxy.cut();
    // A consumer that committed just as the bus went away: its events cannot be published yet.
    const postedDuringOutage = [
      transferFactory({
        debitAccountId: debit as AccountId,
        creditAccountId: credit as AccountId,
        amount: 5n,
      }),
      transferFactory({
        debitAccountId: debit as AccountId,
        creditAccountId: credit as AccountId,
        amount: 6n,
      }),
    ];
    await new PostgresLedgerStore(database.pool).postBatch(postedDuringOutage, []);
    const key = `aws-during-${randomUUID()}`;
    const refused = await api.post(
      '/v1/transfers',
      { debit_account_id: debit, credit_account_id: credit, amount: '12', currency: 'USD' },
      { 'Idempotency-Key': key },
    );
    // The scheduled relay tries, and fails, while the bus is away: runs that began after the
    // posting above, not a fixed time.
    const relayRunsBefore = relayRunCount;
    await waitFor('scheduled relay runs during the outage', async () =>
      relayRunCount >= relayRunsBefore + failedRelayRunCountMin ? true : undefined,
    );
    const duringOutage = await trailOf(
      database.pool,
      postedDuringOutage.map((transfer) => transfer.id),
    );
    await proxy.restore();
    const retried = await submitTransfer(api, { debit, credit, amount: '12' }, key);
    const allIds = [queuedBefore, ...postedDuringOutage.map((transfer) => transfer.id), retried];
    const trail = await waitForCompleteTrail(database.pool, allIds);

    expect(refused.status).toBe(503);
    expect(refused.headers.get('content-type')).toBe('application/problem+json');
    expect(refused.body).toMatchObject({ status: 503, title: 'Service unavailable' });
    expect(duringOutage).toMatchObject({ transferRows: 2, publishedRows: 0, receiptRows: 0 });
    expect(trail).toEqual(completeTrail(4));
  });
});
