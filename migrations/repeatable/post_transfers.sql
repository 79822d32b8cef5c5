-- The posting engine: ledger.post_transfers posts a batch of two-account transfers in message
-- order, in the caller's (SERIALIZABLE) transaction, in one round trip; ledger.exists_result
-- answers for a transfer whose id was taken before.
--
-- Every account the batch touches is locked once, in id order, so concurrent batches never
-- deadlock and a hot account costs one lock and one row update per batch however many of the
-- batch's transfers touch it. Totals are carried in arrays while the batch is decided, so each
-- transfer's flag checks and each entry's running totals see every earlier transfer of the batch.
--
-- Input: a JSON array of {id, debit_account_id, credit_account_id, amount (decimal string),
-- currency, metadata, accepted_at}, already validated for shape by the caller, and the time the
-- consumer received the batch (a direct call is picked up when it runs).
-- Output: one row per input element, in input order: the transfer id and its result, which is
-- 'posted', a rejection reason that is recorded with the transfer, or one of the 'exists' family
-- when the id was taken before (nothing is written for those).
--
-- With _ids_are_new the caller bets that no id of the batch was taken by an earlier batch, as is
-- almost always so: the function then does not read ledger.transfers for them, and inserts with
-- ON CONFLICT DO NOTHING instead, which takes no predicate lock. Under SERIALIZABLE the read
-- would lock index pages that concurrent batches insert into, and fail innocent batches with
-- 40001. If the bet is lost it raises SQLSTATE LX001 (the transaction is then void) and the
-- caller runs the batch again without it, which reads the taken ids and answers `exists`.
--
-- Each transfer records when its batch was picked up, and each batch leaves one row in
-- ledger.consumer_batches with its size and outcome counts, in the transaction that posts it, so
-- the operator's figures never disagree with the ledger.
--
-- The rule order here is the one in shared/domain/rules.ts; a property test holds them together.
--
-- This file is applied again whenever it changes (docs/database.md): a change of the
-- arguments or the result type needs `drop function` of the old form first, here.

-- The result for a transfer whose id was taken before: which field differs first, or `exists`.
-- The order of the fields is the one in shared/domain/rules.ts.
create or replace function ledger.exists_result(
  _taken_debit_id uuid, _taken_credit_id uuid, _taken_amount bigint, _taken_currency text,
  _taken_metadata jsonb,
  _debit_id uuid, _credit_id uuid, _amount bigint, _currency text, _metadata jsonb
) returns text
language sql immutable as $$
  select case
    when _taken_debit_id is distinct from _debit_id then 'exists_with_different_debit_account_id'
    when _taken_credit_id is distinct from _credit_id then 'exists_with_different_credit_account_id'
    when _taken_amount is distinct from _amount then 'exists_with_different_amount'
    when _taken_currency is distinct from _currency then 'exists_with_different_currency'
    when _taken_metadata is distinct from _metadata then 'exists_with_different_metadata'
    else 'exists'
  end
$$;

grant execute on function ledger.exists_result(uuid, uuid, bigint, text, jsonb, uuid, uuid, bigint, text, jsonb)
  to ledgerx_app;

create or replace function ledger.post_transfers(
  _transfers jsonb, _ids_are_new boolean default false, _received_at timestamptz default null
)
returns table (transfer_id uuid, result text)
language plpgsql
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
  _posted_count int := 0;
  _rejected_count int := 0;
  -- The batch, one array element per transfer, in message order.
  _ids uuid[];
  _debit_ids uuid[];
  _credit_ids uuid[];
  _amounts bigint[];
  _currencies text[];
  _metadata jsonb[];
  _accepted_ats timestamptz[];
  _transfer jsonb;
  -- Each transfer's result, and for a posted one its accounts' totals just after it.
  _results text[];
  _debit_debits_after bigint[];
  _debit_credits_after bigint[];
  _credit_debits_after bigint[];
  _credit_credits_after bigint[];
  -- The locked accounts, in id order, and their totals as the batch goes.
  _account_ids uuid[];
  _account_currencies text[];
  _account_debits_limited boolean[];
  _account_credits_limited boolean[];
  _debits_posted bigint[];
  _credits_posted bigint[];
  _debits_pending bigint[];
  _credits_pending bigint[];
  _account_touched boolean[];
  -- Transfers recorded before this batch under one of its ids.
  _existing_ids uuid[];
  _existing_debit_ids uuid[];
  _existing_credit_ids uuid[];
  _existing_amounts bigint[];
  _existing_currencies text[];
  _existing_metadata jsonb[];
  -- Whether any id may be taken: by an earlier batch, or earlier in this one.
  _ids_may_repeat boolean;
  _recorded_count int;
  _i int;
  _j int;
  _d int;
  _c int;
  -- When the batch's entries posted: read once the accounts' row locks are held (below).
  _posted_at timestamptz;
begin
  if _count is null or _count < 1 or _count > _batch_size_max then
    raise exception 'post_transfers takes 1 to % transfers, got %', _batch_size_max, _count
      using errcode = 'invalid_parameter_value';
  end if;

  -- Unpacked element by element: ordered aggregates would cost a sort each.
  _ids_may_repeat := false;
  for _i in 1.._count loop
    _transfer := _transfers->(_i - 1);
    _ids[_i] := (_transfer->>'id')::uuid;
    _ids_may_repeat := _ids_may_repeat or _ids[_i] = any(_ids[1:_i - 1]);
    _debit_ids[_i] := (_transfer->>'debit_account_id')::uuid;
    _credit_ids[_i] := (_transfer->>'credit_account_id')::uuid;
    _amounts[_i] := (_transfer->>'amount')::bigint;
    _currencies[_i] := _transfer->>'currency';
    _metadata[_i] := coalesce(_transfer->'metadata', '{}'::jsonb);
    _accepted_ats[_i] := (_transfer->>'accepted_at')::timestamptz;
  end loop;

  -- One aggregate pass over the locked rows, so element k of every array is the same account.
  -- The rows are locked in id order by the subquery; the lookups below need no order.
  select array_agg(a.id), array_agg(a.currency::text),
         array_agg(a.debits_must_not_exceed_credits), array_agg(a.credits_must_not_exceed_debits),
         array_agg(a.debits_posted), array_agg(a.credits_posted),
         array_agg(a.debits_pending), array_agg(a.credits_pending), array_agg(false)
    into _account_ids, _account_currencies, _account_debits_limited, _account_credits_limited,
         _debits_posted, _credits_posted, _debits_pending, _credits_pending, _account_touched
    from (
      select * from ledger.accounts
       where id = any(_debit_ids || _credit_ids)
       order by id
         for update
    ) a;
  -- Entries are stamped with the clock read while the batch holds its accounts' row locks, so an
  -- account's entries are in the same order by time as by id (the order of their running totals),
  -- which a balance as of an instant relies on (migrations/0015_entries_as_of). Milliseconds, as
  -- the API shows times, so a time read from an entry finds that entry.
  _posted_at := date_trunc('milliseconds', clock_timestamp());

  select array_agg(t.id), array_agg(t.debit_account_id), array_agg(t.credit_account_id),
         array_agg(t.amount), array_agg(t.currency::text), array_agg(t.metadata)
    into _existing_ids, _existing_debit_ids, _existing_credit_ids, _existing_amounts,
         _existing_currencies, _existing_metadata
    from ledger.transfers t
   where not _ids_are_new and t.id = any(_ids);
  _ids_may_repeat := _ids_may_repeat or _existing_ids is not null;

  _results := array_fill(null::text, array[_count]);
  _debit_debits_after := array_fill(null::bigint, array[_count]);
  _debit_credits_after := array_fill(null::bigint, array[_count]);
  _credit_debits_after := array_fill(null::bigint, array[_count]);
  _credit_credits_after := array_fill(null::bigint, array[_count]);

  for _i in 1.._count loop
    if _ids_may_repeat then
      _j := array_position(_existing_ids, _ids[_i]);
      if _j is not null then
        _results[_i] := ledger.exists_result(
          _existing_debit_ids[_j], _existing_credit_ids[_j], _existing_amounts[_j],
          _existing_currencies[_j], _existing_metadata[_j],
          _debit_ids[_i], _credit_ids[_i], _amounts[_i], _currencies[_i], _metadata[_i]);
        continue;
      end if;

      -- The same id earlier in this batch counts as taken before.
      _j := array_position(_ids, _ids[_i]);
      if _j < _i then
        _results[_i] := ledger.exists_result(
          _debit_ids[_j], _credit_ids[_j], _amounts[_j], _currencies[_j], _metadata[_j],
          _debit_ids[_i], _credit_ids[_i], _amounts[_i], _currencies[_i], _metadata[_i]);
        continue;
      end if;
    end if;

    _d := array_position(_account_ids, _debit_ids[_i]);
    _c := array_position(_account_ids, _credit_ids[_i]);
    _results[_i] := case
      when _debit_ids[_i] = _credit_ids[_i] then 'accounts_must_be_different'
      when _d is null then 'debit_account_not_found'
      when _c is null then 'credit_account_not_found'
      when _account_currencies[_d] <> _currencies[_i] or _account_currencies[_c] <> _currencies[_i]
        then 'currency_mismatch'
      when _debits_posted[_d] > _amount_max - _amounts[_i] then 'overflows_debits_posted'
      when _credits_posted[_c] > _amount_max - _amounts[_i] then 'overflows_credits_posted'
      -- A limited account holds its limit already, so these differences cannot overflow.
      when _account_debits_limited[_d]
        and _amounts[_i] > _credits_posted[_d] - _debits_posted[_d] - _debits_pending[_d]
        then 'exceeds_credits'
      when _account_credits_limited[_c]
        and _amounts[_i] > _debits_posted[_c] - _credits_posted[_c] - _credits_pending[_c]
        then 'exceeds_debits'
      else 'posted'
    end;
    if _results[_i] <> 'posted' then
      _rejected_count := _rejected_count + 1;
    else
      _posted_count := _posted_count + 1;
      _debits_posted[_d] := _debits_posted[_d] + _amounts[_i];
      _credits_posted[_c] := _credits_posted[_c] + _amounts[_i];
      _account_touched[_d] := true;
      _account_touched[_c] := true;
      _debit_debits_after[_i] := _debits_posted[_d];
      _debit_credits_after[_i] := _credits_posted[_d];
      _credit_debits_after[_i] := _debits_posted[_c];
      _credit_credits_after[_i] := _credits_posted[_c];
    end if;
  end loop;

  -- Every transfer not found under a taken id is recorded, posted or rejected, with its event.
  with recorded as (
    insert into ledger.transfers
      (id, debit_account_id, credit_account_id, amount, currency, status, reason, metadata, accepted_at,
       picked_up_at)
    select _ids[i], _debit_ids[i], _credit_ids[i], _amounts[i], _currencies[i],
           case when _results[i] = 'posted' then 'posted' else 'rejected' end,
           nullif(_results[i], 'posted'), _metadata[i], _accepted_ats[i], _picked_up_at
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
  select _ids[i], leg.account_id, leg.direction, _amounts[i], _currencies[i], leg.debits_after, leg.credits_after,
         _posted_at
    from generate_series(1, _count) as i
   cross join lateral (values
     (1, _debit_ids[i], 'debit', _debit_debits_after[i], _debit_credits_after[i]),
     (2, _credit_ids[i], 'credit', _credit_debits_after[i], _credit_credits_after[i])
   ) as leg(position, account_id, direction, debits_after, credits_after)
   where _results[i] = 'posted'
   order by i, leg.position;

  update ledger.accounts a
     set debits_posted = u.debits_posted,
         credits_posted = u.credits_posted,
         version = a.version + 1
    from unnest(_account_ids, _debits_posted, _credits_posted, _account_touched)
         as u(id, debits_posted, credits_posted, touched)
   where a.id = u.id and u.touched;

  insert into ledger.consumer_batches
    (received_at, finished_at, transfer_count, posted_count, rejected_count)
  values (_picked_up_at, clock_timestamp(), _count, _posted_count, _rejected_count);

  return query select r.transfer_id, r.result from unnest(_ids, _results) as r(transfer_id, result);
end $$;

grant execute on function ledger.post_transfers(jsonb, boolean, timestamptz) to ledgerx_app;
