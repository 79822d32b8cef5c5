-- Asserts what 0003_invariants created, and that it finds nothing wrong in an empty ledger.
do $$
begin
  assert to_regprocedure('ledger.check_invariants()') is not null, 'ledger.check_invariants exists';
  assert not exists (select 1 from ledger.check_invariants()), 'an empty ledger is sound';
end $$;
