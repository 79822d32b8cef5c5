-- Account states: ledger.change_account_status freezes, unfreezes or closes an account in the
-- caller's transaction, and answers what happened: 'changed', 'unchanged' (it was so already),
-- 'not_found', or why it was refused: 'account_closed' (a closed account takes no action but
-- closing again), 'balance_not_zero' or 'pending_not_zero' (an account closes only empty).
-- The order of the checks is shared/domain/accounts.ts' `decideAccountAction`; the property test
-- holds the two together.
--
-- A change locks the account's row first, so it is ordered with the posting batches that touch
-- the account: a batch that read the account before the change committed fails on the row lock
-- with 40001 and is retried, and sees the new state. A change records itself in
-- ledger.account_changes (the id is the caller's, a UUIDv7) and writes its `account.<state>`
-- event to the outbox under that id, in the same transaction.
--
-- Applied again whenever it changes (docs/database.md).

create or replace function ledger.change_account_status(
  _account_id uuid, _action text, _change_id uuid
)
returns text
language plpgsql
-- Runs with its owner's rights: it writes account state, totals and the outbox, which the
-- application role may not write directly (docs/database.md, the rule for a new function).
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  _account ledger.accounts%rowtype;
  _status text;
begin
  if _action is null or _action not in ('freeze', 'unfreeze', 'close') then
    raise exception 'change_account_status takes freeze, unfreeze or close, got %', _action
      using errcode = 'invalid_parameter_value';
  end if;
  select * into _account from ledger.accounts where id = _account_id for update;
  if not found then
    return 'not_found';
  end if;

  if _account.status = 'closed' then
    return case when _action = 'close' then 'unchanged' else 'account_closed' end;
  end if;
  if _action = 'freeze' then
    if _account.status = 'frozen' then return 'unchanged'; end if;
    _status := 'frozen';
  elsif _action = 'unfreeze' then
    if _account.status = 'open' then return 'unchanged'; end if;
    _status := 'open';
  else
    if _account.debits_posted <> _account.credits_posted then return 'balance_not_zero'; end if;
    if _account.debits_pending <> 0 or _account.credits_pending <> 0 then return 'pending_not_zero'; end if;
    _status := 'closed';
  end if;

  update ledger.accounts set status = _status, version = version + 1 where id = _account_id;
  insert into ledger.account_changes (id, account_id, action, status)
  values (_change_id, _account_id, _action, _status);
  insert into ledger.outbox (event_type, transfer_id)
  values (case _action when 'freeze' then 'account.frozen' when 'unfreeze' then 'account.unfrozen'
                       else 'account.closed' end,
          _change_id);
  return 'changed';
end $$;

revoke execute on function ledger.change_account_status(uuid, text, uuid) from public;
grant execute on function ledger.change_account_status(uuid, text, uuid) to ledgerx_app;
