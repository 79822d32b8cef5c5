-- The pattern listener's memory of who each account has paid (issue 12, fan-out): a fan-out
-- counts only counterparties new to the account, first paid inside the window, so the listener
-- keeps when each account first paid each counterparty. It is the listener's own record, written
-- in the transaction that checks the transfer, like its window; it does not read the scorer's
-- `fraud.counterparties`, which the scorer fills at its own pace.

create table fraud.pattern_counterparties (
  account_id uuid not null,
  counterparty_id uuid not null,
  -- The earliest posted time of the account's transfers to the counterparty that the listener
  -- has seen. It only moves back (least of old and new), so events arriving out of order agree.
  first_posted_at timestamptz not null,
  primary key (account_id, counterparty_id)
);

grant select, insert, update (first_posted_at) on fraud.pattern_counterparties to ledgerx_app;

-- What the listener knew before this migration: the scorer's counterparties (first scored at
-- first_seen_at, moments after posting) and the listener's own window (exact posted times), the
-- earlier of the two. Neither table is larger than one row per account and counterparty plus two
-- days of transfers, so this reads no more than the fraud schema already holds.
insert into fraud.pattern_counterparties (account_id, counterparty_id, first_posted_at)
select account_id, counterparty_id, min(first_posted_at)
  from (
    select account_id, counterparty_id, first_seen_at as first_posted_at from fraud.counterparties
    union all
    select debit_account_id, credit_account_id, posted_at from fraud.pattern_transfers
  ) known
 group by account_id, counterparty_id;
