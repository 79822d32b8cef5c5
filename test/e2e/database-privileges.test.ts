import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../infra/local/runtime';
import { uniqueNamePrefix } from '../support/aws';
import { useTestDatabase } from '../support/database';
import {
  arrangeForbiddenTargets,
  attempt,
  type ForbiddenTargets,
  forbiddenStatements,
} from '../support/forbidden-statements';
import { client, startTestRuntime } from '../support/runtime';
import { completeTrail, openAccount, submitTransfer, waitForCompleteTrail } from './ledger';

const database = useTestDatabase();
let runtime: LocalRuntime | undefined;
let targets: ForbiddenTargets | undefined;

beforeAll(async () => {
  // The runtime is given the owner's URL, as npm start is: it migrates with it, then makes the
  // functions' login and builds the one pool every function uses as that login.
  runtime = await startTestRuntime({ databaseUrl: database.url, namePrefix: uniqueNamePrefix() });
  targets = await arrangeForbiddenTargets(database.ownerPool);
});

afterAll(async () => {
  await runtime?.stop();
});

function started(): { runtime: LocalRuntime; targets: ForbiddenTargets } {
  if (runtime === undefined || targets === undefined)
    throw new Error('test: the runtime starts in beforeAll');
  return { runtime, targets };
}

describe("the local runtime's own pool", () => {
  it("connects as the functions' login, not as the owner it migrated with", async () => {
    const { rows } = await started().runtime.pool.query<{ user: string; superuser: boolean }>(
      'select current_user as user, rolsuper as superuser from pg_roles where rolname = current_user',
    );
    expect(rows).toEqual([{ user: 'ledgerx_app_user', superuser: false }]);
  });

  it('opens accounts, posts and relays with the grants alone', async () => {
    const api = client(started().runtime);
    const [debit, credit] = [await openAccount(api), await openAccount(api)];

    const transferId = await submitTransfer(api, { debit, credit, amount: '3' }, `grants-${randomUUID()}`);

    expect(await waitForCompleteTrail(database.pool, [transferId])).toEqual(completeTrail(1));
  });

  it.each(forbiddenStatements.map((statement) => [statement.threat, statement] as const))(
    'may not %s',
    async (_threat, statement) => {
      const { runtime: running, targets: aimedAt } = started();

      const outcome = await attempt(running.pool, statement.sql(aimedAt));

      expect(outcome).toEqual({
        sqlState: statement.sqlState,
        message: expect.stringMatching(statement.message(aimedAt)),
      });
    },
  );
});
