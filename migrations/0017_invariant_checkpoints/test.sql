-- Asserts what 0017_invariant_checkpoints created: the checker's one-row checkpoint, the account
-- sums, the violations recorded once, the journal's range index, and the grants.
do $$
begin
  assert (select count(*) from ledger.invariant_checkpoint) = 1, 'the checkpoint has its one row';
  assert (select entry_id_checked from ledger.invariant_checkpoint) = 0, 'nothing is checked yet';
  assert to_regclass('ledger.invariant_account_sums') is not null, 'ledger.invariant_account_sums exists';
  assert to_regclass('ledger.entries_id_ranges') is not null, 'the journal has its id range index';
  assert has_table_privilege('ledgerx_app', 'ledger.invariant_checkpoint', 'update'), 'the app may advance the checkpoint';
  assert not has_table_privilege('ledgerx_app', 'ledger.invariant_checkpoint', 'insert'), 'the checkpoint stays one row';
  assert has_table_privilege('ledgerx_app', 'ledger.invariant_violations', 'insert'), 'the app may record violations';
  assert not has_table_privilege('ledgerx_app', 'ledger.invariant_violations', 'delete'), 'the app may not forget one';
  assert has_column_privilege('ledgerx_app', 'ledger.invariant_violations', 'published_at', 'update'),
    'the app may mark a violation published';
  assert not has_column_privilege('ledgerx_app', 'ledger.invariant_violations', 'detail', 'update'),
    'the app may not rewrite a violation';
  assert has_sequence_privilege('ledgerx_app', pg_get_serial_sequence('ledger.entries', 'id'), 'select'),
    'the app may read how far entry ids have been drawn';

  begin
    insert into ledger.invariant_checkpoint (id) values (false);
    assert false, 'a second checkpoint row is refused';
  exception when check_violation then null;
  end;

  begin
    insert into ledger.invariant_violations (invariant, subject, detail, found_at)
    values ('entries_sum_to_zero', 'x', 'first', now()), ('entries_sum_to_zero', 'x', 'again', now());
    assert false, 'a violation is recorded once';
  exception when unique_violation then null;
  end;
end $$;
