-- The expiry sweep: ledger.expire_pending_transfers releases the holds whose timeout has passed
-- by `_now`, oldest expiry first, at most `_count_max` of them, and returns their ids. Each
-- expired hold's amount leaves its accounts' pending totals, its row says `expired` (resolved at
-- `_now`), and one `transfer.expired` event about the pending transfer goes to the outbox, all in
-- the caller's transaction.
--
-- It runs in READ COMMITTED, not SERIALIZABLE: it locks the accounts of the holds it found, in id
-- order (as the posting function does, so the two never deadlock), and only then marks the holds
-- that are still open, re-read under those locks: a hold that a batch posted or voided meanwhile
-- is left alone. A posting batch that read a hold before the sweep changed it fails on the
-- account's row lock with 40001 and is retried, since the sweep changed the account too. So it
-- needs no predicate locks on the expiry index, which every new hold is inserted into.
--
-- `_now` is the caller's clock, so tests run time forward without waiting. A post that comes
-- after a timeout is `pending_transfer_expired` whether or not the sweep has run
-- (repeatable/post_transfers.sql); the sweep gives the money back and says so.
--
-- Applied again whenever it changes (docs/database.md).

create or replace function ledger.expire_pending_transfers(_now timestamptz, _count_max int)
returns table (transfer_id uuid)
language plpgsql
-- Runs with its owner's rights: it writes account state, totals and the outbox, which the
-- application role may not write directly (docs/database.md, the rule for a new function).
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  _sweep_size_max constant int := 1000;
  _debit_ids uuid[];
  _transfer_ids uuid[];
  _credit_ids uuid[];
begin
  if _now is null or _count_max is null or _count_max < 1 or _count_max > _sweep_size_max then
    raise exception 'expire_pending_transfers takes a time and 1 to % holds, got % and %',
      _sweep_size_max, _now, _count_max using errcode = 'invalid_parameter_value';
  end if;

  select array_agg(p.debit_account_id), array_agg(p.transfer_id), array_agg(p.credit_account_id)
    into _debit_ids, _transfer_ids, _credit_ids
    from (
      select x.debit_account_id, x.transfer_id, x.credit_account_id
        from ledger.pending_transfers x
       where x.status = 'pending' and x.expires_at <= _now
       order by x.expires_at
       limit _count_max
    ) p;
  if _transfer_ids is null then
    return;
  end if;

  perform 1 from ledger.accounts a
   where a.id = any(_debit_ids || _credit_ids)
   order by a.id
     for update;

  return query
  with expired as (
    update ledger.pending_transfers p
       set status = 'expired', resolved_at = _now
      from unnest(_debit_ids, _transfer_ids) as c(debit_account_id, transfer_id)
     where p.debit_account_id = c.debit_account_id and p.transfer_id = c.transfer_id
       and p.status = 'pending' and p.expires_at <= _now
    returning p.transfer_id, p.debit_account_id, p.credit_account_id, p.amount
  ),
  released as (
    select s.account_id, sum(s.debits)::bigint as debits, sum(s.credits)::bigint as credits
      from (
        select e.debit_account_id as account_id, e.amount as debits, 0::bigint as credits from expired e
        union all
        select e.credit_account_id, 0::bigint, e.amount from expired e
      ) s
     group by s.account_id
  ),
  -- Data-modifying parts of a WITH run to completion whether or not their rows are read.
  totals as (
    update ledger.accounts a
       set debits_pending = a.debits_pending - r.debits,
           credits_pending = a.credits_pending - r.credits,
           version = a.version + 1
      from released r
     where a.id = r.account_id
  ),
  events as (
    insert into ledger.outbox (event_type, transfer_id)
    select 'transfer.expired', e.transfer_id from expired e
    returning transfer_id
  )
  select ev.transfer_id from events ev;
end $$;

revoke execute on function ledger.expire_pending_transfers(timestamptz, int) from public;
grant execute on function ledger.expire_pending_transfers(timestamptz, int) to ledgerx_app;
