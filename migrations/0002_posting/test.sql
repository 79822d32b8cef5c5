-- Asserts what 0002_posting created.
do $$
begin
  assert to_regprocedure('ledger.post_transfers(jsonb, boolean)') is not null, 'ledger.post_transfers exists';
  assert has_function_privilege('ledgerx_app', 'ledger.post_transfers(jsonb, boolean)', 'execute'),
    'the app may post transfers';
  assert (select prosecdef from pg_proc where oid = 'ledger.post_transfers(jsonb, boolean)'::regprocedure) = false,
    'posting runs with the caller''s rights, so grants still bind';
  assert ledger.exists_result(null, null, 5, 'USD', '{}', null, null, 5, 'USD', '{}') = 'exists',
    'the same transfer again is exists';
  assert ledger.exists_result(null, null, 5, 'USD', '{}', null, null, 6, 'EUR', '{}')
    = 'exists_with_different_amount', 'the first differing field in rule order names the result';
end $$;
