-- ledger.outbox_events: the outbox rows with the event each one publishes (read by the outbox
-- relay and by the tests that follow a transfer's trail).
--
-- This file is applied again whenever it changes (docs/database.md). `create or replace view` may
-- only add columns at the end; renaming or removing one needs `drop view` first, here.

-- The events as they are published: the transfer is immutable, so its event is built when it is
-- read rather than stored twice. The event id is derived from the transfer and the event type, so
-- it is stable across every publication of the same event and consumers can deduplicate on it.
create or replace view ledger.outbox_events as
select o.id, md5(o.transfer_id::text || '/' || o.event_type)::uuid as event_id, o.event_type, o.transfer_id, o.created_at, o.published_at,
       jsonb_build_object(
         'id', t.id, 'status', t.status, 'reason', t.reason,
         'debit_account_id', t.debit_account_id, 'credit_account_id', t.credit_account_id,
         'amount', t.amount::text, 'currency', t.currency, 'metadata', t.metadata,
         'accepted_at', t.accepted_at, 'processed_at', t.processed_at) as payload
  from ledger.outbox o
  join ledger.transfers t on t.id = o.transfer_id;

grant select on ledger.outbox_events to ledgerx_app;
