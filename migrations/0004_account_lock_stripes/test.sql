-- Asserts what 0004_account_lock_stripes created.
do $$
begin
  assert (select count(*) from pg_tables where schemaname = 'ledger_lock') = 4096, 'there are 4096 stripes';
  assert to_regclass('ledger_lock.stripe_000') is not null and to_regclass('ledger_lock.stripe_fff') is not null,
    'stripes are named by three hex digits';
  assert has_table_privilege('ledgerx_app', 'ledger_lock.stripe_abc', 'update'),
    'the app may lock stripes';
  assert not has_table_privilege('ledgerx_app', 'ledger_lock.stripe_abc', 'insert'),
    'stripes hold no rows';
end $$;
