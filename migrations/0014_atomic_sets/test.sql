-- Asserts what 0014_atomic_sets left: the new rejection reason allowed beside the old ones, and
-- the legs table readable, not writable, by the app.
do $$
declare
  _debit uuid := '00000000-0000-4000-8000-000000001401';
  _credit uuid := '00000000-0000-4000-8000-000000001402';
begin
  assert to_regclass('ledger.atomic_set_legs') is not null, 'ledger.atomic_set_legs exists';
  assert has_table_privilege('ledgerx_app', 'ledger.atomic_set_legs', 'select'), 'the app reads set legs';
  assert not has_table_privilege('ledgerx_app', 'ledger.atomic_set_legs', 'insert'),
    'only the posting function writes set legs';
  begin
    insert into ledger.transfers (id, debit_account_id, credit_account_id, amount, currency, status, reason, accepted_at)
    values (gen_random_uuid(), _debit, _credit, 1, 'USD', 'rejected', 'linked_transfer_failed', now()),
           (gen_random_uuid(), _debit, _credit, 1, 'USD', 'rejected', 'exceeds_credits', now());
    raise exception 'undo the planted transfers' using errcode = 'LXT01';
  exception when sqlstate 'LXT01' then null;
  end;
  begin
    insert into ledger.transfers (id, debit_account_id, credit_account_id, amount, currency, status, reason, accepted_at)
    values (gen_random_uuid(), _debit, _credit, 1, 'USD', 'rejected', 'no_such_reason', now());
    assert false, 'an unknown reason is refused';
  exception when check_violation then null;
  end;
end $$;
