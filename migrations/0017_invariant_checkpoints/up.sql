-- The incremental invariant checker's state (repeatable/check_invariants_incremental.sql reads
-- and advances it): how far the journal has been checked, what each account's checked entries
-- add up to, and the violations found, each recorded once so its event leaves once.

-- One row: the checker's position. Entries with ids up to entry_id_checked have been checked and
-- summed into ledger.invariant_account_sums. An entry id is drawn before its transaction commits,
-- so a run may only advance up to an id below which no transaction can still add an entry: the
-- frontier is the sequence's value at one run and the transactions then writing the journal
-- (their virtual transaction ids); once they have all ended, every id up to it is final.
create table ledger.invariant_checkpoint (
  id boolean primary key default true check (id),
  entry_id_checked bigint not null default 0 check (entry_id_checked >= 0),
  frontier_entry_id bigint check (frontier_entry_id >= 0),
  frontier_holders text[],
  -- The accounts are compared with their sums a slice at a time, in id order, round and round.
  account_cursor uuid,
  -- Checked entries are checked again a slice at a time (a scrub), so an entry rewritten after it
  -- was checked is found too.
  scrub_entry_id bigint not null default 0 check (scrub_entry_id >= 0),
  step_count bigint not null default 0 check (step_count >= 0),
  checked_at timestamptz,
  constraint invariant_checkpoint_frontier_goes_together
    check ((frontier_entry_id is null) = (frontier_holders is null))
);

insert into ledger.invariant_checkpoint default values;

-- What each account's checked entries (ids up to entry_id_checked) add up to, so an account's
-- totals are compared with its sums plus its few unchecked entries, never by summing its history.
-- numeric, not bigint: a sum of tampered entries may pass the bigint range.
create table ledger.invariant_account_sums (
  account_id uuid primary key,
  debits numeric not null default 0,
  credits numeric not null default 0
);

-- Each violation once, keyed by the invariant and its subject: a run that finds it again records
-- nothing new and publishes nothing new. The row is its own outbox: published_at is set once the
-- bus took its ledger.invariant_violated event.
create table ledger.invariant_violations (
  id bigint generated always as identity primary key,
  invariant text not null check (length(invariant) <= 64),
  subject text not null check (length(subject) <= 128),
  detail text not null check (length(detail) <= 1024),
  found_at timestamptz not null,
  published_at timestamptz,
  constraint invariant_violations_once unique (invariant, subject)
);

create index invariant_violations_unpublished on ledger.invariant_violations (id) where published_at is null;

-- The checker reads the journal by id ranges. A block-range index costs the posting path almost
-- nothing (the journal is append-only and ids grow with the table, so one summary per 128 pages),
-- where a b-tree on id would be one more index insert per entry.
create index entries_id_ranges on ledger.entries using brin (id) with (autosummarize = on);

grant select, update on ledger.invariant_checkpoint to ledgerx_app;
grant select, insert, update on ledger.invariant_account_sums to ledgerx_app;
grant select, insert on ledger.invariant_violations to ledgerx_app;
grant update (published_at) on ledger.invariant_violations to ledgerx_app;

-- The checker reads the journal's id sequence to know how far ids have been drawn.
do $$
begin
  execute format('grant select on sequence %s to ledgerx_app',
                 pg_get_serial_sequence('ledger.entries', 'id'));
end $$;
