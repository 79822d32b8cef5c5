import { describe, expect, it } from 'vitest';
import transferConsumer from '../../functions/transfer-consumer';
import { testWiring } from '../support/api';
import { useTestDatabase } from '../support/database';
import { createAccount, sqsEvent, transferFactory, transferRecord } from '../support/factories';
import {
  arrangeForbiddenTargets,
  attempt,
  type ForbiddenTargets,
  forbiddenStatements,
} from '../support/forbidden-statements';

const database = useTestDatabase();

/** The statements aim at rows made once, as the owner; each attempt is rolled back. */
let targets: ForbiddenTargets | undefined;
async function arranged(): Promise<ForbiddenTargets> {
  targets ??= await arrangeForbiddenTargets(database.ownerPool);
  return targets;
}

describe("the functions' login, on the pool the test wiring runs functions with", () => {
  it('is a member of ledgerx_app only, and owns nothing', async () => {
    const { rows } = await database.pool.query<{ user: string; memberships: string[]; owned: number }>(
      `select current_user as user,
              array(select g.rolname::text from pg_auth_members m join pg_roles g on g.oid = m.roleid
                     where m.member = r.oid) as memberships,
              (select count(*)::int from pg_shdepend d where d.refobjid = r.oid and d.deptype = 'o') as owned
         from pg_roles r where r.rolname = current_user`,
    );
    expect(rows).toEqual([{ user: 'ledgerx_app_user', memberships: ['ledgerx_app'], owned: 0 }]);
  });

  it('posts through the engine, which writes the journal with its owner’s rights', async () => {
    const debitAccountId = await createAccount(database.pool);
    const creditAccountId = await createAccount(database.pool);
    const transfer = transferFactory({ debitAccountId, creditAccountId, amount: 7n });
    const consume = transferConsumer.build(testWiring(database.pool));

    const response = await consume(sqsEvent([transferRecord(transfer)]));

    expect(response).toEqual({ batchItemFailures: [] });
    const { rows } = await database.pool.query<{ status: string }>(
      'select status from ledger.transfers where id = $1',
      [transfer.id],
    );
    expect(rows).toEqual([{ status: 'posted' }]);
  });

  it.each(forbiddenStatements.map((statement) => [statement.threat, statement] as const))(
    'may not %s',
    async (_threat, statement) => {
      const aimedAt = await arranged();

      const outcome = await attempt(database.pool, statement.sql(aimedAt));

      expect(outcome).toEqual({
        sqlState: statement.sqlState,
        message: expect.stringMatching(statement.message(aimedAt)),
      });
    },
  );
});
