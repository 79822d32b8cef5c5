-- Asserts what 0005_event_receipts created, and that a repeated delivery only counts.
do $$
declare
  _count int;
begin
  assert to_regclass('ledger.event_receipts') is not null, 'ledger.event_receipts exists';
  assert has_table_privilege('ledgerx_app', 'ledger.event_receipts', 'insert'), 'the app may record receipts';
  assert has_column_privilege('ledgerx_app', 'ledger.event_receipts', 'delivery_count', 'update'),
    'the app may count deliveries';
  assert not has_column_privilege('ledgerx_app', 'ledger.event_receipts', 'event_type', 'update'),
    'the app may not rewrite what a receipt is about';
  assert not has_table_privilege('ledgerx_app', 'ledger.event_receipts', 'delete'), 'receipts are kept';

  -- Planted, delivered again, seen, then undone.
  begin
    insert into ledger.event_receipts (event_id, event_type, transfer_id)
    values ('00000000-0000-4000-8000-0000000000e1', 'transfer.posted', '00000000-0000-4000-8000-000000000001');
    insert into ledger.event_receipts as r (event_id, event_type, transfer_id)
    values ('00000000-0000-4000-8000-0000000000e1', 'transfer.posted', '00000000-0000-4000-8000-000000000001')
    on conflict (event_id) do update set delivery_count = r.delivery_count + 1;
    select delivery_count into _count from ledger.event_receipts
     where event_id = '00000000-0000-4000-8000-0000000000e1';
    assert _count = 2, 'a second delivery of one event counts, and adds no row';
    begin
      insert into ledger.event_receipts (event_id, event_type, transfer_id)
      values (gen_random_uuid(), 'transfer.lost', gen_random_uuid());
      assert false, 'an unknown event type is refused';
    exception when check_violation then null;
    end;
    raise exception 'undo the planted receipt' using errcode = 'LXT01';
  exception when sqlstate 'LXT01' then null;
  end;
end $$;
