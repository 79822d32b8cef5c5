-- Two-phase transfers and reversals (issue 13). A transfer now has a kind, as TigerBeetle's flags
-- say it: a plain `transfer`; a `pending` one that holds money (debits and credits pending) until
-- it is posted, voided or expires; the `post_pending` and `void_pending` transfers that resolve a
-- pending one and name it (`pending_id`); and a `reversal`, which moves money back and names the
-- transfer it reverses (`reverses_id`).
--
-- Transfers stay immutable: a pending transfer is recorded once with the status `pending`, and
-- what became of it (posted, voided, expired) lives in ledger.pending_transfers, the one mutable
-- record of a hold. The posting function (repeatable/post_transfers.sql) and the expiry sweep
-- (repeatable/expire_pending_transfers.sql) change it under the locks of both its accounts.
--
-- The new constraints are looser than the ones they replace, so they are added NOT VALID and then
-- validated: the validation scans the table without blocking writes.

-- A hold lasts from 1 second to 30 days (shared/domain/transfer.ts says the same).
create domain ledger.pending_timeout_s as integer check (value between 1 and 2592000);

-- Adding a column with a constant default rewrites no row.
alter table ledger.transfers
  add column kind text not null default 'transfer',
  add column timeout_s ledger.pending_timeout_s,
  add column pending_id uuid,
  add column reverses_id uuid;

alter table ledger.transfers add constraint transfers_kind_check
  check (kind in ('transfer', 'pending', 'post_pending', 'void_pending', 'reversal')) not valid;
alter table ledger.transfers validate constraint transfers_kind_check;

-- Each kind carries the field that makes it what it is, and no other kind does.
alter table ledger.transfers add constraint transfers_kind_fields check (
  (kind = 'pending') = (timeout_s is not null)
  and (kind in ('post_pending', 'void_pending')) = (pending_id is not null)
  and (kind = 'reversal') = (reverses_id is not null)
) not valid;
alter table ledger.transfers validate constraint transfers_kind_fields;

-- The statuses: a pending transfer is recorded `pending`, a void `voided`; what a pending
-- transfer became later is in ledger.pending_transfers.
alter table ledger.transfers drop constraint transfers_status_check;
alter table ledger.transfers add constraint transfers_status_check check (
  case kind
    when 'pending' then status in ('pending', 'rejected')
    when 'void_pending' then status in ('voided', 'rejected')
    else status in ('posted', 'rejected')
  end
) not valid;
alter table ledger.transfers validate constraint transfers_status_check;

-- The closed set of rejection reasons, shared/domain/results.ts in check order.
alter table ledger.transfers drop constraint transfers_reason_check;
alter table ledger.transfers add constraint transfers_reason_check check (reason in (
  'accounts_must_be_different',
  'pending_transfer_not_found',
  'pending_transfer_not_pending',
  'pending_transfer_already_posted',
  'pending_transfer_already_voided',
  'pending_transfer_expired',
  'exceeds_pending_transfer_amount',
  'transfer_not_found',
  'transfer_not_posted',
  'exceeds_reversible_amount',
  'debit_account_not_found',
  'credit_account_not_found',
  'debit_account_closed',
  'credit_account_closed',
  'debit_account_frozen',
  'credit_account_frozen',
  'currency_mismatch',
  'overflows_debits_pending',
  'overflows_credits_pending',
  'overflows_debits_posted',
  'overflows_credits_posted',
  'exceeds_credits',
  'exceeds_debits'
)) not valid;
alter table ledger.transfers validate constraint transfers_reason_check;

-- A post, void or reversal records the accounts, amount and currency of the transfer it names; one
-- that named a transfer the ledger does not know is rejected with no accounts and no currency, and
-- keeps the amount it asked for, if any.
alter table ledger.transfers drop constraint transfers_two_account_fields_go_together;
alter table ledger.transfers add constraint transfers_two_account_fields_go_together check (
  (debit_account_id is null) = (credit_account_id is null)
  and (kind in ('post_pending', 'void_pending', 'reversal') or (debit_account_id is null) = (amount is null))
) not valid;
alter table ledger.transfers validate constraint transfers_two_account_fields_go_together;

alter table ledger.transfers alter column currency drop not null;
alter table ledger.transfers add constraint transfers_currency_known check (
  currency is not null or (kind in ('post_pending', 'void_pending', 'reversal') and status = 'rejected')
) not valid;
alter table ledger.transfers validate constraint transfers_currency_known;

-- A transfer's reversals are found by the transfer they reverse, to sum what was moved back.
-- Partial: only reversals are in it, so other transfers cost no index insert.
create index transfers_reversals on ledger.transfers (reverses_id) where reverses_id is not null;

-- One row per pending transfer that held money: its accounts, amount, expiry and what became of
-- it. The key starts with the debit account, so a post or void finds the row through the debit
-- account the API found it under (the message carries it) without reading the transfers' index,
-- whose right edge every batch inserts into: under SERIALIZABLE such a read would lock the
-- page concurrent batches insert into and fail them with 40001. Rows of one account are changed
-- only by transactions that hold that account's row lock.
create table ledger.pending_transfers (
  debit_account_id uuid not null,
  transfer_id uuid not null,
  credit_account_id uuid not null,
  amount bigint not null check (amount > 0),
  currency ledger.currency_code not null,
  -- From the posting batch's clock plus the timeout; a post or void at or after it is too late.
  expires_at timestamptz not null,
  status text not null default 'pending' check (status in ('pending', 'posted', 'voided', 'expired')),
  -- What the post moved (at most the amount; the rest was released).
  posted_amount bigint check (posted_amount > 0 and posted_amount <= amount),
  -- The post or void transfer that resolved it; none for an expired one.
  resolved_by uuid,
  resolved_at timestamptz,
  primary key (debit_account_id, transfer_id),
  constraint pending_transfers_resolution_fits_status check (
    (status = 'pending') = (resolved_at is null)
    and (status in ('posted', 'voided')) = (resolved_by is not null)
    and (status = 'posted') = (posted_amount is not null)
  )
);

-- The expiry sweep reads the open holds, oldest expiry first.
create index pending_transfers_expiry on ledger.pending_transfers (expires_at) where status = 'pending';

-- The app reads holds; the engine and the expiry sweep (security definer) record and resolve them.
grant select on ledger.pending_transfers to ledgerx_app;

-- The outbox carries the new outcomes: a recorded pending transfer, a void, and the expiry of a
-- hold (an event about the pending transfer itself, written by the sweep).
alter table ledger.outbox drop constraint outbox_event_type_check;
alter table ledger.outbox add constraint outbox_event_type_check check (event_type in (
  'transfer.posted', 'transfer.rejected', 'transfer.flagged',
  'transfer.pending', 'transfer.voided', 'transfer.expired'
)) not valid;
alter table ledger.outbox validate constraint outbox_event_type_check;

-- The transfer-events consumer receives them too.
alter table ledger.event_receipts drop constraint event_receipts_event_type_check;
alter table ledger.event_receipts add constraint event_receipts_event_type_check check (event_type in (
  'transfer.posted', 'transfer.rejected', 'transfer.pending', 'transfer.voided', 'transfer.expired'
)) not valid;
alter table ledger.event_receipts validate constraint event_receipts_event_type_check;
