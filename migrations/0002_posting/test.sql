-- Asserts what 0002_posting created. It runs on the fully migrated schema, where 0006 replaced
-- the function with one that takes the batch's receive time too; a call with two arguments
-- still reaches it.
do $$
declare
  _posting regprocedure := to_regproc('ledger.post_transfers')::oid::regprocedure;
begin
  assert _posting is not null, 'ledger.post_transfers exists, in one form';
  assert has_function_privilege('ledgerx_app', _posting, 'execute'), 'the app may post transfers';
  -- 0010 makes the engine run with its owner's rights, so the app needs no right to write the
  -- journal itself (its test asserts that).
  assert ledger.exists_result(null, null, 5, 'USD', '{}', null, null, 5, 'USD', '{}') = 'exists',
    'the same transfer again is exists';
  assert ledger.exists_result(null, null, 5, 'USD', '{}', null, null, 6, 'EUR', '{}')
    = 'exists_with_different_amount', 'the first differing field in rule order names the result';
end $$;
