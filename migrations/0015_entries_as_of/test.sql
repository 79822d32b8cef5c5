-- Asserts what 0015_entries_as_of made: the as-of index, on the columns the lookup reads, in
-- their order.
do $$
begin
  assert (select pg_get_indexdef('ledger.entries_account_time'::regclass))
    = 'CREATE INDEX entries_account_time ON ledger.entries USING btree (account_id, created_at, id)',
    'the as-of index is (account_id, created_at, id)';
end $$;
