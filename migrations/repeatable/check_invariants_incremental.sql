-- The incremental invariant checker: the ledger's core promises checked over what changed since
-- the last step, a bounded slice at a time, from the position kept in ledger.invariant_checkpoint
-- (migrations/0017_invariant_checkpoints). ledger.check_invariants() checks the whole ledger and
-- is for tests and benchmarks; this is what a deployed ledger runs on a schedule (docs/operations.md).
--
-- One step, in one transaction:
-- 1. new entries: the journal's entries after the checkpoint, up to the safe id and at most
--    _entry_count_max of them: each transfer's entries sum to zero per currency, each entry's
--    running totals follow from its account's previous entry, each entry belongs to an account of
--    its currency and to a recorded transfer, and a flagged account is within its limit after each
--    entry. Their amounts are added to the accounts' checked sums and the checkpoint advances.
-- 2. accounts: the accounts those entries touched, and the next _account_count_max accounts in id
--    order (round and round): the totals equal the checked sums plus the few unchecked entries,
--    and a flagged account is within its limit, pending amounts included.
-- 3. scrub: the next _scrub_entry_count_max already-checked entries (round and round) are
--    checked again as in 1, so an entry rewritten after it was checked is found too.
-- Violations are recorded in ledger.invariant_violations once each (their events leave from there).
--
-- Where the pending-transfer invariants (two-phase transfers) belong: per entry in
-- ledger.invariant_entry_violations, per account in the accounts statement of step 2.

-- The violations among the entries with ids in (_after_id, _through_id].
create or replace function ledger.invariant_entry_violations(_after_id bigint, _through_id bigint)
returns table (invariant text, subject text, detail text)
language plpgsql stable as $$
declare
  -- A transfer's entries are written by one insert statement, so their ids are drawn together;
  -- concurrent statements can interleave theirs. A transfer that looks unbalanced within the
  -- slice is summed again over this many ids on either side before it is called unbalanced.
  _transfer_spread_id_count_max constant bigint := 10000;
  _split uuid[];
begin
  -- Transfers whose legs do not balance within the slice: broken, or cut by the slice's edges.
  select coalesce(array_agg(distinct b.transfer_id), '{}') into _split
    from (select e.transfer_id, e.currency
            from ledger.entries e
           where e.id > _after_id and e.id <= _through_id
           group by e.transfer_id, e.currency
          having sum(case e.direction when 'debit' then e.amount::numeric else -e.amount::numeric end) <> 0) b;

  if cardinality(_split) > 0 then
    return query
      select 'entries_sum_to_zero'::text, w.transfer_id::text,
             format('%s: debits - credits = %s', w.currency, w.net)
        from (select e.transfer_id, e.currency,
                     sum(case e.direction when 'debit' then e.amount::numeric else -e.amount::numeric end) as net
                from ledger.entries e
               where e.id > _after_id - _transfer_spread_id_count_max
                 and e.id <= _through_id + _transfer_spread_id_count_max
                 and e.transfer_id = any(_split)
               group by e.transfer_id, e.currency) w
       where w.net <> 0;
  end if;

  return query
    with slice as (
      select e.* from ledger.entries e where e.id > _after_id and e.id <= _through_id
    )
    -- Each entry's totals are the previous entry's of its account plus its own amount.
    select 'running_totals_consistent'::text, s.id::text,
           format('after-entry totals %s/%s, previous %s/%s, %s %s', s.debits_posted_after,
                  s.credits_posted_after, coalesce(p.debits_posted_after, 0),
                  coalesce(p.credits_posted_after, 0), s.direction, s.amount)
      from slice s
      left join lateral (
        select q.debits_posted_after, q.credits_posted_after
          from ledger.entries q
         where q.account_id = s.account_id and q.id < s.id
         order by q.id desc
         limit 1
      ) p on true
     where s.debits_posted_after
             <> coalesce(p.debits_posted_after, 0) + case s.direction when 'debit' then s.amount else 0 end
        or s.credits_posted_after
             <> coalesce(p.credits_posted_after, 0) + case s.direction when 'credit' then s.amount else 0 end
    union all
    select 'entry_belongs_to_an_account'::text, s.id::text, format('account %s', s.account_id)
      from slice s
     where not exists (select 1 from ledger.accounts a where a.id = s.account_id)
    union all
    select 'entry_in_account_currency'::text, s.id::text,
           format('entry in %s, account %s in %s', s.currency, a.id, a.currency)
      from slice s
      join ledger.accounts a on a.id = s.account_id
     where a.currency <> s.currency
    union all
    -- A flagged account is within its limit after every entry (posted amounts; pending ones are
    -- compared in the accounts step, against the account's current totals).
    select 'flagged_account_within_limit'::text, a.id::text,
           format('after entry %s: debits %s, credits %s', s.id, s.debits_posted_after, s.credits_posted_after)
      from slice s
      join ledger.accounts a on a.id = s.account_id
     where (a.debits_must_not_exceed_credits and s.debits_posted_after > s.credits_posted_after)
        or (a.credits_must_not_exceed_debits and s.credits_posted_after > s.debits_posted_after)
    union all
    select 'entry_belongs_to_a_transfer'::text, s.id::text, format('transfer %s', s.transfer_id)
      from slice s
     where not exists (select 1 from ledger.transfers t where t.id = s.transfer_id);
end $$;

-- One step of the incremental check (see the top of this file). Returns what it checked and the
-- violations it found; the new ones are recorded. Steps run one at a time (the checkpoint row is
-- locked), each in its own transaction, in READ COMMITTED: each statement must see what the
-- transactions found finished before it have committed.
create or replace function ledger.check_invariants_step(
  _entry_count_max int,
  _account_count_max int,
  _scrub_entry_count_max int,
  _now timestamptz
)
returns table (
  entry_count int,
  account_count int,
  scrub_entry_count int,
  found_count int,
  recorded_count int,
  entry_id_checked bigint,
  entry_id_safe bigint
)
language plpgsql as $$
declare
  -- An account whose unchecked entries are more than this (the checker is far behind it) is
  -- compared on a later step, once its entries are checked.
  _unchecked_entry_count_max constant int := 1000;
  _checkpoint ledger.invariant_checkpoint;
  _drawn_id bigint;
  _holders text[];
  _safe_id bigint;
  _through_id bigint;
  _new_after_id bigint;
  _scrub_after_id bigint;
  _scrub_through_id bigint;
  _touched uuid[] := '{}';
  _sweep uuid[];
  _entry_count int := 0;
  _scrub_count int := 0;
  _found_count int;
  _recorded_count int;
begin
  if _entry_count_max < 1 or _account_count_max < 0 or _scrub_entry_count_max < 0 then
    raise exception 'check_invariants_step: limits out of range (% entries, % accounts, % scrubbed)',
      _entry_count_max, _account_count_max, _scrub_entry_count_max using errcode = 'invalid_parameter_value';
  end if;
  if current_setting('transaction_isolation') <> 'read committed' then
    raise exception 'check_invariants_step runs in read committed, not %', current_setting('transaction_isolation')
      using errcode = 'invalid_transaction_state';
  end if;

  select * into strict _checkpoint from ledger.invariant_checkpoint for update;

  -- How far ids are drawn, then who is writing the journal now. A transaction takes its lock on
  -- ledger.entries before it draws an id and keeps it until it ends, so every id drawn so far
  -- belongs to a transaction that has ended or is among the holders read after it.
  select case when s.is_called then s.last_value else 0 end into _drawn_id
    from ledger.entries_id_seq s;
  select coalesce(array_agg(distinct l.virtualtransaction), '{}') into _holders
    from pg_locks l
   where l.locktype = 'relation'
     and l.database = (select d.oid from pg_database d where d.datname = current_database())
     and l.relation = 'ledger.entries'::regclass
     and l.mode in ('RowExclusiveLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock')
     and l.granted
     and l.pid is distinct from pg_backend_pid();

  _safe_id := _checkpoint.entry_id_checked;
  if cardinality(_holders) = 0 then
    -- Nobody is writing: every id drawn is final now.
    _safe_id := greatest(_safe_id, _drawn_id);
    _checkpoint.frontier_entry_id := null;
    _checkpoint.frontier_holders := null;
  elsif _checkpoint.frontier_entry_id is null
     or not exists (select 1 from pg_locks l
                     where l.locktype = 'virtualxid' and l.virtualxid = any(_checkpoint.frontier_holders)) then
    -- The writers of an earlier step's frontier have all ended: its ids are final. A new frontier
    -- is set; one not yet passed is kept, so a steady stream of writers cannot starve it.
    _safe_id := greatest(_safe_id, coalesce(_checkpoint.frontier_entry_id, 0));
    _checkpoint.frontier_entry_id := _drawn_id;
    _checkpoint.frontier_holders := _holders;
  end if;

  -- 1. New entries: their amounts are added to their accounts' checked sums first, so the
  -- accounts below are compared with sums that include them.
  _through_id := least(_safe_id, _checkpoint.entry_id_checked + _entry_count_max);
  _new_after_id := _checkpoint.entry_id_checked;
  if _through_id > _new_after_id then
    with slice_sums as (
      select e.account_id,
             coalesce(sum(e.amount::numeric) filter (where e.direction = 'debit'), 0) as debits,
             coalesce(sum(e.amount::numeric) filter (where e.direction = 'credit'), 0) as credits,
             count(*)::int as entries
        from ledger.entries e
       where e.id > _new_after_id and e.id <= _through_id
       group by e.account_id
    ), summed as (
      insert into ledger.invariant_account_sums as c (account_id, debits, credits)
      select s.account_id, s.debits, s.credits from slice_sums s
      on conflict (account_id) do update
        set debits = c.debits + excluded.debits, credits = c.credits + excluded.credits
      returning c.account_id
    )
    select coalesce(array_agg(s.account_id), '{}'), coalesce(sum(s.entries), 0)::int
      into _touched, _entry_count
      from slice_sums s;
    _checkpoint.entry_id_checked := _through_id;
  end if;

  -- 2. Accounts: the touched ones, and the next slice of the sweep.
  select coalesce(array_agg(a.id order by a.id), '{}') into _sweep
    from (select a.id from ledger.accounts a
           where _checkpoint.account_cursor is null or a.id > _checkpoint.account_cursor
           order by a.id
           limit _account_count_max) a;
  _checkpoint.account_cursor :=
    case when cardinality(_sweep) < _account_count_max then null else _sweep[cardinality(_sweep)] end;

  -- 3. Scrub: entries checked by earlier steps again, a slice at a time.
  _scrub_after_id := _checkpoint.scrub_entry_id;
  _scrub_through_id := least(_scrub_after_id + _scrub_entry_count_max, _new_after_id);
  if _scrub_through_id > _scrub_after_id then
    select count(*)::int into _scrub_count
      from ledger.entries e
     where e.id > _scrub_after_id and e.id <= _scrub_through_id;
  end if;
  _checkpoint.scrub_entry_id :=
    case when _scrub_through_id >= _new_after_id then 0 else greatest(_scrub_through_id, 0) end;

  -- The violations of all three, each recorded once.
  with found as (
    select * from ledger.invariant_entry_violations(_new_after_id, greatest(_through_id, _new_after_id))
    union all
    select 'account_totals_equal_entries', a.id::text,
           format('debits_posted %s vs %s, credits_posted %s vs %s', a.debits_posted,
                  coalesce(c.debits, 0) + u.debits, a.credits_posted, coalesce(c.credits, 0) + u.credits)
      from ledger.accounts a
      left join ledger.invariant_account_sums c on c.account_id = a.id
      cross join lateral (
        select coalesce(sum(r.amount::numeric) filter (where r.direction = 'debit'), 0) as debits,
               coalesce(sum(r.amount::numeric) filter (where r.direction = 'credit'), 0) as credits,
               count(*) as entries
          from (select q.amount, q.direction
                  from ledger.entries q
                 where q.account_id = a.id and q.id > _checkpoint.entry_id_checked
                 order by q.id
                 limit _unchecked_entry_count_max + 1) r
      ) u
     where a.id = any(_touched || _sweep)
       and u.entries <= _unchecked_entry_count_max
       and (a.debits_posted <> coalesce(c.debits, 0) + u.debits
            or a.credits_posted <> coalesce(c.credits, 0) + u.credits)
    union all
    select 'flagged_account_within_limit', a.id::text,
           format('debits %s + pending %s, credits %s + pending %s', a.debits_posted, a.debits_pending,
                  a.credits_posted, a.credits_pending)
      from ledger.accounts a
     where a.id = any(_touched || _sweep)
       and ((a.debits_must_not_exceed_credits and a.debits_posted + a.debits_pending > a.credits_posted)
         or (a.credits_must_not_exceed_debits and a.credits_posted + a.credits_pending > a.debits_posted))
    union all
    select * from ledger.invariant_entry_violations(_scrub_after_id, greatest(_scrub_through_id, _scrub_after_id))
  ), once as (
    select distinct on (f.invariant, f.subject) f.invariant, f.subject, left(f.detail, 1024) as detail
      from found f
     order by f.invariant, f.subject, f.detail
  ), recorded as (
    insert into ledger.invariant_violations (invariant, subject, detail, found_at)
    select o.invariant, o.subject, o.detail, _now from once o
    on conflict on constraint invariant_violations_once do nothing
    returning 1
  )
  select (select count(*)::int from once), (select count(*)::int from recorded)
    into _found_count, _recorded_count;

  update ledger.invariant_checkpoint k
     set entry_id_checked = _checkpoint.entry_id_checked,
         frontier_entry_id = _checkpoint.frontier_entry_id,
         frontier_holders = _checkpoint.frontier_holders,
         account_cursor = _checkpoint.account_cursor,
         scrub_entry_id = _checkpoint.scrub_entry_id,
         step_count = k.step_count + 1,
         checked_at = _now
   where k.id;

  return query select _entry_count, cardinality(_touched || _sweep), _scrub_count, _found_count,
                      _recorded_count, _checkpoint.entry_id_checked, _safe_id;
end $$;

revoke execute on function ledger.invariant_entry_violations(bigint, bigint) from public;
revoke execute on function ledger.check_invariants_step(int, int, int, timestamptz) from public;
grant execute on function ledger.invariant_entry_violations(bigint, bigint) to ledgerx_app;
grant execute on function ledger.check_invariants_step(int, int, int, timestamptz) to ledgerx_app;
