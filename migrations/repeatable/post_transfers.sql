-- The posting engine: ledger.post_transfers posts a batch of transfers in message order, in the
-- caller's (SERIALIZABLE) transaction, in one round trip; ledger.exists_result answers for a
-- transfer whose id was taken before.
--
-- Every account the batch touches is locked once, in id order, so concurrent batches never
-- deadlock and a hot account costs one lock and one row update per batch however many of the
-- batch's transfers touch it. Totals are carried in arrays while the batch is decided, so each
-- transfer's flag checks and each entry's running totals see every earlier transfer of the batch.
--
-- Input: a JSON array of messages (shared/domain/transfer.ts, `TransferMessage`), already
-- validated for shape by the caller:
-- - a transfer: {id, debit_account_id, credit_account_id, amount (decimal string), currency,
--   metadata, accepted_at}; a pending one adds kind 'pending' and timeout_s;
-- - a post or void of a pending transfer: {id, kind 'post_pending' or 'void_pending', pending_id,
--   amount (a post's, optional), metadata, accepted_at, referenced (optional)};
-- - a reversal: {id, kind 'reversal', reverses, amount (optional), metadata, accepted_at,
--   referenced (optional)}.
-- `referenced.debit_account_id` is the named transfer's debit account as the API found it: the
-- engine finds a pending transfer by it without reading the transfers' index (see
-- ledger.pending_transfers in migration 0012), and reads the transfers only when it is missing or
-- wrong. The second argument is the bet described below, the third the time the consumer received
-- the batch: the batch's clock. A pending transfer expires at the clock of the batch that posted
-- it plus its timeout, and a post or void is judged by the clock of its own batch, so a post that
-- comes after the timeout is `pending_transfer_expired` even before the sweep released the hold.
-- A direct call is picked up, and judged, when it runs.
--
-- Output: one row per input element, in input order: the transfer id and its result: 'posted',
-- 'pending' or 'voided', a rejection reason that is recorded with the transfer, or one of the
-- 'exists' family when the id was taken before (nothing is written for those).
--
-- With _ids_are_new the caller bets that no id of the batch was taken by an earlier batch, as is
-- almost always so: the function then does not read ledger.transfers for them, and inserts with
-- ON CONFLICT DO NOTHING instead, which takes no predicate lock. Under SERIALIZABLE the read
-- would lock index pages that concurrent batches insert into, and fail innocent batches with
-- 40001. If the bet is lost it raises SQLSTATE LX001 (the transaction is then void) and the
-- caller runs the batch again without it, which reads the taken ids and answers `exists`.
--
-- Each transfer records when its batch was picked up, and each batch leaves one row in
-- ledger.consumer_batches with its size and outcome counts (posted_count counts every transfer
-- that took effect: posted, pending or voided), in the transaction that posts it, so the
-- operator's figures never disagree with the ledger.
--
-- The rule order here is the one in shared/domain/rules.ts; a property test holds them together.
--
-- This file is applied again whenever it changes (docs/database.md): a change of the
-- arguments or the result type needs `drop function` of the old form first, here.
--
-- Privileges (docs/database.md, "Roles and privileges"): the engine runs with its owner's rights
-- (security definer), so the application role needs no right to write transfers, entries,
-- batches or account totals itself: it may post, and only through the rules below. The body
-- names every object by its schema and runs no dynamic SQL, and its search path is pinned, so a
-- caller cannot make it resolve a name to an object of the caller's choosing. `create or replace`
-- takes these attributes from this file each time it is applied, and keeps the grants; the
-- revokes and grants are repeated here so a new database and an upgraded one end the same.

-- The form before issue 13 compared two-account transfers only.
drop function if exists ledger.exists_result(uuid, uuid, bigint, text, jsonb, uuid, uuid, bigint, text, jsonb);

-- The result for a transfer whose id was taken before: which field differs first, or `exists`.
-- The order of the fields is the one in shared/domain/rules.ts. A post, void or reversal names no
-- accounts or currency (they are the named transfer's), and an amount it leaves out matches any.
create or replace function ledger.exists_result(
  _taken_kind text, _taken_reference_id uuid, _taken_timeout_s integer,
  _taken_debit_id uuid, _taken_credit_id uuid, _taken_amount bigint, _taken_currency text,
  _taken_metadata jsonb,
  _kind text, _reference_id uuid, _timeout_s integer,
  _debit_id uuid, _credit_id uuid, _amount bigint, _currency text, _metadata jsonb
) returns text
language sql immutable as $$
  select case
    when _taken_kind is distinct from _kind then 'exists_with_different_kind'
    when _kind in ('post_pending', 'void_pending') and _taken_reference_id is distinct from _reference_id
      then 'exists_with_different_pending_id'
    when _kind = 'reversal' and _taken_reference_id is distinct from _reference_id
      then 'exists_with_different_reverses'
    when _kind = 'pending' and _taken_timeout_s is distinct from _timeout_s then 'exists_with_different_timeout'
    when _kind in ('transfer', 'pending') and _taken_debit_id is distinct from _debit_id
      then 'exists_with_different_debit_account_id'
    when _kind in ('transfer', 'pending') and _taken_credit_id is distinct from _credit_id
      then 'exists_with_different_credit_account_id'
    when _amount is not null and _taken_amount is distinct from _amount then 'exists_with_different_amount'
    when _kind in ('transfer', 'pending') and _taken_currency is distinct from _currency
      then 'exists_with_different_currency'
    when _taken_metadata is distinct from _metadata then 'exists_with_different_metadata'
    else 'exists'
  end
$$;

revoke execute on function ledger.exists_result(
  text, uuid, integer, uuid, uuid, bigint, text, jsonb, text, uuid, integer, uuid, uuid, bigint, text, jsonb
) from public;
grant execute on function ledger.exists_result(
  text, uuid, integer, uuid, uuid, bigint, text, jsonb, text, uuid, integer, uuid, uuid, bigint, text, jsonb
) to ledgerx_app;

create or replace function ledger.post_transfers(
  _transfers jsonb, _ids_are_new boolean default false, _received_at timestamptz default null
)
returns table (transfer_id uuid, result text)
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
-- The statements' shapes do not depend on the batch, so one generic plan each serves every call
-- instead of a fresh plan per call. This is a property of the function, not a session setting.
set plan_cache_mode = force_generic_plan
as $$
#variable_conflict use_column
declare
  _batch_size_max constant int := 1000;
  _amount_max constant bigint := 9223372036854775807;
  _count int := jsonb_array_length(_transfers);
  -- When the consumer received the batch; a direct call is picked up when it runs.
  _picked_up_at timestamptz := coalesce(_received_at, transaction_timestamp());
  -- The batch's clock, by which holds are made and judged.
  _now timestamptz := _picked_up_at;
  _accepted_count int := 0;
  _rejected_count int := 0;
  -- The batch, one array element per transfer, in message order. A post, void or reversal has no
  -- accounts or currency of its own, and may have no amount.
  _ids uuid[];
  _kinds text[];
  _debit_ids uuid[];
  _credit_ids uuid[];
  _amounts bigint[];
  _currencies text[];
  _metadata jsonb[];
  _accepted_ats timestamptz[];
  _timeouts int[];
  -- The pending transfer a post or void names, or the transfer a reversal reverses, and the debit
  -- account the API found it under.
  _reference_ids uuid[];
  _hint_ids uuid[];
  _has_references boolean := false;
  _transfer jsonb;
  -- What each transfer records: its own accounts, amount and currency, or for a post, void or
  -- reversal the named transfer's (swapped for a reversal) and the amount it moved or released.
  _rec_debit_ids uuid[];
  _rec_credit_ids uuid[];
  _rec_amounts bigint[];
  _rec_currencies text[];
  -- Each transfer's result, and for a posted one its accounts' posted totals just after it.
  _results text[];
  _debit_debits_after bigint[];
  _debit_credits_after bigint[];
  _credit_debits_after bigint[];
  _credit_credits_after bigint[];
  -- The locked accounts, in id order, and their state and totals as the batch goes.
  _account_ids uuid[];
  _account_currencies text[];
  _account_debits_limited boolean[];
  _account_credits_limited boolean[];
  _account_statuses text[];
  _debits_posted bigint[];
  _credits_posted bigint[];
  _debits_pending bigint[];
  _credits_pending bigint[];
  _account_touched boolean[];
  -- Transfers recorded before this batch under one of its ids.
  _existing_ids uuid[];
  _existing_kinds text[];
  _existing_reference_ids uuid[];
  _existing_timeouts int[];
  _existing_debit_ids uuid[];
  _existing_credit_ids uuid[];
  _existing_amounts bigint[];
  _existing_currencies text[];
  _existing_metadata jsonb[];
  -- The holds the batch reads (named by its posts and voids) or makes (its pending transfers),
  -- and what becomes of them as the batch goes.
  _pend_ids uuid[];
  _pend_debit_ids uuid[];
  _pend_credit_ids uuid[];
  _pend_amounts bigint[];
  _pend_currencies text[];
  _pend_statuses text[];
  _pend_expires_ats timestamptz[];
  _pend_posted_amounts bigint[];
  _pend_resolved_by uuid[];
  _pend_resolved_ats timestamptz[];
  _pend_is_new boolean[];
  _pend_changed boolean[];
  -- Transfers a post or void names that hold nothing: never pending, or rejected.
  _named_ids uuid[];
  _named_kinds text[];
  _named_statuses text[];
  _named_debit_ids uuid[];
  -- The transfers the batch's reversals name, and what posted reversals moved back of each.
  _orig_ids uuid[];
  _orig_kinds text[];
  _orig_statuses text[];
  _orig_debit_ids uuid[];
  _orig_credit_ids uuid[];
  _orig_amounts bigint[];
  _orig_currencies text[];
  _orig_reversed bigint[];
  -- Whether any id may be taken: by an earlier batch, or earlier in this one.
  _ids_may_repeat boolean;
  _recorded_count int;
  _i int;
  _j int;
  _k int;
  _d int;
  _c int;
  _amount bigint;
  -- When the batch's entries posted: read once the accounts' row locks are held (below).
  _posted_at timestamptz;
begin
  if _count is null or _count < 1 or _count > _batch_size_max then
    raise exception 'post_transfers takes 1 to % transfers, got %', _batch_size_max, _count
      using errcode = 'invalid_parameter_value';
  end if;

  -- Arrays that some elements leave unset start full of nulls, so element i is transfer i.
  _debit_ids := array_fill(null::uuid, array[_count]);
  _credit_ids := array_fill(null::uuid, array[_count]);
  _currencies := array_fill(null::text, array[_count]);
  _timeouts := array_fill(null::int, array[_count]);
  _reference_ids := array_fill(null::uuid, array[_count]);
  _hint_ids := array_fill(null::uuid, array[_count]);

  -- Unpacked element by element: ordered aggregates would cost a sort each.
  _ids_may_repeat := false;
  for _i in 1.._count loop
    _transfer := _transfers->(_i - 1);
    _ids[_i] := (_transfer->>'id')::uuid;
    _ids_may_repeat := _ids_may_repeat or _ids[_i] = any(_ids[1:_i - 1]);
    _kinds[_i] := coalesce(_transfer->>'kind', 'transfer');
    _amounts[_i] := (_transfer->>'amount')::bigint;
    _metadata[_i] := coalesce(_transfer->'metadata', '{}'::jsonb);
    _accepted_ats[_i] := (_transfer->>'accepted_at')::timestamptz;
    if _kinds[_i] in ('transfer', 'pending') then
      _debit_ids[_i] := (_transfer->>'debit_account_id')::uuid;
      _credit_ids[_i] := (_transfer->>'credit_account_id')::uuid;
      _currencies[_i] := _transfer->>'currency';
      _timeouts[_i] := (_transfer->>'timeout_s')::int;
    else
      _has_references := true;
      _reference_ids[_i] := coalesce(_transfer->>'pending_id', _transfer->>'reverses')::uuid;
      _hint_ids[_i] := (_transfer->'referenced'->>'debit_account_id')::uuid;
    end if;
  end loop;

  if _has_references then
    -- The holds the batch's posts and voids name, found by the debit account the API found them
    -- under: one lookup each on the holds' key.
    select array_agg(p.transfer_id), array_agg(p.debit_account_id), array_agg(p.credit_account_id),
           array_agg(p.amount), array_agg(p.currency::text), array_agg(p.status), array_agg(p.expires_at),
           array_agg(p.posted_amount), array_agg(p.resolved_by), array_agg(p.resolved_at),
           array_agg(false), array_agg(false)
      into _pend_ids, _pend_debit_ids, _pend_credit_ids, _pend_amounts, _pend_currencies,
           _pend_statuses, _pend_expires_ats, _pend_posted_amounts, _pend_resolved_by,
           _pend_resolved_ats, _pend_is_new, _pend_changed
      from (
        select distinct n.hint_id, n.reference_id
          from unnest(_kinds, _reference_ids, _hint_ids) as n(kind, reference_id, hint_id)
         where n.kind in ('post_pending', 'void_pending') and n.hint_id is not null
      ) n
     cross join lateral (
       select * from ledger.pending_transfers x
        where x.debit_account_id = n.hint_id and x.transfer_id = n.reference_id
     ) p;

    -- Those not found so (no hint, a wrong one, or no hold at all) are read from the transfers:
    -- rare, since the API names the debit account whenever it found the transfer.
    select array_agg(t.id), array_agg(t.kind), array_agg(t.status), array_agg(t.debit_account_id)
      into _named_ids, _named_kinds, _named_statuses, _named_debit_ids
      from (
        select distinct n.reference_id
          from unnest(_kinds, _reference_ids) as n(kind, reference_id)
         where n.kind in ('post_pending', 'void_pending')
           and (_pend_ids is null or not n.reference_id = any(_pend_ids))
      ) n
     cross join lateral (select * from ledger.transfers x where x.id = n.reference_id) t;
    if _named_ids is not null then
      -- A pending transfer found so has its hold read by its own debit account; the rest hold
      -- nothing (a transfer that was never pending, or one that was rejected).
      with found as (
        select p.*
          from unnest(_named_ids, _named_kinds, _named_statuses, _named_debit_ids)
               as n(id, kind, status, debit_account_id)
         cross join lateral (
           select * from ledger.pending_transfers x
            where x.debit_account_id = n.debit_account_id and x.transfer_id = n.id
         ) p
         where n.kind = 'pending' and n.status = 'pending'
      )
      select _pend_ids || array_agg(f.transfer_id), _pend_debit_ids || array_agg(f.debit_account_id),
             _pend_credit_ids || array_agg(f.credit_account_id), _pend_amounts || array_agg(f.amount),
             _pend_currencies || array_agg(f.currency::text), _pend_statuses || array_agg(f.status),
             _pend_expires_ats || array_agg(f.expires_at), _pend_posted_amounts || array_agg(f.posted_amount),
             _pend_resolved_by || array_agg(f.resolved_by), _pend_resolved_ats || array_agg(f.resolved_at),
             _pend_is_new || array_agg(false), _pend_changed || array_agg(false)
        into _pend_ids, _pend_debit_ids, _pend_credit_ids, _pend_amounts, _pend_currencies,
             _pend_statuses, _pend_expires_ats, _pend_posted_amounts, _pend_resolved_by,
             _pend_resolved_ats, _pend_is_new, _pend_changed
        from found f;
    end if;

    -- The transfers the batch's reversals name, with what posted reversals moved back of each.
    select array_agg(t.id), array_agg(t.kind), array_agg(t.status), array_agg(t.debit_account_id),
           array_agg(t.credit_account_id), array_agg(t.amount), array_agg(t.currency::text),
           array_agg(coalesce((
             select sum(r.amount) from ledger.transfers r where r.reverses_id = t.id and r.status = 'posted'
           ), 0)::bigint)
      into _orig_ids, _orig_kinds, _orig_statuses, _orig_debit_ids, _orig_credit_ids, _orig_amounts,
           _orig_currencies, _orig_reversed
      from (
        select distinct n.reference_id
          from unnest(_kinds, _reference_ids) as n(kind, reference_id)
         where n.kind = 'reversal'
      ) n
     cross join lateral (select * from ledger.transfers x where x.id = n.reference_id) t;
  end if;

  -- One aggregate pass over the locked rows, so element k of every array is the same account.
  -- The rows are locked in id order by the subquery; the lookups below need no order. The
  -- accounts of the named transfers are locked too: a hold or a reversed transfer changes only
  -- under the locks of its accounts.
  select array_agg(a.id), array_agg(a.currency::text),
         array_agg(a.debits_must_not_exceed_credits), array_agg(a.credits_must_not_exceed_debits),
         array_agg(a.status::text),
         array_agg(a.debits_posted), array_agg(a.credits_posted),
         array_agg(a.debits_pending), array_agg(a.credits_pending), array_agg(false)
    into _account_ids, _account_currencies, _account_debits_limited, _account_credits_limited,
         _account_statuses, _debits_posted, _credits_posted, _debits_pending, _credits_pending,
         _account_touched
    from (
      select * from ledger.accounts
       where id = any(_debit_ids || _credit_ids || _pend_debit_ids || _pend_credit_ids
                      || _orig_debit_ids || _orig_credit_ids)
       order by id
         for update
    ) a;
  -- Entries are stamped with the clock read while the batch holds its accounts' row locks, so an
  -- account's entries are in the same order by time as by id (the order of their running totals),
  -- which a balance as of an instant relies on (migrations/0015_entries_as_of). Milliseconds, as
  -- the API shows times, so a time read from an entry finds that entry.
  _posted_at := date_trunc('milliseconds', clock_timestamp());

  select array_agg(t.id), array_agg(t.kind), array_agg(coalesce(t.pending_id, t.reverses_id)),
         array_agg(t.timeout_s::int), array_agg(t.debit_account_id), array_agg(t.credit_account_id),
         array_agg(t.amount), array_agg(t.currency::text), array_agg(t.metadata)
    into _existing_ids, _existing_kinds, _existing_reference_ids, _existing_timeouts,
         _existing_debit_ids, _existing_credit_ids, _existing_amounts, _existing_currencies,
         _existing_metadata
    from ledger.transfers t
   where not _ids_are_new and t.id = any(_ids);
  _ids_may_repeat := _ids_may_repeat or _existing_ids is not null;

  _results := array_fill(null::text, array[_count]);
  _rec_debit_ids := array_fill(null::uuid, array[_count]);
  _rec_credit_ids := array_fill(null::uuid, array[_count]);
  _rec_amounts := array_fill(null::bigint, array[_count]);
  _rec_currencies := array_fill(null::text, array[_count]);
  _debit_debits_after := array_fill(null::bigint, array[_count]);
  _debit_credits_after := array_fill(null::bigint, array[_count]);
  _credit_debits_after := array_fill(null::bigint, array[_count]);
  _credit_credits_after := array_fill(null::bigint, array[_count]);

  for _i in 1.._count loop
    if _ids_may_repeat then
      _j := array_position(_existing_ids, _ids[_i]);
      if _j is not null then
        _results[_i] := ledger.exists_result(
          _existing_kinds[_j], _existing_reference_ids[_j], _existing_timeouts[_j],
          _existing_debit_ids[_j], _existing_credit_ids[_j], _existing_amounts[_j],
          _existing_currencies[_j], _existing_metadata[_j],
          _kinds[_i], _reference_ids[_i], _timeouts[_i],
          _debit_ids[_i], _credit_ids[_i], _amounts[_i], _currencies[_i], _metadata[_i]);
        continue;
      end if;

      -- The same id earlier in this batch counts as taken before, as it was recorded.
      _j := array_position(_ids, _ids[_i]);
      if _j < _i then
        _results[_i] := ledger.exists_result(
          _kinds[_j], _reference_ids[_j], _timeouts[_j],
          _rec_debit_ids[_j], _rec_credit_ids[_j], _rec_amounts[_j], _rec_currencies[_j], _metadata[_j],
          _kinds[_i], _reference_ids[_i], _timeouts[_i],
          _debit_ids[_i], _credit_ids[_i], _amounts[_i], _currencies[_i], _metadata[_i]);
        continue;
      end if;
    end if;

    if _kinds[_i] in ('transfer', 'pending') then
      _rec_debit_ids[_i] := _debit_ids[_i];
      _rec_credit_ids[_i] := _credit_ids[_i];
      _rec_amounts[_i] := _amounts[_i];
      _rec_currencies[_i] := _currencies[_i];
      _amount := _amounts[_i];
      _d := array_position(_account_ids, _debit_ids[_i]);
      _c := array_position(_account_ids, _credit_ids[_i]);
      _results[_i] := case
        when _debit_ids[_i] = _credit_ids[_i] then 'accounts_must_be_different'
        when _d is null then 'debit_account_not_found'
        when _c is null then 'credit_account_not_found'
        when _account_statuses[_d] = 'closed' then 'debit_account_closed'
        when _account_statuses[_c] = 'closed' then 'credit_account_closed'
        when _account_statuses[_d] = 'frozen' then 'debit_account_frozen'
        when _account_statuses[_c] = 'frozen' then 'credit_account_frozen'
        when _account_currencies[_d] <> _currencies[_i] or _account_currencies[_c] <> _currencies[_i]
          then 'currency_mismatch'
        when _kinds[_i] = 'pending' and _debits_pending[_d] > _amount_max - _amount
          then 'overflows_debits_pending'
        when _kinds[_i] = 'pending' and _credits_pending[_c] > _amount_max - _amount
          then 'overflows_credits_pending'
        when _kinds[_i] = 'transfer' and _debits_posted[_d] > _amount_max - _amount
          then 'overflows_debits_posted'
        when _kinds[_i] = 'transfer' and _credits_posted[_c] > _amount_max - _amount
          then 'overflows_credits_posted'
        -- A limited account holds its limit already, so these differences cannot overflow.
        when _account_debits_limited[_d]
          and _amount > _credits_posted[_d] - _debits_posted[_d] - _debits_pending[_d]
          then 'exceeds_credits'
        when _account_credits_limited[_c]
          and _amount > _debits_posted[_c] - _credits_posted[_c] - _credits_pending[_c]
          then 'exceeds_debits'
        when _kinds[_i] = 'pending' then 'pending'
        else 'posted'
      end;
      if _results[_i] = 'pending' then
        _debits_pending[_d] := _debits_pending[_d] + _amount;
        _credits_pending[_c] := _credits_pending[_c] + _amount;
        _account_touched[_d] := true;
        _account_touched[_c] := true;
        _pend_ids := _pend_ids || _ids[_i];
        _pend_debit_ids := _pend_debit_ids || _debit_ids[_i];
        _pend_credit_ids := _pend_credit_ids || _credit_ids[_i];
        _pend_amounts := _pend_amounts || _amount;
        _pend_currencies := _pend_currencies || _currencies[_i];
        _pend_statuses := _pend_statuses || 'pending'::text;
        _pend_expires_ats := _pend_expires_ats || (_now + make_interval(secs => _timeouts[_i]));
        _pend_posted_amounts := _pend_posted_amounts || null::bigint;
        _pend_resolved_by := _pend_resolved_by || null::uuid;
        _pend_resolved_ats := _pend_resolved_ats || null::timestamptz;
        _pend_is_new := _pend_is_new || true;
        _pend_changed := _pend_changed || false;
      end if;

    elsif _kinds[_i] in ('post_pending', 'void_pending') then
      _k := array_position(_pend_ids, _reference_ids[_i]);
      if _k is null then
        -- No hold: a transfer that was never pending, a rejected one, or no transfer at all.
        _j := array_position(_named_ids, _reference_ids[_i]);
        if _j is not null then
          _results[_i] := case when _named_kinds[_j] = 'pending' then 'pending_transfer_not_found'
                               else 'pending_transfer_not_pending' end;
        else
          _j := array_position(_ids, _reference_ids[_i]);
          _results[_i] := case
            when _j < _i and _results[_j] not like 'exists%' and _kinds[_j] <> 'pending'
              then 'pending_transfer_not_pending'
            else 'pending_transfer_not_found'
          end;
        end if;
        _rec_amounts[_i] := _amounts[_i];
      else
        _rec_debit_ids[_i] := _pend_debit_ids[_k];
        _rec_credit_ids[_i] := _pend_credit_ids[_k];
        _rec_currencies[_i] := _pend_currencies[_k];
        _amount := case when _kinds[_i] = 'void_pending' then _pend_amounts[_k]
                        else coalesce(_amounts[_i], _pend_amounts[_k]) end;
        _rec_amounts[_i] := _amount;
        _d := array_position(_account_ids, _pend_debit_ids[_k]);
        _c := array_position(_account_ids, _pend_credit_ids[_k]);
        _results[_i] := case
          when _pend_statuses[_k] = 'posted' then 'pending_transfer_already_posted'
          when _pend_statuses[_k] = 'voided' then 'pending_transfer_already_voided'
          when _pend_statuses[_k] = 'expired' or _pend_expires_ats[_k] <= _now then 'pending_transfer_expired'
          -- A void releases a hold, which a frozen account may do.
          when _kinds[_i] = 'void_pending' then 'voided'
          when _amount > _pend_amounts[_k] then 'exceeds_pending_transfer_amount'
          when _account_statuses[_d] = 'closed' then 'debit_account_closed'
          when _account_statuses[_c] = 'closed' then 'credit_account_closed'
          when _account_statuses[_d] = 'frozen' then 'debit_account_frozen'
          when _account_statuses[_c] = 'frozen' then 'credit_account_frozen'
          when _debits_posted[_d] > _amount_max - _amount then 'overflows_debits_posted'
          when _credits_posted[_c] > _amount_max - _amount then 'overflows_credits_posted'
          -- The limits counted the whole hold already; as much or less posts.
          else 'posted'
        end;
        if _results[_i] in ('posted', 'voided') then
          _debits_pending[_d] := _debits_pending[_d] - _pend_amounts[_k];
          _credits_pending[_c] := _credits_pending[_c] - _pend_amounts[_k];
          _account_touched[_d] := true;
          _account_touched[_c] := true;
          _pend_statuses[_k] := _results[_i];
          _pend_resolved_by[_k] := _ids[_i];
          _pend_resolved_ats[_k] := transaction_timestamp();
          _pend_changed[_k] := true;
          if _results[_i] = 'posted' then
            _pend_posted_amounts[_k] := _amount;
          end if;
        end if;
      end if;

    else
      -- A reversal: of a transfer recorded before the batch, or earlier in it.
      _k := array_position(_orig_ids, _reference_ids[_i]);
      if _k is null then
        _j := array_position(_ids, _reference_ids[_i]);
        if _j < _i and _results[_j] not like 'exists%' then
          _orig_ids := _orig_ids || _ids[_j];
          _orig_kinds := _orig_kinds || _kinds[_j];
          _orig_statuses := _orig_statuses
            || case when _results[_j] in ('posted', 'pending', 'voided') then _results[_j] else 'rejected' end;
          _orig_debit_ids := _orig_debit_ids || _rec_debit_ids[_j];
          _orig_credit_ids := _orig_credit_ids || _rec_credit_ids[_j];
          _orig_amounts := _orig_amounts || _rec_amounts[_j];
          _orig_currencies := _orig_currencies || _rec_currencies[_j];
          _orig_reversed := _orig_reversed || 0::bigint;
          _k := array_length(_orig_ids, 1);
        end if;
      end if;
      if _k is null then
        _results[_i] := 'transfer_not_found';
        _rec_amounts[_i] := _amounts[_i];
      else
        _rec_debit_ids[_i] := _orig_credit_ids[_k];
        _rec_credit_ids[_i] := _orig_debit_ids[_k];
        _rec_currencies[_i] := _orig_currencies[_k];
        _amount := coalesce(_amounts[_i], _orig_amounts[_k]);
        _rec_amounts[_i] := _amount;
        _d := array_position(_account_ids, _orig_credit_ids[_k]);
        _c := array_position(_account_ids, _orig_debit_ids[_k]);
        _results[_i] := case
          when _orig_statuses[_k] <> 'posted' or _orig_amounts[_k] is null then 'transfer_not_posted'
          when _amount > _orig_amounts[_k] - _orig_reversed[_k] then 'exceeds_reversible_amount'
          when _account_statuses[_d] = 'closed' then 'debit_account_closed'
          when _account_statuses[_c] = 'closed' then 'credit_account_closed'
          when _account_statuses[_d] = 'frozen' then 'debit_account_frozen'
          when _account_statuses[_c] = 'frozen' then 'credit_account_frozen'
          when _debits_posted[_d] > _amount_max - _amount then 'overflows_debits_posted'
          when _credits_posted[_c] > _amount_max - _amount then 'overflows_credits_posted'
          when _account_debits_limited[_d]
            and _amount > _credits_posted[_d] - _debits_posted[_d] - _debits_pending[_d]
            then 'exceeds_credits'
          when _account_credits_limited[_c]
            and _amount > _debits_posted[_c] - _credits_posted[_c] - _credits_pending[_c]
            then 'exceeds_debits'
          else 'posted'
        end;
        if _results[_i] = 'posted' then
          _orig_reversed[_k] := _orig_reversed[_k] + _amount;
        end if;
      end if;
    end if;

    if _results[_i] in ('posted', 'pending', 'voided') then
      _accepted_count := _accepted_count + 1;
    else
      _rejected_count := _rejected_count + 1;
    end if;
    -- Money moves: the posted totals, and the running totals of the two entries.
    if _results[_i] = 'posted' then
      _debits_posted[_d] := _debits_posted[_d] + _amount;
      _credits_posted[_c] := _credits_posted[_c] + _amount;
      _account_touched[_d] := true;
      _account_touched[_c] := true;
      _debit_debits_after[_i] := _debits_posted[_d];
      _debit_credits_after[_i] := _credits_posted[_d];
      _credit_debits_after[_i] := _debits_posted[_c];
      _credit_credits_after[_i] := _credits_posted[_c];
    end if;
  end loop;

  -- Every transfer not found under a taken id is recorded, with its outcome's event.
  with recorded as (
    insert into ledger.transfers
      (id, kind, debit_account_id, credit_account_id, amount, currency, status, reason, metadata,
       accepted_at, picked_up_at, timeout_s, pending_id, reverses_id)
    select _ids[i], _kinds[i], _rec_debit_ids[i], _rec_credit_ids[i], _rec_amounts[i], _rec_currencies[i],
           case when _results[i] in ('posted', 'pending', 'voided') then _results[i] else 'rejected' end,
           case when _results[i] in ('posted', 'pending', 'voided') then null else _results[i] end,
           _metadata[i], _accepted_ats[i], _picked_up_at, _timeouts[i],
           case when _kinds[i] in ('post_pending', 'void_pending') then _reference_ids[i] end,
           case when _kinds[i] = 'reversal' then _reference_ids[i] end
      from generate_series(1, _count) as i
     where _results[i] not like 'exists%'
     order by i
        on conflict (id) do nothing
    returning id, status
  )
  insert into ledger.outbox (event_type, transfer_id)
  select 'transfer.' || r.status, r.id
    from recorded r;
  get diagnostics _recorded_count = row_count;
  if _recorded_count <> (select count(*) from unnest(_results) r where r not like 'exists%') then
    if _ids_are_new then
      raise exception 'an id of the batch was taken before' using errcode = 'LX001';
    end if;
    raise exception 'a transfer id was taken while the batch was decided' using errcode = 'serialization_failure';
  end if;

  -- A posted transfer's two legs, debit first, in message order, with the running totals.
  insert into ledger.entries
    (transfer_id, account_id, direction, amount, currency, debits_posted_after, credits_posted_after,
     created_at)
  select _ids[i], leg.account_id, leg.direction, _rec_amounts[i], _rec_currencies[i], leg.debits_after,
         leg.credits_after, _posted_at
    from generate_series(1, _count) as i
   cross join lateral (values
     (1, _rec_debit_ids[i], 'debit', _debit_debits_after[i], _debit_credits_after[i]),
     (2, _rec_credit_ids[i], 'credit', _credit_debits_after[i], _credit_credits_after[i])
   ) as leg(position, account_id, direction, debits_after, credits_after)
   where _results[i] = 'posted'
   order by i, leg.position;

  if _pend_ids is not null then
    -- The batch's new holds, as they stand at its end (a hold may be posted or voided in the
    -- batch that made it), and the changes to holds made before.
    insert into ledger.pending_transfers
      (debit_account_id, transfer_id, credit_account_id, amount, currency, expires_at, status,
       posted_amount, resolved_by, resolved_at)
    select _pend_debit_ids[k], _pend_ids[k], _pend_credit_ids[k], _pend_amounts[k], _pend_currencies[k],
           _pend_expires_ats[k], _pend_statuses[k], _pend_posted_amounts[k], _pend_resolved_by[k],
           _pend_resolved_ats[k]
      from generate_subscripts(_pend_ids, 1) as k
     where _pend_is_new[k];

    update ledger.pending_transfers p
       set status = u.status, posted_amount = u.posted_amount, resolved_by = u.resolved_by,
           resolved_at = u.resolved_at
      from unnest(_pend_debit_ids, _pend_ids, _pend_statuses, _pend_posted_amounts, _pend_resolved_by,
                  _pend_resolved_ats, _pend_changed, _pend_is_new)
           as u(debit_account_id, transfer_id, status, posted_amount, resolved_by, resolved_at, changed, is_new)
     where p.debit_account_id = u.debit_account_id and p.transfer_id = u.transfer_id
       and u.changed and not u.is_new;
  end if;

  update ledger.accounts a
     set debits_posted = u.debits_posted,
         credits_posted = u.credits_posted,
         debits_pending = u.debits_pending,
         credits_pending = u.credits_pending,
         version = a.version + 1
    from unnest(_account_ids, _debits_posted, _credits_posted, _debits_pending, _credits_pending,
                _account_touched)
         as u(id, debits_posted, credits_posted, debits_pending, credits_pending, touched)
   where a.id = u.id and u.touched;

  insert into ledger.consumer_batches
    (received_at, finished_at, transfer_count, posted_count, rejected_count)
  values (_picked_up_at, clock_timestamp(), _count, _accepted_count, _rejected_count);

  return query select r.transfer_id, r.result from unnest(_ids, _results) as r(transfer_id, result);
end $$;

revoke execute on function ledger.post_transfers(jsonb, boolean, timestamptz) from public;
grant execute on function ledger.post_transfers(jsonb, boolean, timestamptz) to ledgerx_app;
