-- ledger.post_transfer_set posts an atomic set (issue 14): up to 100 two-account transfers, its
-- legs, that post together or not at all, in the caller's (SERIALIZABLE) transaction.
--
-- The legs are decided by ledger.post_transfers itself, in a subtransaction, so a set obeys
-- every rule a single transfer does, in the same order, with each leg seeing the legs before it.
-- If every leg posted, the subtransaction stands. Otherwise it is rolled back (nothing of it is
-- kept: no entry, no total, no event) and every leg is recorded as rejected: the first leg, in
-- set order, that a rule rejected keeps that rule's reason, and every other leg gets
-- `linked_transfer_failed`. Each currency of a set balances by construction, since each leg
-- debits and credits the same amount in one currency.
--
-- A set delivered again finds every leg's id taken and answers the `exists` family for each,
-- writing nothing, as ledger.post_transfers does. With _ids_are_new the caller bets that no id
-- was taken (see post_transfers.sql); a lost bet raises SQLSTATE LX001.
--
-- Input: a JSON array of 1 to 100 legs in the form ledger.post_transfers takes, with distinct
-- ids; the set is named by its first leg's id in ledger.atomic_set_legs.
-- Output: one row per leg, in set order: its id and its result.
--
-- Security definer with a fixed search_path: it writes ledger.atomic_set_legs, which the app
-- role may only read, so a set's membership is written by this function alone.

create or replace function ledger.post_transfer_set(
  _legs jsonb, _ids_are_new boolean default false, _received_at timestamptz default null
)
returns table (transfer_id uuid, result text)
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  _leg_count_max constant int := 100;
  _count int := jsonb_array_length(_legs);
  _picked_up_at timestamptz := coalesce(_received_at, transaction_timestamp());
  _ids uuid[];
  _results text[];
  _exists_count int;
  _failed int;
  _recorded_count int;
begin
  if _count is null or _count < 1 or _count > _leg_count_max then
    raise exception 'post_transfer_set takes 1 to % legs, got %', _leg_count_max, _count
      using errcode = 'invalid_parameter_value';
  end if;
  select array_agg((l.leg->>'id')::uuid order by l.position) into _ids
    from jsonb_array_elements(_legs) with ordinality as l(leg, position);
  if (select count(distinct u.id) from unnest(_ids) as u(id)) <> _count then
    raise exception 'the legs of a set have distinct ids' using errcode = 'invalid_parameter_value';
  end if;

  begin
    select array_agg(p.leg_result order by p.position) into _results
      from ledger.post_transfers(_legs, _ids_are_new, _received_at)
           with ordinality as p(leg_id, leg_result, position);
    select count(*) into _exists_count from unnest(_results) as r(result) where r.result like 'exists%';
    if _exists_count = _count then
      -- Delivered again: every leg was recorded before, posted or rejected together.
      return query select u.id, u.result from unnest(_ids, _results) as u(id, result);
      return;
    end if;
    if _exists_count > 0 then
      raise exception 'some legs of the set were recorded before and some not'
        using errcode = 'invalid_parameter_value';
    end if;
    _failed := array_position(array(select r.result = 'posted' from unnest(_results) as r(result)), false);
    if _failed is null then
      insert into ledger.atomic_set_legs (transfer_id, set_id, position)
      select _ids[i], _ids[1], i - 1 from generate_series(1, _count) as i;
      return query select u.id, u.result from unnest(_ids, _results) as u(id, result);
      return;
    end if;
    -- Rolls back everything ledger.post_transfers wrote; _results keeps what it decided.
    raise exception 'leg % of the set was rejected', _failed using errcode = 'LX002';
  exception when sqlstate 'LX002' then
    null;
  end;

  for i in 1.._count loop
    if i <> _failed then
      _results[i] := 'linked_transfer_failed';
    end if;
  end loop;

  with recorded as (
    insert into ledger.transfers
      (id, debit_account_id, credit_account_id, amount, currency, status, reason, metadata, accepted_at,
       picked_up_at)
    select (l.leg->>'id')::uuid, (l.leg->>'debit_account_id')::uuid, (l.leg->>'credit_account_id')::uuid,
           (l.leg->>'amount')::bigint, l.leg->>'currency', 'rejected', _results[l.position],
           coalesce(l.leg->'metadata', '{}'::jsonb), (l.leg->>'accepted_at')::timestamptz, _picked_up_at
      from jsonb_array_elements(_legs) with ordinality as l(leg, position)
     order by l.position
        on conflict (id) do nothing
    returning id
  )
  insert into ledger.outbox (event_type, transfer_id)
  select 'transfer.rejected', r.id from recorded r;
  get diagnostics _recorded_count = row_count;
  if _recorded_count <> _count then
    raise exception 'a leg id was taken while the set was decided' using errcode = 'serialization_failure';
  end if;

  insert into ledger.atomic_set_legs (transfer_id, set_id, position)
  select _ids[i], _ids[1], i - 1 from generate_series(1, _count) as i;

  insert into ledger.consumer_batches
    (received_at, finished_at, transfer_count, posted_count, rejected_count)
  values (_picked_up_at, clock_timestamp(), _count, 0, _count);

  return query select u.id, u.result from unnest(_ids, _results) as u(id, result);
end $$;

revoke execute on function ledger.post_transfer_set(jsonb, boolean, timestamptz) from public;
grant execute on function ledger.post_transfer_set(jsonb, boolean, timestamptz) to ledgerx_app;
