-- Lock stripes: 4096 empty tables that posting transactions lock, in stripe order, before their
-- first query.
--
-- In a SERIALIZABLE transaction the snapshot is taken by the first query. A batch that waits for
-- a hot account's row lock inside its first query wakes up with a snapshot older than the update
-- it waited for, and Postgres must fail it with 40001; under a hot account every waiter fails on
-- every commit and retries, and some starve. LOCK TABLE takes no snapshot, so a batch that first
-- locks the stripes of every account it touches waits in line instead, and its snapshot is
-- taken after the batch before it committed: the row locks that follow find nothing to wait for.
--
-- An account's stripe is the value of the last three hex digits of its id (ids are random);
-- migrations/repeatable/account_lock_stripe.sql states that rule in SQL. Accounts that share a
-- stripe only share a queue, never an outcome.

create schema ledger_lock;
grant usage on schema ledger_lock to ledgerx_app;

do $$
begin
  for _stripe in 0..4095 loop
    execute format('create table ledger_lock.%I ()', 'stripe_' || lpad(to_hex(_stripe), 3, '0'));
    -- LOCK TABLE in SHARE UPDATE EXCLUSIVE mode needs UPDATE (or DELETE, TRUNCATE or MAINTAIN).
    execute format('grant update on ledger_lock.%I to ledgerx_app', 'stripe_' || lpad(to_hex(_stripe), 3, '0'));
  end loop;
end $$;
