import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import transferConsumer from '../../functions/transfer-consumer';
import type { AccountId, TransferId } from '../../shared/domain/ids';
import { type TransferCommand, toTransferMessage } from '../../shared/domain/transfer';
import { testWiring } from '../support/api';
import { useTestDatabase } from '../support/database';
import { createAccount, fund, sqsEvent, transferFactory, transferRecord } from '../support/factories';

const database = useTestDatabase();

/** The consumer as Lambda runs it. Its relay after the batch has no bus here and only logs. */
function consume(event: SQSEvent): Promise<SQSBatchResponse> {
  return transferConsumer.build(testWiring(database.pool))(event);
}

interface LedgerCounts {
  readonly transfers: number;
  readonly entries: number;
  readonly outbox: number;
  readonly poison: number;
}

async function countLedger(): Promise<LedgerCounts> {
  const { rows } = await database.pool.query<LedgerCounts>(
    `select (select count(*)::int from ledger.transfers) as transfers,
            (select count(*)::int from ledger.entries) as entries,
            (select count(*)::int from ledger.outbox) as outbox,
            (select count(*)::int from ledger.poison_messages) as poison`,
  );
  const row = rows[0];
  if (row === undefined) throw new Error('test: count returned no row');
  return row;
}

/** The status recorded for each transfer, in the order asked; `undefined` when not recorded. */
async function statusesOf(transfers: readonly TransferCommand[]): Promise<(string | undefined)[]> {
  const { rows } = await database.pool.query<{ id: string; status: string }>(
    'select id, status from ledger.transfers where id = any($1::uuid[])',
    [transfers.map((transfer) => transfer.id)],
  );
  const byId = new Map(rows.map((row) => [row.id, row.status]));
  return transfers.map((transfer) => byId.get(transfer.id));
}

async function poisonRows(messageId: string): Promise<{ body: string; reason: string }[]> {
  const { rows } = await database.pool.query<{ body: string; reason: string }>(
    'select body, reason from ledger.poison_messages where message_id = $1',
    [messageId],
  );
  return rows;
}

/**
 * Makes the database refuse to record one transfer, raising the given SQLSTATE from a trigger,
 * and returns the function that lifts the refusal.
 */
async function refuseTransfer(transferId: TransferId, sqlState: string): Promise<() => Promise<void>> {
  const suffix = transferId.replaceAll('-', '');
  const functionName = `ledger.test_refuse_${suffix}`;
  const triggerName = `test_refuse_${suffix}`;
  await database.ownerPool.query(`
    create function ${functionName}() returns trigger language plpgsql as $$
    begin
      if new.id = '${transferId}' then
        raise exception 'test: transfer % refused', new.id using errcode = '${sqlState}';
      end if;
      return new;
    end $$;
    create trigger ${triggerName} before insert on ledger.transfers
      for each row execute function ${functionName}();
  `);
  return async () => {
    await database.ownerPool.query(
      `drop trigger ${triggerName} on ledger.transfers; drop function ${functionName}();`,
    );
  };
}

/** Funded debit accounts, one per message group, and a credit account for them to pay. */
async function accounts(groupCount: number): Promise<{ debitIds: AccountId[]; creditId: AccountId }> {
  const debitIds: AccountId[] = [];
  for (let group = 0; group < groupCount; group += 1) {
    const debitId = await createAccount(database.pool, { debitsMustNotExceedCredits: true });
    await fund(database.pool, debitId, 1_000n);
    debitIds.push(debitId);
  }
  return { debitIds, creditId: await createAccount(database.pool) };
}

function failedIds(records: readonly SQSRecord[]): { itemIdentifier: string }[] {
  return records.map((record) => ({ itemIdentifier: record.messageId }));
}

describe('the transfer consumer', () => {
  it('posts a batch of 10 records across several message groups and reports no failure', async () => {
    const { debitIds, creditId } = await accounts(3);
    const transfers = Array.from({ length: 10 }, (_, index) =>
      transferFactory({ debitAccountId: debitIds[index % 3], creditAccountId: creditId, amount: 10n }),
    );
    const countsBefore = await countLedger();

    const response = await consume(sqsEvent(transfers.map((transfer) => transferRecord(transfer))));

    expect(response).toEqual({ batchItemFailures: [] });
    expect(await statusesOf(transfers)).toEqual(Array(10).fill('posted'));
    expect(await countLedger()).toEqual({
      ...countsBefore,
      transfers: countsBefore.transfers + 10,
      entries: countsBefore.entries + 20,
      outbox: countsBefore.outbox + 10,
    });
  });

  it('records when its batch was picked up, and one batch row with the outcome counts', async () => {
    const { debitIds, creditId } = await accounts(1);
    const debitId = debitIds[0];
    const transfers = [
      transferFactory({ debitAccountId: debitId, creditAccountId: creditId, amount: 600n }),
      transferFactory({ debitAccountId: debitId, creditAccountId: creditId, amount: 600n }),
      transferFactory({ debitAccountId: debitId, creditAccountId: creditId, amount: 300n }),
    ];
    const before = new Date();

    await consume(sqsEvent(transfers.map((transfer) => transferRecord(transfer))));

    const after = new Date();
    const { rows: pickups } = await database.pool.query<{ picked_up_at: Date; processed_at: Date }>(
      'select picked_up_at, processed_at from ledger.transfers where id = any($1::uuid[])',
      [transfers.map((transfer) => transfer.id)],
    );
    expect(pickups).toHaveLength(3);
    const pickedUpAt = pickups[0]?.picked_up_at;
    for (const row of pickups) {
      expect(row.picked_up_at).toEqual(pickedUpAt);
      expect(row.picked_up_at.getTime()).toBeGreaterThanOrEqual(before.getTime());
      expect(row.picked_up_at.getTime()).toBeLessThanOrEqual(row.processed_at.getTime() + 1);
    }
    const { rows: batches } = await database.pool.query(
      `select transfer_count, posted_count, rejected_count, received_at, finished_at
         from ledger.consumer_batches where received_at = $1`,
      [pickedUpAt],
    );
    expect(batches).toEqual([
      {
        transfer_count: 3,
        posted_count: 2,
        rejected_count: 1,
        received_at: pickedUpAt,
        finished_at: expect.any(Date),
      },
    ]);
    expect(batches[0].finished_at.getTime()).toBeLessThanOrEqual(after.getTime());
  });

  const { id: _missingId, ...withoutId } = toTransferMessage(transferFactory());
  const poisonBodies: [string, (transfer: TransferCommand) => string, RegExp][] = [
    ['a body that is not JSON', () => '{"id": ', /not valid JSON/],
    ['a JSON array', () => '[]', /not a JSON object/],
    [
      'an amount with a fraction',
      (transfer) => JSON.stringify({ ...toTransferMessage(transfer), amount: '1.5' }),
      /amount must be/,
    ],
    [
      'an amount as a JSON number',
      (transfer) => JSON.stringify({ ...toTransferMessage(transfer), amount: 15 }),
      /amount must be/,
    ],
    ['a missing id', () => JSON.stringify(withoutId), /id must be/],
    [
      'an unknown currency',
      (transfer) => JSON.stringify({ ...toTransferMessage(transfer), currency: 'ABC' }),
      /currency must be/,
    ],
    // The next two pass every check of parseTransferMessage, yet Postgres can never store them.
    [
      'an accepted_at of February 30th',
      (transfer) => JSON.stringify({ ...toTransferMessage(transfer), accepted_at: '2024-02-30T00:00:00Z' }),
      /accepted_at/,
    ],
    [
      'metadata holding a NUL character',
      (transfer) => JSON.stringify({ ...toTransferMessage(transfer), metadata: { note: '\u0000' } }),
      /metadata/,
    ],
  ];

  it.each(poisonBodies)(
    'refuses %s for good, records it once as poison and posts the rest of its batch',
    async (_case, makeBody, reason) => {
      const { debitIds, creditId } = await accounts(1);
      const [before, poisonSource, after] = Array.from({ length: 3 }, () =>
        transferFactory({ debitAccountId: debitIds[0], creditAccountId: creditId, amount: 10n }),
      ) as [TransferCommand, TransferCommand, TransferCommand];
      const poison = transferRecord(poisonSource, { body: makeBody(poisonSource) });
      const event = sqsEvent([transferRecord(before), poison, transferRecord(after)]);

      const response = await consume(event);
      const redelivered = await consume(event);

      expect(response).toEqual({ batchItemFailures: [] });
      expect(redelivered).toEqual({ batchItemFailures: [] });
      expect(await poisonRows(poison.messageId)).toEqual([
        { body: poison.body, reason: expect.stringMatching(reason) },
      ]);
      expect(await statusesOf([before, poisonSource, after])).toEqual(['posted', undefined, 'posted']);
    },
  );

  it.each([
    ['57P01', 'admin_shutdown'],
    ['53300', 'too_many_connections'],
    // A deploy not in place yet passes for every record alike: no record is isolated for it.
    ['42501', 'insufficient_privilege'],
    ['28P01', 'invalid_password'],
  ])(
    'returns every record of a batch the database refused with %s (%s), writes nothing, and posts it all once on redelivery',
    async (sqlState) => {
      const { debitIds, creditId } = await accounts(2);
      const transfers = Array.from({ length: 6 }, (_, index) =>
        transferFactory({ debitAccountId: debitIds[index % 2], creditAccountId: creditId, amount: 10n }),
      );
      const poison = transferRecord(transferFactory(), { body: 'not json' });
      const records = [...transfers.map((transfer) => transferRecord(transfer)), poison];
      const event = sqsEvent(records);
      const refused = transfers[3];
      if (refused === undefined) throw new Error('test: the batch has no fourth transfer');
      const countsBefore = await countLedger();
      const liftRefusal = await refuseTransfer(refused.id, sqlState);

      let response: SQSBatchResponse;
      try {
        response = await consume(event);
      } finally {
        await liftRefusal();
      }
      const countsAfterFailure = await countLedger();
      const redelivered = await consume(event);
      const redeliveredAgain = await consume(event);

      expect(response).toEqual({ batchItemFailures: failedIds(records) });
      expect(countsAfterFailure).toEqual(countsBefore);
      expect(redelivered).toEqual({ batchItemFailures: [] });
      expect(redeliveredAgain).toEqual({ batchItemFailures: [] });
      expect(await statusesOf(transfers)).toEqual(Array(6).fill('posted'));
      expect(await countLedger()).toEqual({
        transfers: countsBefore.transfers + 6,
        entries: countsBefore.entries + 12,
        outbox: countsBefore.outbox + 6,
        poison: countsBefore.poison + 1,
      });
    },
  );

  it('isolates a permanent failure with FIFO semantics: it and the later records of its group fail, the rest post', async () => {
    const { debitIds, creditId } = await accounts(2);
    const [groupA, groupB] = debitIds as [AccountId, AccountId];
    const a1 = transferFactory({ debitAccountId: groupA, creditAccountId: creditId, amount: 10n });
    const b1 = transferFactory({ debitAccountId: groupB, creditAccountId: creditId, amount: 10n });
    const a2 = transferFactory({ debitAccountId: groupA, creditAccountId: creditId, amount: 10n });
    const b2 = transferFactory({ debitAccountId: groupB, creditAccountId: creditId, amount: 10n });
    const a3 = transferFactory({ debitAccountId: groupA, creditAccountId: creditId, amount: 10n });
    const b3 = transferFactory({ debitAccountId: groupB, creditAccountId: creditId, amount: 10n });
    const ordered = [a1, b1, a2, b2, a3, b3];
    const records = ordered.map((transfer) => transferRecord(transfer));
    const [, , a2Record, , a3Record] = records as [SQSRecord, SQSRecord, SQSRecord, SQSRecord, SQSRecord];
    const liftRefusal = await refuseTransfer(a2.id, '23514');

    let response: SQSBatchResponse;
    try {
      response = await consume(sqsEvent(records));
    } finally {
      await liftRefusal();
    }

    expect(response).toEqual({ batchItemFailures: failedIds([a2Record, a3Record]) });
    expect(await statusesOf(ordered)).toEqual(['posted', 'posted', undefined, 'posted', undefined, 'posted']);

    const redelivered = await consume(sqsEvent([a2Record, a3Record]));

    expect(redelivered).toEqual({ batchItemFailures: [] });
    expect(await statusesOf(ordered)).toEqual(Array(6).fill('posted'));
  });

  it('posts nothing twice when the whole batch is delivered twice', async () => {
    const { debitIds, creditId } = await accounts(3);
    const transfers = Array.from({ length: 8 }, (_, index) =>
      transferFactory({ debitAccountId: debitIds[index % 3], creditAccountId: creditId, amount: 10n }),
    );
    const event = sqsEvent([
      ...transfers.map((transfer) => transferRecord(transfer)),
      transferRecord(
        transferFactory({ debitAccountId: debitIds[0], creditAccountId: creditId, amount: 5_000n }),
      ),
      transferRecord(transferFactory(), { body: '{}' }),
    ]);
    expect(await consume(event)).toEqual({ batchItemFailures: [] });
    const countsAfterFirst = await countLedger();

    const response = await consume(event);

    expect(response).toEqual({ batchItemFailures: [] });
    expect(await countLedger()).toEqual(countsAfterFirst);
  });
});
