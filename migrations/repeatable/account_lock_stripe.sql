-- ledger.account_lock_stripe: the lock stripe of an account, in SQL. Posting transactions lock the
-- stripes of every account they touch, in stripe order, before their first query (the tables and
-- the reason are in migrations/0004_account_lock_stripes). The stripe is the value of the last
-- three hex digits of the account's id; shared/adapters/postgres/ledger-store.ts computes the same
-- rule in TypeScript, and this function is its reference for anyone reading the database.

create or replace function ledger.account_lock_stripe(_account_id uuid) returns text
language sql immutable as $$
  select 'ledger_lock.stripe_' || right(_account_id::text, 3)
$$;

revoke execute on function ledger.account_lock_stripe(uuid) from public;
grant execute on function ledger.account_lock_stripe(uuid) to ledgerx_app;
