-- Asserts what 0006_consumer_activity created: a posted batch records when it was picked up and
-- one consumer_batches row with its counts, in the posting transaction.
do $$
declare
  _debit uuid := gen_random_uuid();
  _credit uuid := gen_random_uuid();
  _received timestamptz := '2026-01-02T03:04:05.678Z';
  _batch record;
  _picked_up timestamptz;
  _batches_before bigint;
begin
  assert to_regclass('ledger.consumer_batches') is not null, 'ledger.consumer_batches exists';
  -- 0010: the engine records the batches with its owner's rights; the app reads them.
  assert has_table_privilege('ledgerx_app', 'ledger.consumer_batches', 'select'), 'the app may read batches';
  assert not has_table_privilege('ledgerx_app', 'ledger.consumer_batches', 'update'), 'batches are not rewritten';
  assert to_regprocedure('ledger.post_transfers(jsonb, boolean)') is null, 'the old form is gone';
  assert (select array_agg(a.attname::text order by k.n)
            from pg_constraint c
           cross join unnest(c.conkey) with ordinality as k(attnum, n)
            join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.attnum
           where c.conname = 'outbox_pkey' and c.conrelid = 'ledger.outbox'::regclass)
         = array['transfer_id', 'event_type'], 'the outbox is keyed by transfer and event type';
  assert has_function_privilege('ledgerx_app', 'ledger.post_transfers(jsonb, boolean, timestamptz)', 'execute'),
    'the app may post';

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
