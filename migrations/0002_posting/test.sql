-- Asserts what 0002_posting created. It runs on the fully migrated schema, where 0006 replaced
-- the function with one that takes the batch's receive time too; a call with two arguments
-- still reaches it.
do $$
declare
  _posting regprocedure := to_regproc('ledger.post_transfers')::oid::regprocedure;
begin
  assert _posting is not null, 'ledger.post_transfers exists, in one form';
  assert has_function_privilege('ledgerx_app', _posting, 'execute'), 'the app may post transfers';
  assert (select prosecdef from pg_proc where oid = _posting) = false,
    'posting runs with the caller''s rights, so grants still bind';
  assert ledger.exists_result(null, null, 5, 'USD', '{}', null, null, 5, 'USD', '{}') = 'exists',
    'the same transfer again is exists';
  assert ledger.exists_result(null, null, 5, 'USD', '{}', null, null, 6, 'EUR', '{}')
    = 'exists_with_different_amount', 'the first differing field in rule order names the result';
end $$;
