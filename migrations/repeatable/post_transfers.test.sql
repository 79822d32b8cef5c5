-- Asserts what repeatable/post_transfers.sql defines: one form of the posting function, run with
-- its owner's rights and a pinned search path, executable by the app and not by PUBLIC, that
-- records when each batch was picked up and one consumer_batches row per batch in the posting
-- transaction; the exists results in rule order; and a hold made, then posted in part by a later
-- batch, judged by each batch's clock. Run by
-- test/integration/migrations.test.ts; the engine's behaviour is tested at length by
-- test/integration/posting-engine.test.ts and posting-property.test.ts.
do $$
declare
  _posting regprocedure := to_regproc('ledger.post_transfers')::oid::regprocedure;
  _debit uuid := gen_random_uuid();
  _credit uuid := gen_random_uuid();
  _received timestamptz := '2026-01-02T03:04:05.678Z';
  _hold uuid := '00000000-0000-7000-8000-0000000000a1';
  _batch record;
  _picked_up timestamptz;
  _batches_before bigint;
begin
  assert _posting is not null, 'ledger.post_transfers exists, in one form';
  assert _posting = 'ledger.post_transfers(jsonb, boolean, timestamptz)'::regprocedure,
    'the posting function takes the batch, the new-ids bet and the receive time';
  assert has_function_privilege('ledgerx_app', _posting, 'execute'), 'the app may post transfers';
  assert (select prosecdef from pg_proc where oid = _posting),
    'posting runs with its owner''s rights: the app writes the journal only through it';
  assert (select proconfig from pg_proc where oid = _posting)
         = array['search_path=pg_catalog, pg_temp', 'plan_cache_mode=force_generic_plan'],
    'posting pins its search path and plans each statement once, generically';
  assert not has_function_privilege('public', _posting, 'execute'), 'PUBLIC may not post';
  assert to_regprocedure('ledger.exists_result(uuid, uuid, bigint, text, jsonb, uuid, uuid, bigint, text, jsonb)') is null,
    'the two-account form of exists_result is gone';
  assert not has_function_privilege('public',
    'ledger.exists_result(text, uuid, integer, uuid, uuid, bigint, text, jsonb, text, uuid, integer, uuid, uuid, bigint, text, jsonb)', 'execute'),
    'PUBLIC may not call the engine''s helper';
  assert ledger.exists_result('transfer', null, null, null, null, 5, 'USD', '{}',
                              'transfer', null, null, null, null, 5, 'USD', '{}') = 'exists',
    'the same transfer again is exists';
  assert ledger.exists_result('transfer', null, null, null, null, 5, 'USD', '{}',
                              'transfer', null, null, null, null, 6, 'EUR', '{}')
    = 'exists_with_different_amount', 'the first differing field in rule order names the result';
  assert ledger.exists_result('pending', null, 60, null, null, 5, 'USD', '{}',
                              'transfer', null, null, null, null, 6, 'USD', '{}')
    = 'exists_with_different_kind', 'the kind is compared first';
  assert ledger.exists_result('post_pending', _credit, null, _debit, _credit, 5, 'USD', '{}',
                              'post_pending', _credit, null, null, null, null, null, '{}') = 'exists',
    'a post without an amount matches the amount it posted, and names no accounts';
  assert ledger.exists_result('reversal', _credit, null, _debit, _credit, 5, 'USD', '{}',
                              'reversal', _debit, null, null, null, 5, null, '{}')
    = 'exists_with_different_reverses', 'a reversal of another transfer differs in what it reverses';

  -- Planted, posted, read, then undone.
  begin
    select count(*) into _batches_before from ledger.consumer_batches;
    insert into ledger.accounts (id, currency) values (_debit, 'USD'), (_credit, 'USD');
    perform ledger.post_transfers(jsonb_build_array(
      jsonb_build_object('id', gen_random_uuid(), 'debit_account_id', _debit, 'credit_account_id', _credit,
                         'amount', '5', 'currency', 'USD', 'accepted_at', now()),
      jsonb_build_object('id', gen_random_uuid(), 'debit_account_id', _debit, 'credit_account_id', _debit,
                         'amount', '5', 'currency', 'USD', 'accepted_at', now())
    ), true, _received);
    select picked_up_at into _picked_up from ledger.transfers where debit_account_id = _debit limit 1;
    assert _picked_up = _received, 'a transfer records when its batch was received';
    assert (select count(*) from ledger.consumer_batches) = _batches_before + 1, 'one row per batch';
    select * into _batch from ledger.consumer_batches order by id desc limit 1;
    assert _batch.received_at = _received and _batch.finished_at >= _batch.received_at,
      'the batch row keeps its receive and finish times';
    assert _batch.transfer_count = 2 and _batch.posted_count = 1 and _batch.rejected_count = 1,
      'the batch row counts its outcomes';
    raise exception 'undo the planted batch' using errcode = 'LXT01';
  exception when sqlstate 'LXT01' then null;
  end;

  -- A hold, posted in part by a later batch before its expiry, and a second post too late.
  begin
    insert into ledger.accounts (id, currency) values (_debit, 'USD'), (_credit, 'USD');
    assert (select array_agg(r.result) from ledger.post_transfers(jsonb_build_array(
      jsonb_build_object('id', _hold, 'kind', 'pending', 'debit_account_id', _debit, 'credit_account_id', _credit,
                         'amount', '10', 'currency', 'USD', 'accepted_at', _received, 'timeout_s', 60)
    ), true, _received) r) = array['pending'], 'a hold is recorded pending';
    assert (select debits_pending from ledger.accounts where id = _debit) = 10, 'the hold is on the debit side';
    assert (select array_agg(r.result) from ledger.post_transfers(jsonb_build_array(
      jsonb_build_object('id', gen_random_uuid(), 'kind', 'post_pending', 'pending_id', _hold, 'amount', '4',
                         'accepted_at', _received, 'referenced',
                         jsonb_build_object('debit_account_id', _debit, 'credit_account_id', _credit,
                                            'amount', '10', 'currency', 'USD')),
      jsonb_build_object('id', gen_random_uuid(), 'kind', 'void_pending', 'pending_id', _hold,
                         'accepted_at', _received)
    ), true, _received + interval '59 seconds') r) = array['posted', 'pending_transfer_already_posted'],
      'a post within the timeout posts, and the hold is then resolved';
    assert (select row(debits_posted, debits_pending) from ledger.accounts where id = _debit) = row(4::bigint, 0::bigint),
      'four units posted, the other six released';
    assert (select status from ledger.pending_transfers where transfer_id = _hold) = 'posted', 'the hold says posted';
    assert not exists (select 1 from ledger.check_invariants()), 'the ledger is sound';
    raise exception 'undo the planted holds' using errcode = 'LXT01';
  exception when sqlstate 'LXT01' then null;
  end;
end $$;
