-- ledger.check_invariants: the ledger's promises, checked from the rows alone. Returns one row per
-- violation, so an empty result means the ledger is sound. Tests call it after every integration
-- test and the benchmark after every workload.

create or replace function ledger.check_invariants()
returns table (invariant text, subject text, detail text)
language sql stable as $$
  -- Each transfer's entries sum to zero per currency.
  select 'entries_sum_to_zero', e.transfer_id::text,
         format('%s: debits - credits = %s', e.currency,
                sum(case e.direction when 'debit' then e.amount::numeric else -e.amount::numeric end))
    from ledger.entries e
   group by e.transfer_id, e.currency
  having sum(case e.direction when 'debit' then e.amount::numeric else -e.amount::numeric end) <> 0
  union all
  -- A posted two-account transfer has exactly its two legs; a rejected one has none.
  select 'transfer_has_its_entries', t.id::text, format('%s with %s entries', t.status, count(e.id))
    from ledger.transfers t
    left join ledger.entries e on e.transfer_id = t.id
   group by t.id, t.status, t.debit_account_id, t.credit_account_id, t.amount, t.currency
  having (t.status = 'rejected' and count(e.id) <> 0)
      or (t.status = 'posted' and t.debit_account_id is not null and (
            count(e.id) <> 2
            or count(*) filter (where e.direction = 'debit' and e.account_id = t.debit_account_id
                                  and e.amount = t.amount and e.currency = t.currency) <> 1
            or count(*) filter (where e.direction = 'credit' and e.account_id = t.credit_account_id
                                  and e.amount = t.amount and e.currency = t.currency) <> 1))
  union all
  -- Every account's totals equal the sum of its entries, and entries are in its currency.
  select 'account_totals_equal_entries', a.id::text,
         format('debits_posted %s vs %s, credits_posted %s vs %s, foreign entries %s',
                a.debits_posted, coalesce(s.debits, 0), a.credits_posted, coalesce(s.credits, 0),
                coalesce(s.foreign_entries, 0))
    from ledger.accounts a
    left join (
      select e.account_id,
             sum(e.amount::numeric) filter (where e.direction = 'debit') as debits,
             sum(e.amount::numeric) filter (where e.direction = 'credit') as credits,
             count(*) filter (where e.currency <> a2.currency) as foreign_entries
        from ledger.entries e
        join ledger.accounts a2 on a2.id = e.account_id
       group by e.account_id
    ) s on s.account_id = a.id
   where a.debits_posted <> coalesce(s.debits, 0)
      or a.credits_posted <> coalesce(s.credits, 0)
      or coalesce(s.foreign_entries, 0) <> 0
  union all
  -- A flagged account never overdraws.
  select 'flagged_account_within_limit', a.id::text,
         format('debits %s + pending %s, credits %s + pending %s', a.debits_posted, a.debits_pending,
                a.credits_posted, a.credits_pending)
    from ledger.accounts a
   where (a.debits_must_not_exceed_credits and a.debits_posted + a.debits_pending > a.credits_posted)
      or (a.credits_must_not_exceed_debits and a.credits_posted + a.credits_pending > a.debits_posted)
  union all
  -- Each entry's running totals are its account's totals up to and including it.
  select 'running_totals_consistent', r.id::text,
         format('after-entry totals %s/%s, sums %s/%s', r.debits_posted_after, r.credits_posted_after,
                r.debits_sum, r.credits_sum)
    from (
      select e.id, e.debits_posted_after, e.credits_posted_after,
             sum(case e.direction when 'debit' then e.amount::numeric else 0 end)
               over (partition by e.account_id order by e.id) as debits_sum,
             sum(case e.direction when 'credit' then e.amount::numeric else 0 end)
               over (partition by e.account_id order by e.id) as credits_sum
        from ledger.entries e
    ) r
   where r.debits_posted_after <> r.debits_sum or r.credits_posted_after <> r.credits_sum
  union all
  -- An account's entries are in the same order by time as by id, so the newest entry at or before
  -- an instant carries the account's totals at that instant (a balance as of a time).
  select 'entry_times_follow_the_journal', t.id::text,
         format('created_at %s is before the previous entry''s %s', t.created_at, t.previous_at)
    from (
      select e.id, e.created_at,
             lag(e.created_at) over (partition by e.account_id order by e.id) as previous_at
        from ledger.entries e
    ) t
   where t.created_at < t.previous_at
  union all
  -- Every entry and every event belongs to a recorded transfer.
  select 'entry_belongs_to_a_transfer', e.id::text, format('transfer %s', e.transfer_id)
    from ledger.entries e
   where not exists (select 1 from ledger.transfers t where t.id = e.transfer_id)
  union all
  select 'entry_belongs_to_an_account', e.id::text, format('account %s', e.account_id)
    from ledger.entries e
   where not exists (select 1 from ledger.accounts a where a.id = e.account_id)
  union all
  select 'event_belongs_to_a_transfer', o.id::text, format('transfer %s', o.transfer_id)
    from ledger.outbox o
   where not exists (select 1 from ledger.transfers t where t.id = o.transfer_id)
  union all
  -- Every recorded transfer has exactly one posted-or-rejected event in the outbox.
  select 'transfer_has_one_event', t.id::text, format('%s events', count(o.id))
    from ledger.transfers t
    left join ledger.outbox o
      on o.transfer_id = t.id and o.event_type in ('transfer.posted', 'transfer.rejected')
   group by t.id
  having count(o.id) <> 1
  union all
  -- A flagged transfer has exactly one transfer.flagged event, and only a flagged one has any.
  select 'flag_has_one_event', coalesce(v.transfer_id, o.transfer_id)::text,
         format('flagged %s, %s flagged events', v.transfer_id is not null, count(o.id))
    from (select transfer_id from fraud.verdicts where flagged_at is not null) v
    full join (select id, transfer_id from ledger.outbox where event_type = 'transfer.flagged') o
      on o.transfer_id = v.transfer_id
   group by v.transfer_id, o.transfer_id
  having v.transfer_id is null or count(o.id) <> 1
$$;

grant execute on function ledger.check_invariants() to ledgerx_app;
