-- Balances as of a time: the last entry of an account at or before an instant carries the
-- account's posted totals just after it (debits_posted_after, credits_posted_after, written by the
-- posting engine since 0001), so a balance as of any instant is one index lookup, not a scan.
--
-- For that, an account's entries must be in the same order by time as by id (the order of their
-- running totals). Until now an entry's created_at was the start of its posting transaction,
-- taken before the transaction waited for the account's row lock, so a batch that started first
-- but locked the account second wrote entries with an earlier time and later totals than the
-- batch it waited for. ledger.post_transfers (migrations/repeatable/post_transfers.sql) now stamps
-- entries with the clock read after it holds the accounts' row locks, to the millisecond.
--
-- Backfill: an entry whose time is earlier than an earlier entry of its account takes that
-- entry's time: it cannot have posted before the entry whose totals it continues. Only such rows
-- change; every other entry keeps its time. The journal's append-only triggers (defined in
-- migrations/repeatable/entries_triggers.sql, absent on a new database) are held off for this
-- statement alone, in this migration's transaction.
alter table ledger.entries disable trigger user;

update ledger.entries e
   set created_at = o.ordered_at
  from (
    select account_id, id, created_at,
           max(created_at) over (partition by account_id order by id) as ordered_at
      from ledger.entries
  ) o
 where e.account_id = o.account_id and e.id = o.id and o.ordered_at > o.created_at;

alter table ledger.entries enable trigger user;

-- The as-of lookup: the newest entry of an account at or before an instant, read backwards from
-- the instant. The id breaks ties between entries of one millisecond.
create index entries_account_time on ledger.entries (account_id, created_at, id);
