/**
 * What the functions' login must never do, chosen from the threat (its credentials in the wrong
 * hands, or a statement injected into a function): rewrite history, make money, take back a
 * fraud flag, change the schema or its guards, or become the owner. Each statement comes with
 * the SQLSTATE and message Postgres answers it with: 42501 (insufficient_privilege) throughout,
 * from the grants where the login lacks the right, or from the triggers where the login holds
 * a column right the trigger narrows.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { PostgresLedgerStore } from '../../shared/adapters/postgres/ledger-store';
import { createAccount, transferFactory } from './factories';

export interface ForbiddenStatement {
  /** What it would do, for the test's name. */
  readonly threat: string;
  /** The statement, aimed at the arranged rows. */
  readonly sql: (targets: ForbiddenTargets) => string;
  readonly sqlState: string;
  readonly message: (targets: ForbiddenTargets) => RegExp;
}

/** Rows the statements aim at: a posted transfer with its entries and event, and a flag. */
export interface ForbiddenTargets {
  readonly transferId: string;
  readonly accountId: string;
}

/** Posts one transfer and flags it, as the owner, so every statement has a row to aim at. */
export async function arrangeForbiddenTargets(ownerPool: pg.Pool): Promise<ForbiddenTargets> {
  const debitAccountId = await createAccount(ownerPool);
  const creditAccountId = await createAccount(ownerPool);
  const transfer = transferFactory({ debitAccountId, creditAccountId, amount: 10n });
  const { results } = await new PostgresLedgerStore(ownerPool).postBatch([transfer], []);
  if (results[0] !== 'posted') throw new Error(`test fixture: the transfer was ${results[0]}`);
  await ownerPool.query(
    `with flagged as (
       insert into fraud.verdicts (transfer_id, debit_account_id, score, reasons, scored_at, flag_id, flagged_at)
       values ($1, $2, 0.9, '{amount_unusual}', now(), nextval('fraud.flag_ids'), now())
       returning transfer_id
     )
     insert into ledger.outbox (event_type, transfer_id) select 'transfer.flagged', transfer_id from flagged`,
    [transfer.id, debitAccountId],
  );
  return { transferId: transfer.id, accountId: debitAccountId };
}

const deniedFor = (table: string): RegExp => new RegExp(`^permission denied for table ${table}$`);
const mustOwn = (kind: string, name: string): RegExp => new RegExp(`^must be owner of ${kind} ${name}$`);

const transfer = (targets: ForbiddenTargets): string => `'${targets.transferId}'`;
const account = (targets: ForbiddenTargets): string => `'${targets.accountId}'`;
const entry = (targets: ForbiddenTargets, direction: string): string =>
  `(${transfer(targets)}, ${account(targets)}, '${direction}', 1000000, 'USD', 1000000, 0)`;

/** The statements; each is tried on its own, in a transaction that is rolled back. */
export const forbiddenStatements: readonly ForbiddenStatement[] = [
  // Rewriting history.
  {
    threat: 'rewrite an entry',
    sql: (t) => `update ledger.entries set amount = amount + 1 where transfer_id = ${transfer(t)}`,
    sqlState: '42501',
    message: () => deniedFor('entries'),
  },
  {
    threat: 'delete entries',
    sql: (t) => `delete from ledger.entries where transfer_id = ${transfer(t)}`,
    sqlState: '42501',
    message: () => deniedFor('entries'),
  },
  {
    threat: 'truncate the journal',
    sql: () => 'truncate ledger.entries',
    sqlState: '42501',
    message: () => deniedFor('entries'),
  },
  {
    threat: "rewrite a transfer's outcome",
    sql: (t) =>
      `update ledger.transfers set status = 'rejected', reason = 'exceeds_credits' where id = ${transfer(t)}`,
    sqlState: '42501',
    message: () => deniedFor('transfers'),
  },
  {
    threat: 'delete a transfer',
    sql: (t) => `delete from ledger.transfers where id = ${transfer(t)}`,
    sqlState: '42501',
    message: () => deniedFor('transfers'),
  },
  {
    threat: 'truncate the transfers',
    sql: () => 'truncate ledger.transfers',
    sqlState: '42501',
    message: () => deniedFor('transfers'),
  },
  {
    threat: 'delete an event before it is published',
    sql: (t) => `delete from ledger.outbox where transfer_id = ${transfer(t)}`,
    sqlState: '42501',
    message: () => deniedFor('outbox'),
  },
  {
    threat: 'point an event at another transfer',
    sql: (t) => `update ledger.outbox set transfer_id = gen_random_uuid() where transfer_id = ${transfer(t)}`,
    sqlState: '42501',
    message: () => deniedFor('outbox'),
  },
  {
    threat: 'forget a poison message',
    sql: () => 'delete from ledger.poison_messages',
    sqlState: '42501',
    message: () => deniedFor('poison_messages'),
  },
  // Making money.
  {
    threat: "set an account's totals outside the engine",
    sql: (t) =>
      `update ledger.accounts set credits_posted = credits_posted + 1000000 where id = ${account(t)}`,
    sqlState: '42501',
    message: () => deniedFor('accounts'),
  },
  {
    threat: 'open an account with totals already in it',
    sql: () =>
      `insert into ledger.accounts (id, currency, credits_posted) values (gen_random_uuid(), 'USD', 1000000)`,
    sqlState: '42501',
    message: () => deniedFor('accounts'),
  },
  {
    threat: "change an account's currency",
    sql: (t) => `update ledger.accounts set currency = 'EUR' where id = ${account(t)}`,
    sqlState: '42501',
    message: () => deniedFor('accounts'),
  },
  {
    threat: 'write balanced entries beside the engine',
    sql: (
      t,
    ) => `insert into ledger.entries (transfer_id, account_id, direction, amount, currency, debits_posted_after,
                                        credits_posted_after)
            values ${entry(t, 'debit')}, ${entry(t, 'credit')}`,
    sqlState: '42501',
    message: () => deniedFor('entries'),
  },
  {
    threat: 'record a transfer beside the engine',
    sql: (
      t,
    ) => `insert into ledger.transfers (id, debit_account_id, credit_account_id, amount, currency, status, accepted_at)
            values ('${randomUUID()}', ${account(t)}, ${account(t)}, 5, 'USD', 'posted', now())`,
    sqlState: '42501',
    message: () => deniedFor('transfers'),
  },
  {
    threat: 'publish an event marked as sent',
    sql: (t) =>
      `insert into ledger.outbox (event_type, transfer_id, published_at) values ('transfer.flagged', ${transfer(t)}, now())`,
    sqlState: '42501',
    message: () => deniedFor('outbox'),
  },
  {
    threat: 'record a consumer batch that never ran',
    sql: () => `insert into ledger.consumer_batches (received_at, finished_at, transfer_count, posted_count, rejected_count)
            values (now(), now(), 1, 1, 0)`,
    sqlState: '42501',
    message: () => deniedFor('consumer_batches'),
  },
  // Taking a fraud flag back.
  {
    threat: 'take a fraud flag back',
    sql: (t) =>
      `update fraud.verdicts set flag_id = null, flagged_at = null where transfer_id = ${transfer(t)}`,
    sqlState: '42501',
    message: (t) => new RegExp(`^fraud flag of transfer ${t.transferId} is set once and kept$`),
  },
  {
    threat: 'delete a verdict',
    sql: (t) => `delete from fraud.verdicts where transfer_id = ${transfer(t)}`,
    sqlState: '42501',
    message: () => deniedFor('verdicts'),
  },
  // Changing the schema or its guards.
  {
    threat: "disable the journal's append-only guard",
    sql: () => 'alter table ledger.entries disable trigger entries_no_update',
    sqlState: '42501',
    message: () => mustOwn('table', 'entries'),
  },
  {
    threat: "disable the transfers' guard",
    sql: () => 'alter table ledger.transfers disable trigger transfers_no_update',
    sqlState: '42501',
    message: () => mustOwn('table', 'transfers'),
  },
  {
    threat: 'drop an overdraft check',
    sql: () => 'alter table ledger.accounts drop constraint accounts_debits_must_not_exceed_credits',
    sqlState: '42501',
    message: () => mustOwn('table', 'accounts'),
  },
  {
    threat: 'make the engine run with the caller’s rights',
    sql: () => 'alter function ledger.post_transfers(jsonb, boolean, timestamptz) security invoker',
    sqlState: '42501',
    message: () => mustOwn('function', 'ledger.post_transfers'),
  },
  {
    threat: 'drop the outbox',
    sql: () => 'drop table ledger.outbox',
    sqlState: '42501',
    message: () => mustOwn('table', 'outbox'),
  },
  {
    threat: 'add a table to the ledger',
    sql: () => 'create table ledger.shadow (id int)',
    sqlState: '42501',
    message: () => /^permission denied for schema ledger$/,
  },
  {
    threat: 'plant a function where a search path may find it',
    sql: () =>
      'create function public.now() returns timestamptz language sql as $$ select null::timestamptz $$',
    sqlState: '42501',
    message: () => /^permission denied for schema public$/,
  },
  {
    threat: 'stop all posting by locking the journal',
    sql: () => 'lock table ledger.entries in access exclusive mode',
    sqlState: '42501',
    message: () => deniedFor('entries'),
  },
  // Becoming the owner.
  {
    threat: 'become the owner',
    sql: () => 'set role postgres',
    sqlState: '42501',
    message: () => /^permission denied to set role "postgres"$/,
  },
];

/**
 * Runs `sql` inside a transaction that is always rolled back (so a statement that wrongly
 * succeeds changes nothing) and returns the SQLSTATE and message of its failure, or `succeeded`.
 */
export async function attempt(
  pool: pg.Pool,
  sql: string,
): Promise<{ readonly sqlState: string; readonly message: string } | 'succeeded'> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    try {
      await client.query(sql);
      return 'succeeded';
    } catch (error) {
      const { code, message } = error as { code?: unknown; message?: unknown };
      return { sqlState: String(code), message: String(message) };
    } finally {
      await client.query('rollback');
    }
  } finally {
    client.release();
  }
}
