-- Asserts what repeatable/outbox_events.sql defines: each outbox row's event, with an id derived
-- from the transfer and the event type and the amount as a decimal string (planted, read, undone).
do $$
declare
  _transfer uuid := '00000000-0000-4000-8000-0000000000e8';
  _event record;
begin
  assert has_table_privilege('ledgerx_app', 'ledger.outbox_events', 'select'), 'the app may read events';
  begin
    insert into ledger.transfers (id, debit_account_id, credit_account_id, amount, currency, status, accepted_at)
    values (_transfer, gen_random_uuid(), gen_random_uuid(), 9223372036854775807, 'USD', 'posted', now());
    insert into ledger.outbox (event_type, transfer_id) values ('transfer.posted', _transfer);
    select * into strict _event from ledger.outbox_events where transfer_id = _transfer;
    assert _event.event_id = md5(_transfer::text || '/transfer.posted')::uuid,
      'the event id is derived from the transfer and the event type';
    assert _event.payload ->> 'amount' = '9223372036854775807' and jsonb_typeof(_event.payload -> 'amount') = 'string',
      'the amount is a decimal string, exact at the largest amount';
    assert _event.payload ->> 'status' = 'posted' and _event.published_at is null,
      'the event carries the transfer''s status and is not published yet';
    raise exception 'undo the planted event' using errcode = 'LXT01';
  exception when sqlstate 'LXT01' then null;
  end;
end $$;
