-- Asserts what repeatable/check_invariants.sql defines: the check finds nothing wrong in an empty
-- ledger, and reports planted violations (each planted, seen, then undone).
do $$
begin
  assert to_regprocedure('ledger.check_invariants()') is not null, 'ledger.check_invariants exists';
  assert has_function_privilege('ledgerx_app', 'ledger.check_invariants()', 'execute'),
    'the app may check the invariants';
  assert not exists (select 1 from ledger.check_invariants()), 'an empty ledger is sound';

  -- Entries name their account without a foreign key (see 0001), so the check must catch an
  -- entry whose account does not exist.
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

  -- An entry stamped earlier than the entry before it in its account's journal is reported.
  begin
    insert into ledger.entries
      (transfer_id, account_id, direction, amount, currency, debits_posted_after, credits_posted_after,
       created_at)
    values ('00000000-0000-4000-8000-000000000002', '00000000-0000-4000-8000-0000000000a1', 'debit', 1,
            'USD', 1, 0, '2026-01-31T12:00:00Z'),
           ('00000000-0000-4000-8000-000000000002', '00000000-0000-4000-8000-0000000000a2', 'credit', 1,
            'USD', 0, 1, '2026-01-31T12:00:00Z');
    insert into ledger.entries
      (transfer_id, account_id, direction, amount, currency, debits_posted_after, credits_posted_after,
       created_at)
    values ('00000000-0000-4000-8000-000000000003', '00000000-0000-4000-8000-0000000000a1', 'debit', 1,
            'USD', 2, 0, '2026-01-31T11:59:59Z'),
           ('00000000-0000-4000-8000-000000000003', '00000000-0000-4000-8000-0000000000a2', 'credit', 1,
            'USD', 0, 2, '2026-01-31T12:00:01Z');
    assert (select count(*) from ledger.check_invariants()
             where invariant = 'entry_times_follow_the_journal') = 1,
      'an entry stamped before its predecessor is reported, and only that one';
    raise exception 'undo the planted entries' using errcode = 'LXT01';
  exception when sqlstate 'LXT01' then null;
  end;

  -- A flag without its transfer.flagged event is reported; with one, it is not.
  begin
    insert into fraud.verdicts (transfer_id, debit_account_id, flag_id, flagged_at)
    values ('00000000-0000-4000-8000-0000000000f1', gen_random_uuid(), nextval('fraud.flag_ids'), now());
    assert exists (select 1 from ledger.check_invariants() where invariant = 'flag_has_one_event'),
      'a flag without a transfer.flagged event is reported';
    insert into ledger.outbox (event_type, transfer_id)
    values ('transfer.flagged', '00000000-0000-4000-8000-0000000000f1');
    assert not exists (select 1 from ledger.check_invariants() where invariant = 'flag_has_one_event'),
      'a flag with one transfer.flagged event is sound';
    -- The flagged transfer itself is missing, which the event check reports.
    assert exists (select 1 from ledger.check_invariants() where invariant = 'event_belongs_to_a_transfer'),
      'an event without its transfer is reported';
    raise exception 'undo the planted flag' using errcode = 'LXT01';
  exception when sqlstate 'LXT01' then null;
  end;

  -- A recorded transfer without its posted-or-rejected event is reported.
  begin
    insert into ledger.transfers (id, currency, status, reason, accepted_at)
    values ('00000000-0000-4000-8000-0000000000f2', 'USD', 'rejected', 'currency_mismatch', now());
    assert exists (select 1 from ledger.check_invariants()
                    where invariant = 'transfer_has_one_event'
                      and subject = '00000000-0000-4000-8000-0000000000f2'),
      'a transfer without its event is reported';
    raise exception 'undo the planted transfer' using errcode = 'LXT01';
  exception when sqlstate 'LXT01' then null;
  end;
end $$;
