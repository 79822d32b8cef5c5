-- Account states (issue 13): an account is open, frozen (it takes part in no new transfer, though
-- its holds can still be voided or expire) or closed (final; allowed only with a posted balance of
-- zero and nothing pending). A change of state is synchronous: ledger.change_account_status
-- (repeatable/account_status.sql) locks the account's row, checks, changes it and records the
-- change with its event in one transaction, so it takes effect for every transfer posted after it.

-- A domain rather than a table CHECK: the posting function updates accounts in every batch, and a
-- domain's rule runs only when the column itself is set.
create domain ledger.account_status as text check (value in ('open', 'frozen', 'closed'));

-- A constant default rewrites no row.
alter table ledger.accounts add column status ledger.account_status not null default 'open';

-- The database's own copy of the rule for closing: a closed account is empty for good. Cheap
-- comparisons of the row's own columns, so the check costs the posting path nothing to speak of.
alter table ledger.accounts add constraint accounts_closed_is_empty check (
  status <> 'closed' or (debits_posted = credits_posted and debits_pending = 0 and credits_pending = 0)
) not valid;
alter table ledger.accounts validate constraint accounts_closed_is_empty;

-- ledger.change_account_status (security definer) changes the status; the app may not.

-- Every change of an account's state, in order: the history, and the subject of its event. The
-- id is made by the application (UUIDv7) and is what the change's outbox row names: the outbox
-- keys events by (subject id, event type), and its `transfer_id` column holds the id of the
-- event's subject, a transfer or, for the account.* events, one of these changes.
create table ledger.account_changes (
  id uuid primary key,
  -- The order of an account's changes: drawn after the change has locked the account's row, so
  -- it follows the order the changes took effect in (their start times may not).
  change_number bigint generated always as identity unique,
  account_id uuid not null references ledger.accounts (id),
  action text not null check (action in ('freeze', 'unfreeze', 'close')),
  -- The account's state after the change.
  status ledger.account_status not null,
  changed_at timestamptz not null default now()
);

create index account_changes_by_account on ledger.account_changes (account_id, change_number);

-- Changes are recorded by ledger.change_account_status, never rewritten; the app reads them.
grant select on ledger.account_changes to ledgerx_app;

alter table ledger.outbox drop constraint outbox_event_type_check;
alter table ledger.outbox add constraint outbox_event_type_check check (event_type in (
  'transfer.posted', 'transfer.rejected', 'transfer.flagged',
  'transfer.pending', 'transfer.voided', 'transfer.expired',
  'account.frozen', 'account.unfrozen', 'account.closed'
)) not valid;
alter table ledger.outbox validate constraint outbox_event_type_check;
