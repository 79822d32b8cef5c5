-- Asserts what repeatable/post_transfers.sql defines: one form of the posting function, run with
-- its owner's rights and a pinned search path, executable by the app and not by PUBLIC, that
-- records when each batch was picked up and one consumer_batches row per batch in the posting
-- transaction; and the exists results in rule order. Run by
-- test/integration/migrations.test.ts; the engine's behaviour is tested at length by
-- test/integration/posting-engine.test.ts and posting-property.test.ts.
do $$
declare
  _posting regprocedure := to_regproc('ledger.post_transfers')::oid::regprocedure;
  _debit uuid := gen_random_uuid();
  _credit uuid := gen_random_uuid();
  _received timestamptz := '2026-01-02T03:04:05.678Z';
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
  assert not has_function_privilege('public',
    'ledger.exists_result(uuid, uuid, bigint, text, jsonb, uuid, uuid, bigint, text, jsonb)', 'execute'),
    'PUBLIC may not call the engine''s helper';
  assert ledger.exists_result(null, null, 5, 'USD', '{}', null, null, 5, 'USD', '{}') = 'exists',
    'the same transfer again is exists';
  assert ledger.exists_result(null, null, 5, 'USD', '{}', null, null, 6, 'EUR', '{}')
    = 'exists_with_different_amount', 'the first differing field in rule order names the result';

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
end $$;
