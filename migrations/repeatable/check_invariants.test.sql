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

  -- Money held with no open hold behind it is reported.
  begin
    insert into ledger.accounts (id, currency, debits_pending)
    values ('00000000-0000-4000-8000-0000000000f3', 'USD', 5);
    assert exists (select 1 from ledger.check_invariants()
                    where invariant = 'pending_totals_equal_open_holds'
                      and subject = '00000000-0000-4000-8000-0000000000f3'),
      'pending totals that no hold explains are reported';
    raise exception 'undo the planted account' using errcode = 'LXT01';
  exception when sqlstate 'LXT01' then null;
  end;

  -- A pending transfer without its hold is reported.
  begin
    insert into ledger.transfers (id, kind, debit_account_id, credit_account_id, amount, currency, status,
                                  accepted_at, timeout_s)
    values ('00000000-0000-4000-8000-0000000000f4', 'pending', gen_random_uuid(), gen_random_uuid(), 5, 'USD',
            'pending', now(), 60);
    insert into ledger.outbox (event_type, transfer_id)
    values ('transfer.pending', '00000000-0000-4000-8000-0000000000f4');
    assert exists (select 1 from ledger.check_invariants()
                    where invariant = 'pending_transfer_has_its_hold'
                      and subject = '00000000-0000-4000-8000-0000000000f4'),
      'a pending transfer without its hold is reported';
    raise exception 'undo the planted transfer' using errcode = 'LXT01';
  exception when sqlstate 'LXT01' then null;
  end;

  -- Reversals that move back more than their original moved are reported.
  begin
    insert into ledger.transfers (id, debit_account_id, credit_account_id, amount, currency, status, accepted_at)
    values ('00000000-0000-4000-8000-0000000000f5', '00000000-0000-4000-8000-0000000000a5',
            '00000000-0000-4000-8000-0000000000a6', 5, 'USD', 'posted', now());
    insert into ledger.transfers (id, kind, debit_account_id, credit_account_id, amount, currency, status,
                                  accepted_at, reverses_id)
    values ('00000000-0000-4000-8000-0000000000f6', 'reversal', '00000000-0000-4000-8000-0000000000a6',
            '00000000-0000-4000-8000-0000000000a5', 3, 'USD', 'posted', now(), '00000000-0000-4000-8000-0000000000f5'),
           ('00000000-0000-4000-8000-0000000000f7', 'reversal', '00000000-0000-4000-8000-0000000000a6',
            '00000000-0000-4000-8000-0000000000a5', 3, 'USD', 'posted', now(), '00000000-0000-4000-8000-0000000000f5');
    assert exists (select 1 from ledger.check_invariants()
                    where invariant = 'reversals_within_original'
                      and subject = '00000000-0000-4000-8000-0000000000f5'),
      'reversals past their original''s amount are reported';
    assert not exists (select 1 from ledger.check_invariants() where invariant = 'reversal_fits_its_original'),
      'reversals with the original''s accounts swapped fit it';
    raise exception 'undo the planted reversals' using errcode = 'LXT01';
  exception when sqlstate 'LXT01' then null;
  end;

  -- An account whose state no change explains is reported.
  begin
    insert into ledger.accounts (id, currency, status) values ('00000000-0000-4000-8000-0000000000f8', 'USD', 'frozen');
    assert exists (select 1 from ledger.check_invariants()
                    where invariant = 'account_status_follows_its_changes'
                      and subject = '00000000-0000-4000-8000-0000000000f8'),
      'a frozen account without its change is reported';
    raise exception 'undo the planted account' using errcode = 'LXT01';
  exception when sqlstate 'LXT01' then null;
  end;

  -- An atomic set with a posted leg and a rejected one is reported.
  begin
    insert into ledger.transfers (id, currency, status, reason, accepted_at)
    values ('00000000-0000-4000-8000-0000000000f3', 'USD', 'rejected', 'linked_transfer_failed', now());
    insert into ledger.outbox (event_type, transfer_id)
    values ('transfer.rejected', '00000000-0000-4000-8000-0000000000f3');
    insert into ledger.atomic_set_legs (transfer_id, set_id, position)
    values ('00000000-0000-4000-8000-0000000000f3', '00000000-0000-4000-8000-0000000000f3', 0),
           ('00000000-0000-4000-8000-0000000000f4', '00000000-0000-4000-8000-0000000000f3', 1);
    assert exists (select 1 from ledger.check_invariants()
                    where invariant = 'atomic_set_all_or_nothing'
                      and subject = '00000000-0000-4000-8000-0000000000f3'),
      'a set with a leg missing is reported';
    raise exception 'undo the planted set' using errcode = 'LXT01';
  exception when sqlstate 'LXT01' then null;
  end;
end $$;
