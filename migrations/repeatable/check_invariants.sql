-- ledger.check_invariants: the ledger's promises, checked from the rows alone. Returns one row per
-- violation, so an empty result means the ledger is sound. Tests call it after every integration
-- test and the benchmark after every workload. docs/ledger.md lists the promises.

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
  -- A posted two-account transfer has exactly its two legs; one that moved no money (rejected,
  -- pending, voided) has none.
  select 'transfer_has_its_entries', t.id::text, format('%s with %s entries', t.status, count(e.id))
    from ledger.transfers t
    left join ledger.entries e on e.transfer_id = t.id
   group by t.id, t.status, t.debit_account_id, t.credit_account_id, t.amount, t.currency
  having (t.status <> 'posted' and count(e.id) <> 0)
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
  -- A transfer.* event is about a recorded transfer, an account.* event about an account change.
  select 'event_belongs_to_a_transfer', o.id::text, format('transfer %s', o.transfer_id)
    from ledger.outbox o
   where o.event_type like 'transfer.%'
     and not exists (select 1 from ledger.transfers t where t.id = o.transfer_id)
  union all
  select 'event_belongs_to_an_account_change', o.id::text, format('%s of change %s', o.event_type, o.transfer_id)
    from ledger.outbox o
   where o.event_type like 'account.%'
     and not exists (
       select 1 from ledger.account_changes c
        where c.id = o.transfer_id
          and o.event_type = case c.action when 'freeze' then 'account.frozen'
                                           when 'unfreeze' then 'account.unfrozen' else 'account.closed' end)
  union all
  -- Every recorded transfer has exactly one event of its recorded outcome, and no other outcome's.
  select 'transfer_has_one_event', t.id::text, format('%s: %s outcome events, %s of its own', t.status,
                                                      count(o.id), count(o.id) filter (where o.event_type = 'transfer.' || t.status))
    from ledger.transfers t
    left join ledger.outbox o
      on o.transfer_id = t.id
     and o.event_type in ('transfer.posted', 'transfer.rejected', 'transfer.pending', 'transfer.voided')
   group by t.id, t.status
  having count(o.id) <> 1 or count(o.id) filter (where o.event_type = 'transfer.' || t.status) <> 1
  union all
  -- Every account change has its one event.
  select 'account_change_has_one_event', c.id::text, format('%s events', count(o.id))
    from ledger.account_changes c
    left join ledger.outbox o on o.transfer_id = c.id and o.event_type like 'account.%'
   group by c.id
  having count(o.id) <> 1
  union all
  -- An account's state is the state its latest change left it in (open if it never changed), and
  -- a closed account is empty.
  select 'account_status_follows_its_changes', a.id::text,
         format('status %s, latest change %s', a.status, coalesce(l.status, '(none)'))
    from ledger.accounts a
    left join lateral (
      select c.status from ledger.account_changes c
       where c.account_id = a.id order by c.change_number desc limit 1
    ) l on true
   where a.status is distinct from coalesce(l.status, 'open')
      or (a.status = 'closed'
          and (a.debits_posted <> a.credits_posted or a.debits_pending <> 0 or a.credits_pending <> 0))
  union all
  -- Pending totals are the sums of the open holds: each account's debits pending equal the
  -- amounts of the pending transfers debiting it that are still pending, and the same for credits.
  select 'pending_totals_equal_open_holds', a.id::text,
         format('debits_pending %s vs %s, credits_pending %s vs %s', a.debits_pending, coalesce(d.held, 0),
                a.credits_pending, coalesce(c.held, 0))
    from ledger.accounts a
    left join (
      select p.debit_account_id as account_id, sum(p.amount::numeric) as held
        from ledger.pending_transfers p where p.status = 'pending' group by p.debit_account_id
    ) d on d.account_id = a.id
    left join (
      select p.credit_account_id as account_id, sum(p.amount::numeric) as held
        from ledger.pending_transfers p where p.status = 'pending' group by p.credit_account_id
    ) c on c.account_id = a.id
   where a.debits_pending <> coalesce(d.held, 0) or a.credits_pending <> coalesce(c.held, 0)
  union all
  -- Every pending transfer recorded `pending` has exactly one hold, with its accounts, amount and
  -- currency; every hold is such a transfer's.
  select 'pending_transfer_has_its_hold', coalesce(t.id, p.transfer_id)::text,
         format('transfer %s, hold %s', t.id is not null, p.transfer_id is not null)
    from (select * from ledger.transfers where kind = 'pending' and status = 'pending') t
    full join ledger.pending_transfers p
      on p.transfer_id = t.id and p.debit_account_id = t.debit_account_id
     and p.credit_account_id = t.credit_account_id and p.amount = t.amount and p.currency = t.currency
   where t.id is null or p.transfer_id is null
  union all
  -- A hold that was posted or voided names the transfer that did it: a post that posted it (moving
  -- the amount the hold says, at most what it held) or a void that voided it; and every post that
  -- posted and every void that voided resolved exactly one hold, the one it names.
  select 'hold_resolved_by_its_transfer', coalesce(p.transfer_id, r.id)::text,
         format('hold %s %s, resolving transfer %s %s', p.transfer_id, p.status, r.id, r.kind)
    from (select * from ledger.pending_transfers where status in ('posted', 'voided')) p
    full join (
      select * from ledger.transfers
       where (kind = 'post_pending' and status = 'posted') or (kind = 'void_pending' and status = 'voided')
    ) r
      on r.id = p.resolved_by and r.pending_id = p.transfer_id
     and r.kind = case p.status when 'posted' then 'post_pending' else 'void_pending' end
     and r.debit_account_id = p.debit_account_id and r.credit_account_id = p.credit_account_id
     and r.amount = case p.status when 'posted' then p.posted_amount else p.amount end
   where p.transfer_id is null or r.id is null
  union all
  -- An expired hold has exactly one transfer.expired event, and only an expired hold has any.
  select 'expired_hold_has_one_event', coalesce(p.transfer_id, o.transfer_id)::text,
         format('expired %s, %s expired events', p.transfer_id is not null, count(o.id))
    from (select transfer_id from ledger.pending_transfers where status = 'expired') p
    full join (select id, transfer_id from ledger.outbox where event_type = 'transfer.expired') o
      on o.transfer_id = p.transfer_id
   group by p.transfer_id, o.transfer_id
  having p.transfer_id is null or count(o.id) <> 1
  union all
  -- A posted reversal reverses a posted transfer, with its accounts swapped and in its currency,
  -- and the posted reversals of a transfer never move back more than it moved.
  select 'reversal_fits_its_original', r.id::text, format('reverses %s', r.reverses_id)
    from ledger.transfers r
    left join ledger.transfers t on t.id = r.reverses_id
   where r.kind = 'reversal' and r.status = 'posted'
     and (t.id is null or t.status <> 'posted' or t.debit_account_id is distinct from r.credit_account_id
          or t.credit_account_id is distinct from r.debit_account_id or t.currency is distinct from r.currency)
  union all
  select 'reversals_within_original', t.id::text, format('amount %s, reversed %s', t.amount, s.reversed)
    from (
      select r.reverses_id, sum(r.amount::numeric) as reversed
        from ledger.transfers r where r.kind = 'reversal' and r.status = 'posted' group by r.reverses_id
    ) s
    join ledger.transfers t on t.id = s.reverses_id
   where s.reversed > t.amount
  union all
  -- A flagged transfer has exactly one transfer.flagged event, and only a flagged one has any.
  select 'flag_has_one_event', coalesce(v.transfer_id, o.transfer_id)::text,
         format('flagged %s, %s flagged events', v.transfer_id is not null, count(o.id))
    from (select transfer_id from fraud.verdicts where flagged_at is not null) v
    full join (select id, transfer_id from ledger.outbox where event_type = 'transfer.flagged') o
      on o.transfer_id = v.transfer_id
   group by v.transfer_id, o.transfer_id
  having v.transfer_id is null or count(o.id) <> 1
  union all
  -- An atomic set's legs are all posted or all rejected, and it has every leg from its first.
  select 'atomic_set_all_or_nothing', l.set_id::text,
         format('%s legs, %s posted, positions %s to %s', count(*),
                count(*) filter (where t.status = 'posted'), min(l.position), max(l.position))
    from ledger.atomic_set_legs l
    left join ledger.transfers t on t.id = l.transfer_id
   group by l.set_id
  having count(distinct t.status) <> 1 or count(t.id) <> count(*)
      or min(l.position) <> 0 or max(l.position) <> count(*) - 1
$$;

-- Read-only; GET /v1/admin/invariants runs it as the application.
revoke execute on function ledger.check_invariants() from public;
grant execute on function ledger.check_invariants() to ledgerx_app;
