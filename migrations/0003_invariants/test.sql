-- Asserts what 0003_invariants created, and that it finds nothing wrong in an empty ledger.
do $$
begin
  assert to_regprocedure('ledger.check_invariants()') is not null, 'ledger.check_invariants exists';
  assert not exists (select 1 from ledger.check_invariants()), 'an empty ledger is sound';

  -- Entries name their account without a foreign key (see 0001), so the check must catch an
  -- entry whose account does not exist. Planted, seen, then undone.
  begin
    insert into ledger.entries
      (transfer_id, account_id, direction, amount, currency, debits_posted_after, credits_posted_after)
    values ('00000000-0000-4000-8000-000000000001', gen_random_uuid(), 'debit', 1, 'USD', 1, 0),
           ('00000000-0000-4000-8000-000000000001', gen_random_uuid(), 'credit', 1, 'USD', 0, 1);
    assert (select count(*) from ledger.check_invariants()
             where invariant = 'entry_belongs_to_an_account') = 2,
      'an entry of an unknown account is reported';
    raise exception 'undo the planted entries' using errcode = 'LXT01';
  exception when sqlstate 'LXT01' then null;
  end;
end $$;
