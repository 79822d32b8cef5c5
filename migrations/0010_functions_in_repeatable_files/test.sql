-- Asserts what 0010_functions_in_repeatable_files left: none of the functions it drops, and one
-- form of each function a repeatable file defines.
do $$
begin
  assert to_regprocedure('ledger.post_transfers(jsonb, boolean)') is null,
    'the first form of the posting function is gone';
  assert to_regprocedure('ledger.check_invariants_before_fraud()') is null,
    'the checks as 0003 made them are gone';
  assert to_regproc('ledger.post_transfers') is not null, 'one form of ledger.post_transfers';
  assert to_regproc('ledger.check_invariants') is not null, 'one form of ledger.check_invariants';
end $$;
