-- Fraud checks of posted transfers (issue 4, asynchronous half): the debit accounts' learned
-- profiles, the counterparties each account has paid, the verdicts, the event ids each listener
-- has processed (so a redelivered event changes nothing), and the recent transfers the pattern
-- listener reads. A flag leaves as a `transfer.flagged` row in ledger.outbox, written in the
-- transaction that stores the verdict, and the outbox relay publishes it like any other event.

create schema fraud;
grant usage on schema fraud to ledgerx_app;

-- One row per debit account the scorer has seen. `state` is the model's profile (shared/domain/
-- fraud.ts): per feature a running count, mean and sum of squared deviations (Welford), plus the
-- decayed recent volume and count and the last transfer's time. They are statistics, so doubles;
-- no amount is stored here. The scorer locks the row (select … for update) for the whole of its
-- transaction, so two events of one account never lose an update.
create table fraud.profiles (
  account_id uuid primary key,
  state jsonb not null check (jsonb_typeof(state) = 'object'),
  observation_count int generated always as ((state ->> 'observationCount')::int) stored
    check (observation_count >= 0),
  updated_at timestamptz not null default now()
);

grant select, insert, update (state, updated_at) on fraud.profiles to ledgerx_app;

-- Who each account has paid and how often: counterparty novelty is read from here.
create table fraud.counterparties (
  account_id uuid not null,
  counterparty_id uuid not null,
  transfer_count int not null check (transfer_count >= 1),
  first_seen_at timestamptz not null default now(),
  primary key (account_id, counterparty_id)
);

grant select, insert, update (transfer_count) on fraud.counterparties to ledgerx_app;

-- Flags are listed newest first by a number drawn when the transfer is first flagged: unique and
-- increasing, so a cursor is exact where two flags share a timestamp.
create sequence fraud.flag_ids;
grant usage on sequence fraud.flag_ids to ledgerx_app;

-- One verdict per transfer. The scorer sets score, its reasons and scored_at; the pattern listener
-- adds its reasons; either may flag. A flag is never taken back (flag_id and flagged_at are set
-- once). The status is derived, so it cannot disagree with the columns.
create table fraud.verdicts (
  transfer_id uuid primary key,
  debit_account_id uuid not null,
  score double precision check (score >= 0 and score <= 1),
  reasons text[] not null default '{}' check (reasons <@ array[
    'amount_unusual', 'velocity_unusual', 'unusual_hour', 'new_counterparty', 'burst', 'fan_out',
    'structuring'
  ]::text[]),
  scored_at timestamptz,
  flag_id bigint unique,
  flagged_at timestamptz,
  status text generated always as (
    case when flagged_at is not null then 'flagged' when scored_at is not null then 'clear' else 'pending' end
  ) stored,
  constraint verdicts_score_iff_scored check ((score is null) = (scored_at is null)),
  constraint verdicts_flag_id_iff_flagged check ((flag_id is null) = (flagged_at is null))
);

grant select, insert, update (score, reasons, scored_at, flag_id, flagged_at) on fraud.verdicts to ledgerx_app;

-- What each listener has processed, by the event id the outbox derives (stable across
-- publications). Written in the transaction of the work itself, so work and receipt go together.
create table fraud.processed_events (
  listener text not null check (listener in ('scorer', 'patterns')),
  event_id uuid not null,
  transfer_id uuid not null,
  processed_at timestamptz not null default now(),
  primary key (listener, event_id)
);

grant select, insert on fraud.processed_events to ledgerx_app;

-- The pattern listener's window: each debit account's recent posted transfers. Rows older than
-- twice the longest window are deleted as the account's new transfers arrive.
create table fraud.pattern_transfers (
  transfer_id uuid primary key,
  debit_account_id uuid not null,
  credit_account_id uuid not null,
  amount bigint not null check (amount > 0),
  posted_at timestamptz not null
);

create index pattern_transfers_window on fraud.pattern_transfers (debit_account_id, posted_at);

grant select, insert, delete on fraud.pattern_transfers to ledgerx_app;

-- The outbox carries flags too.
alter table ledger.outbox drop constraint outbox_event_type_check;
alter table ledger.outbox add constraint outbox_event_type_check
  check (event_type in ('transfer.posted', 'transfer.rejected', 'transfer.flagged'));
