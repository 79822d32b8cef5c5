-- Least privilege in force (issue 12, section 1). The functions now connect as a login role that
-- is a member of ledgerx_app only and owns nothing (the migration function on AWS and the local
-- runtime create it, with a password that is never in a migration). Until now they connected as
-- the tables' owner, so the grants below bound nobody. This migration gives ledgerx_app exactly
-- what posting, relaying, the fraud checks and the reads need, and guards the records the ledger
-- must never rewrite with triggers as well as grants, since the owner is not bound by grants.
--
-- The threat is the application's own credentials in the wrong hands (a leaked secret, an
-- injected statement): with them one must not be able to rewrite history (update, delete or
-- truncate transfers and entries), make money (set an account's totals, write an entry or a
-- transfer beside the engine, open an account with totals already in it), take back a fraud
-- flag, or change the schema (alter or drop tables, disable triggers, replace functions).

-- Journal writes go through the engine only: ledger.post_transfers runs with its owner's rights
-- (security definer, with a pinned search path: both are in migrations/repeatable/post_transfers.sql,
-- since `create or replace` takes a function's attributes from its file each time the file is
-- applied), so the application needs no right to write transfers, entries, batches or account
-- totals itself: it may post, and only through the rules the engine applies.
--
-- Every function is executable by PUBLIC unless revoked, which made the revokes of earlier
-- migrations no-ops. Each repeatable file revokes PUBLIC's execute right on what it defines and
-- grants it to the roles that call it; here the rights PUBLIC already holds on an upgraded
-- database are taken back, and the owner's default for new functions is changed, so a function
-- someone forgets to revoke is still not PUBLIC's. (The default must be global: a default per
-- schema can only add rights, never remove a global one.)
revoke execute on all functions in schema ledger from public;
revoke execute on all functions in schema fraud from public;
alter default privileges revoke execute on functions from public;

revoke insert on ledger.transfers from ledgerx_app;
revoke insert on ledger.entries from ledgerx_app;
revoke insert on ledger.consumer_batches from ledgerx_app;

-- Accounts: opened with their rules and limits, never with totals (those start at zero and move
-- only with entries); afterwards only the velocity limits change outside the engine. A table-wide
-- revoke takes the column grants with it, so the columns that may change are granted again.
revoke insert, update on ledger.accounts from ledgerx_app;
grant insert (id, currency, code, debits_must_not_exceed_credits, credits_must_not_exceed_debits, metadata,
              velocity_window_s, velocity_max_transfers, velocity_max_amount)
  on ledger.accounts to ledgerx_app;
grant update (velocity_window_s, velocity_max_transfers, velocity_max_amount, velocity_version)
  on ledger.accounts to ledgerx_app;

-- The outbox: the engine writes posted and rejected events; the fraud checks write flags (an
-- event type and a transfer, nothing else); the relay marks what it published.
revoke insert on ledger.outbox from ledgerx_app;
grant insert (event_type, transfer_id) on ledger.outbox to ledgerx_app;

-- Transfers and fraud flags are guarded by triggers as well as grants, since the owner is not
-- bound by grants: migrations/repeatable/transfers_triggers.sql and fraud_flags_triggers.sql.
