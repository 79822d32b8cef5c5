-- Asserts what repeatable/check_invariants_incremental.sql defines: a step over an empty ledger
-- finds nothing; planted rows are checked once, a planted violation is found and recorded once,
-- and a later step finds nothing new. Everything planted is undone.
do $$
declare
  _step record;
  _account uuid := gen_random_uuid();
begin
  assert has_function_privilege('ledgerx_app', 'ledger.check_invariants_step(int, int, int, timestamptz)', 'execute'),
    'the app may run a step';
  select * into _step from ledger.check_invariants_step(100, 100, 100, now());
  assert _step.found_count = 0 and _step.recorded_count = 0, 'an empty ledger is sound';

  begin
    -- An account and a lone leg of a transfer that was never recorded: the balance trigger would
    -- refuse the leg, so it is planted with the triggers off.
    insert into ledger.accounts (id, currency, debits_posted) values (_account, 'USD', 5);
    set local session_replication_role = replica;
    insert into ledger.entries
      (transfer_id, account_id, direction, amount, currency, debits_posted_after, credits_posted_after)
    values ('00000000-0000-4000-8000-0000000000c1', _account, 'debit', 5, 'USD', 5, 0);
    set local session_replication_role = origin;

    select * into _step from ledger.check_invariants_step(100, 100, 100, now());
    assert _step.entry_count = 1, format('the new entry is checked once, not %s', _step.entry_count);
    assert exists (select 1 from ledger.invariant_violations
                    where invariant = 'entries_sum_to_zero' and subject = '00000000-0000-4000-8000-0000000000c1'),
      'the unbalanced transfer is recorded';
    assert exists (select 1 from ledger.invariant_violations
                    where invariant = 'entry_belongs_to_a_transfer'),
      'the entry of an unrecorded transfer is recorded';
    assert not exists (select 1 from ledger.invariant_violations where invariant = 'account_totals_equal_entries'),
      'the account''s totals equal its entries';
    select * into _step from ledger.check_invariants_step(100, 100, 100, now());
    assert _step.entry_count = 0, 'a second step checks no entry twice';
    assert _step.recorded_count = 0, 'a violation found again is not recorded again';
    raise exception 'undo the planted rows' using errcode = 'LXT01';
  exception when sqlstate 'LXT01' then null;
  end;
end $$;
