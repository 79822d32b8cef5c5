-- What the consumer did, for the operator's view of the pipeline: when each transfer was picked
-- up (the receive time of the batch that decided it), and one row per committed batch with its
-- size, outcome counts and how long it took in the database; and the outbox keyed by transfer.
--
-- ledger.post_transfers (migrations/repeatable/post_transfers.sql) takes the batch's receive time
-- and records both in the transaction that posts the batch, so the figures never disagree with
-- the ledger.

alter table ledger.transfers add column picked_up_at timestamptz;

-- A batch's exists results (replays) are transfer_count - posted_count - rejected_count.
-- finished_at is taken just before the commit, so the commit's own wait is not in it.
create table ledger.consumer_batches (
  id bigint generated always as identity primary key,
  received_at timestamptz not null,
  finished_at timestamptz not null,
  transfer_count int not null check (transfer_count between 1 and 1000),
  posted_count int not null check (posted_count >= 0),
  rejected_count int not null check (rejected_count >= 0),
  constraint consumer_batches_counts_fit check (posted_count + rejected_count <= transfer_count)
);

-- No index beyond the key: the latest batches are the highest ids, and one more index insert per
-- batch would be paid on the posting path.

-- A transfer's events are found by the transfer: GET /v1/transfers/{id} shows when its event was
-- written and published, and the operator's view reads that for every transfer it follows. Until
-- now only the row id was indexed, so that read scanned the outbox. The key becomes (transfer_id,
-- event_type), which also says a transfer has at most one event of each type; the identity id
-- stays unique by how it is made and keeps the relay's order, through outbox_unpublished.
alter table ledger.outbox drop constraint outbox_pkey;
alter table ledger.outbox add constraint outbox_pkey primary key (transfer_id, event_type);

grant select, insert on ledger.consumer_batches to ledgerx_app;
