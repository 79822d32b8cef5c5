-- LedgerX core schema: accounts, transfers, the append-only entries journal, the outbox, and
-- the poison-message log. The triggers that keep the journal append-only and balanced, the view
-- that builds the outbox's events and the posting function are in migrations/repeatable/.
--
-- Amounts are bigint minor units. A transfer is the atomic unit of posting; its legs are entries,
-- and the entries of one transfer sum to zero per currency (checked per insert statement by a
-- trigger, migrations/repeatable/entries_triggers.sql).
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

create table ledger.outbox (
  id bigint generated always as identity primary key,
  event_type text not null check (event_type in ('transfer.posted', 'transfer.rejected')),
  transfer_id uuid not null,
  created_at timestamptz not null default now(),
  published_at timestamptz
);

create index outbox_unpublished on ledger.outbox (id) where published_at is null;

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
