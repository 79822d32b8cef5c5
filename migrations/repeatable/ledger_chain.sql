-- The journal's SHA-256 chain (tables in migrations/0016_ledger_chain): the form of a link's hash,
-- the sealer that appends links, and the triggers that keep the links append-only. The chain is
-- recomputed and checked outside the database, from the rows alone, by shared/domain/ledger-chain.ts
-- (`npm run verify-ledger` and GET /v1/admin/ledger-verification), so that a changed function
-- here cannot vouch for a changed journal.

-- A link's hash: sha256(previous hash || the entry's content), the content being its fields in
-- this order, as text, joined by '|', the time in microseconds since 1970 (UTC):
-- id|transfer_id|account_id|direction|amount|currency|debits_posted_after|credits_posted_after|created_at.
-- shared/domain/ledger-chain.ts writes the same form; a test holds the two together.
create or replace function ledger.chain_link_hash(_previous_hash bytea, _entry ledger.entries)
returns bytea
language sql stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select sha256(_previous_hash || convert_to(concat_ws('|',
    _entry.id, _entry.transfer_id, _entry.account_id, _entry.direction, _entry.amount,
    _entry.currency, _entry.debits_posted_after, _entry.credits_posted_after,
    (extract(epoch from _entry.created_at) * 1000000)::bigint), 'UTF8'))
$$;

revoke execute on function ledger.chain_link_hash(bytea, ledger.entries) from public;
grant execute on function ledger.chain_link_hash(bytea, ledger.entries) to ledgerx_app;

-- Seals up to _entry_count_max entries, in id order, and answers how many, the chain's head after
-- them, and whether entries wait for the horizon (see below). Call it in a transaction of its own.
--
-- Ids are handed out when an entry is inserted, not when it commits, so a transaction still in
-- flight may hold an id below entries already visible. The sealer therefore seals up to a horizon:
-- the highest id handed out when the horizon was set, with the first transaction id not started
-- then. Every transaction that holds an id up to the horizon had started by then (the posting
-- engine writes the batch's transfers before its entries, so it has a transaction id before it
-- takes an entry id). Once the oldest transaction still running is younger than the horizon, every
-- id up to it is committed or never will be; the sealer then seals the entries up to it and sets
-- the next horizon. Under steady posting the horizon is final a few milliseconds after it is set,
-- so sealing lags posting by one sealer call; a transaction left open holds sealing back, never
-- posting.
--
-- Sealers take turns on the head row; a call that finds it taken seals nothing and returns at once.
create or replace function ledger.seal_entries(_entry_count_max int)
returns table (sealed_count int, sealed_through_entry_id bigint, head_hash text, waiting boolean)
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  _entry_count_limit constant int := 100000;
  -- Read before this call writes anything: the oldest transaction still running.
  _oldest_running xid8 := pg_snapshot_xmin(pg_current_snapshot());
  _state ledger.chain_state;
  _entry ledger.entries;
  _hash bytea;
  _last bigint;
  _upper bigint;
  _count int := 0;
  _handed_out bigint;
begin
  if _entry_count_max is null or _entry_count_max < 1 or _entry_count_max > _entry_count_limit then
    raise exception 'seal_entries takes 1 to % entries, got %', _entry_count_limit, _entry_count_max
      using errcode = 'invalid_parameter_value';
  end if;

  select * into _state from ledger.chain_state for update skip locked;
  if not found then
    return query select 0, null::bigint, null::text, true;
    return;
  end if;
  _hash := _state.head_hash;
  _last := _state.sealed_through_entry_id;

  if _state.horizon_xid is not null and _oldest_running >= _state.horizon_xid then
    _upper := least(_state.horizon_entry_id, _last + _entry_count_max);
    for _entry in
      select * from ledger.entries e where e.id > _last and e.id <= _upper order by e.id
    loop
      _hash := ledger.chain_link_hash(_hash, _entry);
      insert into ledger.chain_links (entry_id, hash) values (_entry.id, _hash);
      _count := _count + 1;
    end loop;
    -- Ids in the range without an entry belong to transactions that rolled back.
    _last := _upper;
    _state.horizon_entry_id := case when _last >= _state.horizon_entry_id then null else _state.horizon_entry_id end;
    _state.horizon_xid := case when _state.horizon_entry_id is null then null else _state.horizon_xid end;
  end if;

  if _state.horizon_xid is null then
    -- The highest id handed out, then (in a later statement, so a later snapshot) the first
    -- transaction id not yet started: every holder of an id up to the first started before it.
    _handed_out := coalesce(
      pg_sequence_last_value(pg_get_serial_sequence('ledger.entries', 'id')::regclass), 0);
    if _handed_out > _last then
      _state.horizon_entry_id := _handed_out;
      _state.horizon_xid := pg_snapshot_xmax(pg_current_snapshot());
    end if;
  end if;

  update ledger.chain_state s
     set sealed_through_entry_id = _last,
         sealed_count = s.sealed_count + _count,
         head_hash = _hash,
         horizon_entry_id = _state.horizon_entry_id,
         horizon_xid = _state.horizon_xid,
         sealed_at = case when _count > 0 then clock_timestamp() else s.sealed_at end;

  return query select _count, _last, encode(_hash, 'hex'), _state.horizon_xid is not null;
end $$;

revoke execute on function ledger.seal_entries(int) from public;
grant execute on function ledger.seal_entries(int) to ledgerx_app;

-- Links are written once, by the sealer, and never changed: the application role has no grant to
-- write them, and these triggers refuse a change from any role.
create or replace function ledger.chain_is_append_only() returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  raise exception 'ledger.chain_links is append-only: % is not allowed', tg_op
    using errcode = 'insufficient_privilege';
end $$;

revoke execute on function ledger.chain_is_append_only() from public;

create or replace trigger chain_links_no_update before update on ledger.chain_links
  for each row execute function ledger.chain_is_append_only();
create or replace trigger chain_links_no_delete before delete on ledger.chain_links
  for each row execute function ledger.chain_is_append_only();
create or replace trigger chain_links_no_truncate before truncate on ledger.chain_links
  for each statement execute function ledger.chain_is_append_only();
