-- Tamper evidence: a SHA-256 chain over the journal. Each entry, in id order, gets a link whose
-- hash covers the entry's content and the previous link's hash, so changing, removing or adding
-- an entry behind the engine's back breaks every link from there on.
--
-- The chain is written after the fact by a sealer (ledger.seal_entries, in
-- migrations/repeatable/ledger_chain.sql), not by the posting transaction: one chain head updated
-- by every posting transaction would make all posting take turns on that row, whatever accounts
-- it touches. The sealer seals, in id order, the entries whose ids can no longer be filled by a
-- transaction still in flight (docs/ledger.md, "Tamper evidence"); entries posted since wait for
-- its next run.

-- The sealer and the verifier read the journal in id order, a range of ids at a time. Entries are
-- appended in id order, so a block range index (a few pages per 32 heap pages, and nothing written
-- on most inserts) finds a range; a B-tree on id would cost every posted entry one more index
-- insert.
create index entries_id_range on ledger.entries using brin (id) with (pages_per_range = 32);

-- One link per sealed entry. entry_id is the entry's id; hash is
-- sha256(previous link's hash || the entry's content), the first link's previous hash being 32
-- zero bytes (the content's form is in ledger.chain_link_hash).
create table ledger.chain_links (
  entry_id bigint primary key,
  hash bytea not null check (octet_length(hash) = 32)
);

-- The chain's head, one row: every entry with an id up to sealed_through_entry_id is sealed (ids
-- without an entry there were never committed and never will be). horizon_entry_id and
-- horizon_xid are the sealer's next target: the highest entry id handed out when it was set, and
-- the first transaction id not yet started then; once every older transaction has ended, no entry
-- up to that id can still appear.
create table ledger.chain_state (
  singleton boolean primary key default true check (singleton),
  sealed_through_entry_id bigint not null default 0 check (sealed_through_entry_id >= 0),
  sealed_count bigint not null default 0 check (sealed_count >= 0),
  head_hash bytea not null default '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea
    check (octet_length(head_hash) = 32),
  horizon_entry_id bigint,
  horizon_xid xid8,
  sealed_at timestamptz,
  constraint chain_state_horizon_goes_together check ((horizon_entry_id is null) = (horizon_xid is null))
);

insert into ledger.chain_state default values;

-- The application reads the chain; only ledger.seal_entries (security definer) writes it.
grant select on ledger.chain_links, ledger.chain_state to ledgerx_app;
