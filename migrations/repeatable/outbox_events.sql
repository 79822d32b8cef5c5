-- ledger.outbox_events: the outbox rows with the event each one publishes (read by the outbox
-- relay and by the tests that follow a transfer's trail).
--
-- This file is applied again whenever it changes (docs/database.md). `create or replace view` may
-- only add columns at the end; renaming or removing one needs `drop view` first, here.

-- The events as they are published: the transfer is immutable, so its event is built when it is
-- read rather than stored twice. The event id is derived from the subject and the event type, so
-- it is stable across every publication of the same event and consumers can deduplicate on it.
--
-- An outbox row's `transfer_id` is the id of the event's subject: a transfer for the transfer.*
-- events (`subject` 'transfer', the payload is the transfer), an account change of
-- ledger.account_changes for the account.* events (`subject` 'account', the payload is the
-- account's new state). A `transfer.expired` event is about the pending transfer, whose status
-- it says is `expired`.
create or replace view ledger.outbox_events as
select o.id, md5(o.transfer_id::text || '/' || o.event_type)::uuid as event_id, o.event_type, o.transfer_id,
       o.created_at, o.published_at,
       jsonb_build_object(
         'id', t.id, 'kind', t.kind,
         'status', case when o.event_type = 'transfer.expired' then 'expired' else t.status end,
         'reason', t.reason,
         'debit_account_id', t.debit_account_id, 'credit_account_id', t.credit_account_id,
         'amount', t.amount::text, 'currency', t.currency, 'metadata', t.metadata,
         'accepted_at', t.accepted_at, 'processed_at', t.processed_at,
         'pending_id', t.pending_id, 'reverses', t.reverses_id, 'timeout_s', t.timeout_s,
         'expires_at', p.expires_at) as payload,
       'transfer'::text as subject
  from ledger.outbox o
  join ledger.transfers t on t.id = o.transfer_id
  left join ledger.pending_transfers p
    on t.kind = 'pending' and p.debit_account_id = t.debit_account_id and p.transfer_id = t.id
 where o.event_type like 'transfer.%'
union all
select o.id, md5(o.transfer_id::text || '/' || o.event_type)::uuid, o.event_type, o.transfer_id,
       o.created_at, o.published_at,
       jsonb_build_object(
         'id', c.account_id, 'status', c.status, 'action', c.action, 'change_id', c.id,
         'changed_at', c.changed_at),
       'account'::text
  from ledger.outbox o
  join ledger.account_changes c on c.id = o.transfer_id
 where o.event_type like 'account.%';

grant select on ledger.outbox_events to ledgerx_app;
