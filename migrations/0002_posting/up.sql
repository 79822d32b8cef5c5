-- ledger.post_transfers: posts a batch of two-account transfers in message order, in the caller's
-- (SERIALIZABLE) transaction, in one round trip.
--
-- Every account the batch touches is locked once, in id order, so concurrent batches never
-- deadlock and a hot account costs one lock and one row update per batch however many of the
-- batch's transfers touch it. Totals are carried in arrays while the batch is decided, so each
-- transfer's flag checks and each entry's running totals see every earlier transfer of the batch.
--
-- Input: a JSON array of {id, debit_account_id, credit_account_id, amount (decimal string),
-- currency, metadata, accepted_at}, already validated for shape by the caller.
-- Output: one row per input element, in input order: the transfer id and its result, which is
-- 'posted', a rejection reason that is recorded with the transfer, or one of the 'exists' family
-- when the id was taken before (nothing is written for those).
--
-- The rule order here is the one in shared/domain/rules.ts; a property test holds them together.

create function ledger.post_transfers(_transfers jsonb)
returns table (transfer_id uuid, result text)
language plpgsql as $$
#variable_conflict use_column
declare
  _batch_size_max constant int := 1000;
  _amount_max constant bigint := 9223372036854775807;
  _count int := jsonb_array_length(_transfers);
  -- The batch, one array element per transfer, in message order.
  _ids uuid[];
  _debit_ids uuid[];
  _credit_ids uuid[];
  _amounts bigint[];
  _currencies text[];
  _metadata jsonb[];
  _accepted_ats timestamptz[];
  _results text[] := '{}';
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
  -- What this batch writes.
  _new_indexes int[] := '{}';
  _new_reasons text[] := '{}';
  _entry_transfer_ids uuid[] := '{}';
  _entry_account_ids uuid[] := '{}';
  _entry_directions text[] := '{}';
  _entry_amounts bigint[] := '{}';
  _entry_currencies text[] := '{}';
  _entry_debits_after bigint[] := '{}';
  _entry_credits_after bigint[] := '{}';
  _i int;
  _j int;
  _d int;
  _c int;
  _reason text;
begin
  if _count is null or _count < 1 or _count > _batch_size_max then
    raise exception 'post_transfers takes 1 to % transfers, got %', _batch_size_max, _count
      using errcode = 'invalid_parameter_value';
  end if;

  select array_agg((e.value->>'id')::uuid order by e.ord),
         array_agg((e.value->>'debit_account_id')::uuid order by e.ord),
         array_agg((e.value->>'credit_account_id')::uuid order by e.ord),
         array_agg((e.value->>'amount')::bigint order by e.ord),
         array_agg(e.value->>'currency' order by e.ord),
         array_agg(coalesce(e.value->'metadata', '{}'::jsonb) order by e.ord),
         array_agg((e.value->>'accepted_at')::timestamptz order by e.ord)
    into _ids, _debit_ids, _credit_ids, _amounts, _currencies, _metadata, _accepted_ats
    from jsonb_array_elements(_transfers) with ordinality as e(value, ord);

  select array_agg(a.id order by a.id),
         array_agg(a.currency::text order by a.id),
         array_agg(a.debits_must_not_exceed_credits order by a.id),
         array_agg(a.credits_must_not_exceed_debits order by a.id),
         array_agg(a.debits_posted order by a.id),
         array_agg(a.credits_posted order by a.id),
         array_agg(a.debits_pending order by a.id),
         array_agg(a.credits_pending order by a.id),
         array_agg(false order by a.id)
    into _account_ids, _account_currencies, _account_debits_limited, _account_credits_limited,
         _debits_posted, _credits_posted, _debits_pending, _credits_pending, _account_touched
    from (
      select * from ledger.accounts
       where id = any(_debit_ids || _credit_ids)
       order by id
         for update
    ) a;

  select array_agg(t.id), array_agg(t.debit_account_id), array_agg(t.credit_account_id),
         array_agg(t.amount), array_agg(t.currency::text), array_agg(t.metadata)
    into _existing_ids, _existing_debit_ids, _existing_credit_ids, _existing_amounts,
         _existing_currencies, _existing_metadata
    from ledger.transfers t
   where t.id = any(_ids);

  for _i in 1.._count loop
    _reason := null;
    _j := array_position(_existing_ids, _ids[_i]);
    if _j is not null then
      _reason := case
        when _existing_debit_ids[_j] is distinct from _debit_ids[_i] then 'exists_with_different_debit_account_id'
        when _existing_credit_ids[_j] is distinct from _credit_ids[_i] then 'exists_with_different_credit_account_id'
        when _existing_amounts[_j] is distinct from _amounts[_i] then 'exists_with_different_amount'
        when _existing_currencies[_j] is distinct from _currencies[_i] then 'exists_with_different_currency'
        when _existing_metadata[_j] is distinct from _metadata[_i] then 'exists_with_different_metadata'
        else 'exists'
      end;
      _results := _results || _reason;
      continue;
    end if;

    -- The same id earlier in this batch counts as taken before.
    _j := array_position(_ids, _ids[_i]);
    if _j < _i then
      _reason := case
        when _debit_ids[_j] is distinct from _debit_ids[_i] then 'exists_with_different_debit_account_id'
        when _credit_ids[_j] is distinct from _credit_ids[_i] then 'exists_with_different_credit_account_id'
        when _amounts[_j] is distinct from _amounts[_i] then 'exists_with_different_amount'
        when _currencies[_j] is distinct from _currencies[_i] then 'exists_with_different_currency'
        when _metadata[_j] is distinct from _metadata[_i] then 'exists_with_different_metadata'
        else 'exists'
      end;
      _results := _results || _reason;
      continue;
    end if;

    _d := array_position(_account_ids, _debit_ids[_i]);
    _c := array_position(_account_ids, _credit_ids[_i]);
    _reason := case
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
      else null
    end;

    _new_indexes := _new_indexes || _i;
    _new_reasons := _new_reasons || _reason;
    if _reason is not null then
      _results := _results || _reason;
      continue;
    end if;

    _debits_posted[_d] := _debits_posted[_d] + _amounts[_i];
    _credits_posted[_c] := _credits_posted[_c] + _amounts[_i];
    _account_touched[_d] := true;
    _account_touched[_c] := true;
    _entry_transfer_ids := _entry_transfer_ids || _ids[_i] || _ids[_i];
    _entry_account_ids := _entry_account_ids || _debit_ids[_i] || _credit_ids[_i];
    _entry_directions := _entry_directions || 'debit'::text || 'credit'::text;
    _entry_amounts := _entry_amounts || _amounts[_i] || _amounts[_i];
    _entry_currencies := _entry_currencies || _currencies[_i] || _currencies[_i];
    _entry_debits_after := _entry_debits_after || _debits_posted[_d] || _debits_posted[_c];
    _entry_credits_after := _entry_credits_after || _credits_posted[_d] || _credits_posted[_c];
    _results := _results || 'posted'::text;
  end loop;

  if cardinality(_new_indexes) > 0 then
    with recorded as (
      insert into ledger.transfers
        (id, debit_account_id, credit_account_id, amount, currency, status, reason, metadata, accepted_at)
      select _ids[n.i], _debit_ids[n.i], _credit_ids[n.i], _amounts[n.i], _currencies[n.i],
             case when n.reason is null then 'posted' else 'rejected' end, n.reason,
             _metadata[n.i], _accepted_ats[n.i]
        from unnest(_new_indexes, _new_reasons) with ordinality as n(i, reason, ord)
       order by n.ord
      returning *
    )
    insert into ledger.outbox (event_type, transfer_id, payload)
    select 'transfer.' || r.status, r.id,
           jsonb_build_object(
             'id', r.id, 'status', r.status, 'reason', r.reason,
             'debit_account_id', r.debit_account_id, 'credit_account_id', r.credit_account_id,
             'amount', r.amount::text, 'currency', r.currency, 'metadata', r.metadata,
             'accepted_at', r.accepted_at, 'processed_at', r.processed_at)
      from recorded r;
  end if;

  if cardinality(_entry_transfer_ids) > 0 then
    insert into ledger.entries
      (transfer_id, account_id, direction, amount, currency, debits_posted_after, credits_posted_after)
    select e.transfer_id, e.account_id, e.direction, e.amount, e.currency, e.debits_after, e.credits_after
      from unnest(_entry_transfer_ids, _entry_account_ids, _entry_directions, _entry_amounts,
                  _entry_currencies, _entry_debits_after, _entry_credits_after)
           with ordinality as e(transfer_id, account_id, direction, amount, currency, debits_after,
                                credits_after, ord)
     order by e.ord;

    update ledger.accounts a
       set debits_posted = u.debits_posted,
           credits_posted = u.credits_posted,
           version = a.version + 1
      from unnest(_account_ids, _debits_posted, _credits_posted, _account_touched)
           as u(id, debits_posted, credits_posted, touched)
     where a.id = u.id and u.touched;
  end if;

  return query select r.transfer_id, r.result from unnest(_ids, _results) as r(transfer_id, result);
end $$;

grant execute on function ledger.post_transfers(jsonb) to ledgerx_app;
