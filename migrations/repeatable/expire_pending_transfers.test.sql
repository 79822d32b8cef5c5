-- Asserts what repeatable/expire_pending_transfers.sql defines: the sweep releases exactly the
-- holds whose expiry has passed by the time it is given, oldest first and at most as many as
-- asked, marks them expired, gives the money back and writes one transfer.expired event each;
-- the ledger is sound after it. Planted through the posting function, swept, read, then undone.
do $$
declare
  _sweep regprocedure := to_regprocedure('ledger.expire_pending_transfers(timestamptz, integer)');
  _debit uuid := gen_random_uuid();
  _credit uuid := gen_random_uuid();
  _early uuid := '00000000-0000-7000-8000-0000000000b1';
  _late uuid := '00000000-0000-7000-8000-0000000000b2';
  _later uuid := '00000000-0000-7000-8000-0000000000b3';
  _start timestamptz := '2026-03-01T00:00:00Z';
  _swept uuid[];
begin
  assert _sweep is not null, 'ledger.expire_pending_transfers exists';
  assert has_function_privilege('ledgerx_app', _sweep, 'execute'), 'the app may sweep';
  assert (select prosecdef from pg_proc where oid = _sweep),
    'the sweep runs with its owner''s rights: it gives money back, which the app may not write';
  assert (select proconfig from pg_proc where oid = _sweep) = array['search_path=pg_catalog, pg_temp'],
    'the sweep pins its search path';
  assert not has_function_privilege('public', _sweep, 'execute'), 'PUBLIC may not sweep';
  begin
    perform ledger.expire_pending_transfers(now(), 0);
    assert false, 'a sweep of no holds is refused';
  exception when invalid_parameter_value then null;
  end;

  begin
    insert into ledger.accounts (id, currency) values (_debit, 'USD'), (_credit, 'USD');
    perform ledger.post_transfers(jsonb_build_array(
      jsonb_build_object('id', _early, 'kind', 'pending', 'debit_account_id', _debit, 'credit_account_id', _credit,
                         'amount', '5', 'currency', 'USD', 'accepted_at', _start, 'timeout_s', 10),
      jsonb_build_object('id', _late, 'kind', 'pending', 'debit_account_id', _debit, 'credit_account_id', _credit,
                         'amount', '7', 'currency', 'USD', 'accepted_at', _start, 'timeout_s', 20),
      jsonb_build_object('id', _later, 'kind', 'pending', 'debit_account_id', _debit, 'credit_account_id', _credit,
                         'amount', '11', 'currency', 'USD', 'accepted_at', _start, 'timeout_s', 30)
    ), true, _start);
    assert (select debits_pending from ledger.accounts where id = _debit) = 23, 'three holds of 23 in all';

    select array_agg(transfer_id) into _swept from ledger.expire_pending_transfers(_start + interval '9 seconds', 10);
    assert _swept is null, 'nothing expires before its time';
    select array_agg(transfer_id) into _swept from ledger.expire_pending_transfers(_start + interval '25 seconds', 1);
    assert _swept = array[_early], 'at most as many as asked, the oldest expiry first';
    select array_agg(transfer_id) into _swept from ledger.expire_pending_transfers(_start + interval '25 seconds', 10);
    assert _swept = array[_late], 'an expired hold is swept once; one not yet due stays';
    assert (select debits_pending from ledger.accounts where id = _debit) = 11
       and (select credits_pending from ledger.accounts where id = _credit) = 11,
      'the expired holds'' money is given back on both sides';
    assert (select status from ledger.pending_transfers where transfer_id = _early) = 'expired'
       and (select resolved_at from ledger.pending_transfers where transfer_id = _early)
           = _start + interval '25 seconds', 'an expired hold says so, as of the sweep''s clock';
    assert (select count(*) from ledger.outbox where event_type = 'transfer.expired'
             and transfer_id in (_early, _late)) = 2, 'one transfer.expired event per expired hold';
    assert not exists (select 1 from ledger.check_invariants()), 'the ledger is sound after a sweep';
    raise exception 'undo the planted holds' using errcode = 'LXT01';
  exception when sqlstate 'LXT01' then null;
  end;
end $$;
