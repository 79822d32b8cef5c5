-- Asserts what 0006_consumer_activity created: the pick-up time of a transfer, the batches table
-- and its grants, and the outbox keyed by transfer and event type. repeatable/post_transfers.test.sql
-- asserts that posting fills them.
do $$
begin
  assert to_regclass('ledger.consumer_batches') is not null, 'ledger.consumer_batches exists';
  assert (select data_type from information_schema.columns
           where table_schema = 'ledger' and table_name = 'transfers' and column_name = 'picked_up_at')
         = 'timestamp with time zone', 'a transfer has a pick-up time';
  -- 0011: the engine records the batches with its owner's rights; the app reads them.
  assert has_table_privilege('ledgerx_app', 'ledger.consumer_batches', 'select'), 'the app may read batches';
  assert not has_table_privilege('ledgerx_app', 'ledger.consumer_batches', 'update'), 'batches are not rewritten';
  assert (select array_agg(a.attname::text order by k.n)
            from pg_constraint c
           cross join unnest(c.conkey) with ordinality as k(attnum, n)
            join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.attnum
           where c.conname = 'outbox_pkey' and c.conrelid = 'ledger.outbox'::regclass)
         = array['transfer_id', 'event_type'], 'the outbox is keyed by transfer and event type';

  begin
    insert into ledger.consumer_batches (received_at, finished_at, transfer_count, posted_count, rejected_count)
    values (now(), now(), 2, 2, 1);
    assert false, 'a batch with more outcomes than transfers is refused';
  exception when check_violation then null;
  end;
end $$;
