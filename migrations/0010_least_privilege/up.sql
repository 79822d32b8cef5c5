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

-- Journal writes go through the engine only. ledger.post_transfers runs with its owner's rights,
-- so the application needs no right to write transfers, entries, batches or account totals
-- itself: it may post, and only through the rules the engine applies. The engine's body names
-- every object by its schema and runs no dynamic SQL, and its search path is pinned, so a caller
-- cannot make it resolve a name to an object of the caller's choosing.
alter function ledger.post_transfers(jsonb, boolean, timestamptz) security definer;
alter function ledger.post_transfers(jsonb, boolean, timestamptz) set search_path = pg_catalog, pg_temp;

-- Every function is executable by PUBLIC unless revoked, which made the revokes of earlier
-- migrations no-ops. From now on each function's callers are named.
revoke execute on all functions in schema ledger from public;
alter default privileges in schema ledger revoke execute on functions from public;
grant execute on function ledger.post_transfers(jsonb, boolean, timestamptz) to ledgerx_app;
grant execute on function ledger.account_lock_stripe(uuid) to ledgerx_app;
grant execute on function ledger.exists_result(uuid, uuid, bigint, text, jsonb, uuid, uuid, bigint, text, jsonb)
  to ledgerx_app;
-- The invariants are read-only; a scheduled check running as the application reads them all.
grant execute on function ledger.check_invariants() to ledgerx_app;
grant execute on function ledger.check_invariants_before_fraud() to ledgerx_app;

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

-- A transfer is recorded once, with its outcome, and never rewritten: guarded like the entries,
-- so even the owner must drop or disable a trigger, on purpose, to change one.
create function ledger.transfers_are_immutable() returns trigger
language plpgsql as $$
begin
  raise exception 'ledger.transfers records each transfer once: % is not allowed', tg_op
    using errcode = 'insufficient_privilege';
end $$;
revoke execute on function ledger.transfers_are_immutable() from public;

create trigger transfers_no_update before update on ledger.transfers
  for each row execute function ledger.transfers_are_immutable();
create trigger transfers_no_delete before delete on ledger.transfers
  for each row execute function ledger.transfers_are_immutable();
create trigger transfers_no_truncate before truncate on ledger.transfers
  for each statement execute function ledger.transfers_are_immutable();

-- A fraud flag is never taken back: flag_id and flagged_at are set once (0008). The column grants
-- let the scorer and the pattern listener set them, so a trigger keeps them from being changed
-- again. Its condition is checked before the function is called, so updates that leave a flag
-- alone (every scoring) pay no function call.
create function fraud.flags_are_kept() returns trigger
language plpgsql as $$
begin
  raise exception 'fraud flag of transfer % is set once and kept', old.transfer_id
    using errcode = 'insufficient_privilege';
end $$;
revoke execute on function fraud.flags_are_kept() from public;

create trigger verdicts_keep_flags before update on fraud.verdicts
  for each row
  when (old.flagged_at is not null
        and (new.flagged_at is distinct from old.flagged_at or new.flag_id is distinct from old.flag_id))
  execute function fraud.flags_are_kept();
