-- LedgerX core schema: accounts, transfers, the append-only entries journal, the outbox,
-- the poison-message log, and the batch posting function.
--
-- Amounts are bigint minor units. A transfer is the atomic unit of posting; its legs are entries,
-- and the entries of one transfer sum to zero per currency (checked per insert statement below).
-- The common two-account transfer fills debit_account_id, credit_account_id and amount; a
-- multi-leg transaction leaves those three null and is described by its entries alone.

create schema ledger;

-- The application role: it may read and append, never rewrite history.
do $$
begin
  create role ledgerx_app nologin;
exception when duplicate_object then
  null;
end $$;

grant usage on schema ledger to ledgerx_app;

-- Value rules live in domains, not in table CHECK constraints: Postgres re-evaluates every table
-- CHECK on every UPDATE, and the posting function updates an account's totals in every batch, so
-- a CHECK that serialises the metadata to text would run on each posting. A domain's rule runs
-- only when a value is stored into it: on insert, or when that column itself is set.
create domain ledger.currency_code as char(3) check (value ~ '^[A-Z]{3}$');
create domain ledger.metadata_object as jsonb
  check (jsonb_typeof(value) = 'object' and octet_length(value::text) <= 8192);

create table ledger.accounts (
  id uuid primary key,
  currency ledger.currency_code not null,
  code integer not null default 0 check (code between 0 and 65535),
  debits_must_not_exceed_credits boolean not null default false,
  credits_must_not_exceed_debits boolean not null default false,
  debits_posted bigint not null default 0 check (debits_posted >= 0),
  credits_posted bigint not null default 0 check (credits_posted >= 0),
  debits_pending bigint not null default 0 check (debits_pending >= 0),
  credits_pending bigint not null default 0 check (credits_pending >= 0),
  metadata ledger.metadata_object not null default '{}'::jsonb,
  created_at timestamptz not null default now(),
  version bigint not null default 0 check (version >= 0),
  constraint accounts_flags_are_mutually_exclusive
    check (not (debits_must_not_exceed_credits and credits_must_not_exceed_debits)),
  -- The database's own copy of the balance rules the posting function applies first.
  constraint accounts_debits_must_not_exceed_credits
    check (not debits_must_not_exceed_credits or debits_posted + debits_pending <= credits_posted),
  constraint accounts_credits_must_not_exceed_debits
    check (not credits_must_not_exceed_debits or credits_posted + credits_pending <= debits_posted)
)
-- Room on each page for the new version of a row whose totals change, so the update stays on
-- its page (a HOT update) and touches no index.
with (fillfactor = 70);

grant select, insert on ledger.accounts to ledgerx_app;
grant update (debits_posted, credits_posted, debits_pending, credits_pending, metadata, version)
  on ledger.accounts to ledgerx_app;

create table ledger.transfers (
  id uuid primary key,
  debit_account_id uuid,
  credit_account_id uuid,
  amount bigint check (amount > 0),
  currency ledger.currency_code not null,
  status text not null check (status in ('posted', 'rejected')),
  reason text check (reason in (
    'accounts_must_be_different',
    'debit_account_not_found',
    'credit_account_not_found',
    'currency_mismatch',
    'overflows_debits_posted',
    'overflows_credits_posted',
    'exceeds_credits',
    'exceeds_debits'
  )),
  metadata ledger.metadata_object not null default '{}'::jsonb,
  accepted_at timestamptz not null,
  processed_at timestamptz not null default now(),
  constraint transfers_reason_iff_rejected check ((status = 'rejected') = (reason is not null)),
  constraint transfers_two_account_fields_go_together check (
    (debit_account_id is null) = (credit_account_id is null)
    and (debit_account_id is null) = (amount is null)
  )
);

-- Transfers are recorded once, with their outcome, and never rewritten.
grant select, insert on ledger.transfers to ledgerx_app;

-- Entries and outbox rows name their transfer without a foreign key on purpose: the posting
-- function writes a transfer and its entries and event together, and a foreign-key check would
-- read ledger.transfers' primary key in every posting transaction. Under SERIALIZABLE those reads
-- take predicate locks on index pages that concurrent batches insert into, which fails innocent
-- batches with 40001, and they cost a query per row. ledger.check_invariants() checks the link.
-- Entries name their account without one too: the posting function writes entries only for
-- accounts it has just locked, accounts are never deleted (the application role may not), and a
-- foreign-key trigger per entry was the larger part of writing them (auto_explain on a batch of
-- ten transfers: the entries insert took 1.7 ms with the foreign key and 0.5 ms without).
-- Entries are read by account, newest first or from a cursor, so the primary key is
-- (account_id, id): one index serves uniqueness and the reads, and each entry costs one index
-- insert. The journal order is `id`, unique by its identity.
create table ledger.entries (
  id bigint generated always as identity,
  transfer_id uuid not null,
  account_id uuid not null,
  direction text not null check (direction in ('debit', 'credit')),
  amount bigint not null check (amount > 0),
  currency char(3) not null,
  -- The account's posted totals just after this entry: a running balance that needs no scan.
  debits_posted_after bigint not null check (debits_posted_after >= 0),
  credits_posted_after bigint not null check (credits_posted_after >= 0),
  created_at timestamptz not null default now(),
  primary key (account_id, id)
);

grant select, insert on ledger.entries to ledgerx_app;
revoke update, delete, truncate on ledger.entries from ledgerx_app;

create function ledger.entries_are_append_only() returns trigger
language plpgsql as $$
begin
  raise exception 'ledger.entries is append-only: % is not allowed', tg_op
    using errcode = 'insufficient_privilege';
end $$;

create trigger entries_no_update before update on ledger.entries
  for each row execute function ledger.entries_are_append_only();
create trigger entries_no_delete before delete on ledger.entries
  for each row execute function ledger.entries_are_append_only();
create trigger entries_no_truncate before truncate on ledger.entries
  for each statement execute function ledger.entries_are_append_only();

-- Every insert statement must leave each transfer it touches balanced per currency, so all legs
-- of a transfer are written together or the statement fails.
create function ledger.entries_must_balance() returns trigger
language plpgsql as $$
declare
  _transfer_id uuid;
  _currency char(3);
begin
  select n.transfer_id, n.currency into _transfer_id, _currency
  from new_entries n
  group by n.transfer_id, n.currency
  having sum(case n.direction when 'debit' then n.amount::numeric else -n.amount::numeric end) <> 0
  limit 1;
  if found then
    raise exception 'entries of transfer % do not sum to zero in %', _transfer_id, _currency
      using errcode = 'check_violation';
  end if;
  return null;
end $$;

create trigger entries_balance after insert on ledger.entries
  referencing new table as new_entries
  for each statement execute function ledger.entries_must_balance();

create table ledger.outbox (
  id bigint generated always as identity primary key,
  event_type text not null check (event_type in ('transfer.posted', 'transfer.rejected')),
  transfer_id uuid not null,
  created_at timestamptz not null default now(),
  published_at timestamptz
);

create index outbox_unpublished on ledger.outbox (id) where published_at is null;

-- The events as they are published: the transfer is immutable, so its event is built when it is
-- read rather than stored twice. The event id is derived from the transfer and the event type, so
-- it is stable across every publication of the same event and consumers can deduplicate on it.
create view ledger.outbox_events as
select o.id, md5(o.transfer_id::text || '/' || o.event_type)::uuid as event_id, o.event_type, o.transfer_id, o.created_at, o.published_at,
       jsonb_build_object(
         'id', t.id, 'status', t.status, 'reason', t.reason,
         'debit_account_id', t.debit_account_id, 'credit_account_id', t.credit_account_id,
         'amount', t.amount::text, 'currency', t.currency, 'metadata', t.metadata,
         'accepted_at', t.accepted_at, 'processed_at', t.processed_at) as payload
  from ledger.outbox o
  join ledger.transfers t on t.id = o.transfer_id;

grant select on ledger.outbox_events to ledgerx_app;

grant select, insert on ledger.outbox to ledgerx_app;
grant update (published_at) on ledger.outbox to ledgerx_app;

-- Queue records that could never be posted (bad JSON, bad shape), kept with the reason so they
-- are answered for once instead of being redelivered forever.
create table ledger.poison_messages (
  message_id text primary key check (length(message_id) <= 128),
  body text not null check (length(body) <= 262144),
  reason text not null check (length(reason) <= 1024),
  received_at timestamptz not null default now()
);

grant select, insert on ledger.poison_messages to ledgerx_app;
