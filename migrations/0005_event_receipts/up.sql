-- What the transfer events consumer received: one row per event id, however often the event was
-- delivered. EventBridge and SQS deliver at least once and the outbox relay may publish an event
-- twice (a crash between PutEvents and marking the row), so the event id is the primary key and a
-- repeat only counts the delivery. A consumer with side effects would check this table first.
create table ledger.event_receipts (
  event_id uuid primary key,
  event_type text not null check (event_type in ('transfer.posted', 'transfer.rejected')),
  transfer_id uuid not null,
  first_received_at timestamptz not null default now(),
  delivery_count int not null default 1 check (delivery_count >= 1)
);

create index event_receipts_transfer on ledger.event_receipts (transfer_id);

-- The app records receipts and counts deliveries; it never rewrites which event a row is about.
grant select, insert on ledger.event_receipts to ledgerx_app;
grant update (delivery_count) on ledger.event_receipts to ledgerx_app;
