import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../infra/local/runtime';
import { uniqueNamePrefix } from '../support/aws';
import { useTestDatabase } from '../support/database';
import { client, startTestRuntime, waitFor } from '../support/runtime';
import { openAccount, submitTransfer, waitForCompleteTrail } from './ledger';

const database = useTestDatabase();
let runtime: LocalRuntime;

beforeAll(async () => {
  runtime = await startTestRuntime({ databaseUrl: database.url, namePrefix: uniqueNamePrefix() });
});

afterAll(async () => {
  await runtime?.stop();
});

/** How far the checker has checked, and the last entry id there is. */
async function positions(): Promise<{ checked: string; last: string }> {
  const { rows } = await database.pool.query<{ checked: string; last: string }>(
    `select (select entry_id_checked::text from ledger.invariant_checkpoint) as checked,
            (select coalesce(max(id), 0)::text from ledger.entries) as last`,
  );
  const [row] = rows;
  if (row === undefined) throw new Error('the checkpoint has its row');
  return row;
}

describe('the invariant checker in the local runtime', () => {
  it('checks what was posted on its own schedule, and a tampered account makes GET /v1/admin/invariants answer 500 naming it', async () => {
    const api = client(runtime);
    const [debit, credit] = [await openAccount(api), await openAccount(api)];
    const ids = [];
    for (let index = 0; index < 3; index += 1) {
      ids.push(await submitTransfer(api, { debit, credit, amount: '5' }, `checker-${randomUUID()}`));
    }
    await waitForCompleteTrail(database.pool, ids);

    // Nobody asks for a check: the runtime's schedule runs the checker until it has caught up.
    const caughtUp = await waitFor('the checker to catch up', async () => {
      const { checked, last } = await positions();
      return checked === last ? checked : undefined;
    });
    const sound = await api.get('/v1/admin/invariants');

    const owner = await database.ownerPool.connect();
    try {
      await owner.query('begin');
      await owner.query('set local session_replication_role = replica');
      await owner.query('update ledger.accounts set credits_posted = credits_posted + 1 where id = $1', [
        credit,
      ]);
      await owner.query('commit');
      const recorded = await waitFor('the schedule to record the violation', async () => {
        const { rows } = await database.pool.query<{ subject: string }>(
          `select subject from ledger.invariant_violations where invariant = 'account_totals_equal_entries'`,
        );
        return rows.length > 0 ? rows.map((row) => row.subject) : undefined;
      });
      const broken = await api.get('/v1/admin/invariants');

      expect(BigInt(caughtUp)).toBeGreaterThanOrEqual(6n);
      expect(sound.status).toBe(200);
      expect(sound.body).toMatchObject({ mode: 'incremental', violations: [] });
      expect(recorded).toEqual([credit]);
      expect(broken.status).toBe(500);
      expect(broken.headers.get('content-type')).toBe('application/problem+json');
      expect(broken.body).toMatchObject({
        type: 'https://ledgerx.dev/problems/invariants-violated',
        violations: [{ invariant: 'account_totals_equal_entries', subject: credit }],
      });
    } finally {
      await owner.query('begin');
      await owner.query('set local session_replication_role = replica');
      await owner.query('update ledger.accounts set credits_posted = credits_posted - 1 where id = $1', [
        credit,
      ]);
      await owner.query('delete from ledger.invariant_violations');
      await owner.query('commit');
      owner.release();
    }
  });
});
