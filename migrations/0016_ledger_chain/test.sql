-- Asserts what 0016_ledger_chain made: the chain's tables, its one head row at the start, the
-- application's read-only grants, and the range index on entry ids.
do $$
begin
  assert (select count(*) from ledger.chain_state) = 1, 'the chain has one head row';
  assert (select sealed_through_entry_id = 0 and sealed_count = 0 and head_hash = '\x'::bytea || decode(repeat('00', 32), 'hex')
            from ledger.chain_state),
    'the chain starts empty, at 32 zero bytes';
  assert has_table_privilege('ledgerx_app', 'ledger.chain_links', 'select'), 'the app reads the links';
  assert not has_table_privilege('ledgerx_app', 'ledger.chain_links', 'insert'), 'the app does not write links';
  assert not has_table_privilege('ledgerx_app', 'ledger.chain_state', 'update'), 'the app does not move the head';
  assert (select pg_get_indexdef('ledger.entries_id_range'::regclass))
    = 'CREATE INDEX entries_id_range ON ledger.entries USING brin (id) WITH (pages_per_range=''32'')',
    'entry ids have a range index';

  -- A second head row is refused.
  begin
    insert into ledger.chain_state default values;
    assert false, 'a second head row is refused';
  exception when unique_violation then null;
  end;
end $$;
