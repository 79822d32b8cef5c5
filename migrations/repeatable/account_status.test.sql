-- Asserts what repeatable/account_status.sql defines: each action's outcome in the order of
-- shared/domain/accounts.ts, the state and its history changing only when an action changes it,
-- one event per change, and a sound ledger after. Planted, changed, read, then undone.
do $$
declare
  _change regprocedure := to_regprocedure('ledger.change_account_status(uuid, text, uuid)');
  _account uuid := gen_random_uuid();
  _other uuid := gen_random_uuid();
begin
  assert _change is not null, 'ledger.change_account_status exists';
  assert has_function_privilege('ledgerx_app', _change, 'execute'), 'the app may change account states';
  assert (select prosecdef from pg_proc where oid = _change),
    'account changes run with their owner''s rights: the app may not write account states itself';
  assert (select proconfig from pg_proc where oid = _change) = array['search_path=pg_catalog, pg_temp'],
    'account changes pin their search path';
  assert not has_function_privilege('public', _change, 'execute'), 'PUBLIC may not change account states';
  assert ledger.change_account_status(gen_random_uuid(), 'freeze', gen_random_uuid()) = 'not_found',
    'an unknown account is not found';
  begin
    perform ledger.change_account_status(_account, 'delete', gen_random_uuid());
    assert false, 'an unknown action is refused';
  exception when invalid_parameter_value then null;
  end;

  begin
    insert into ledger.accounts (id, currency) values (_account, 'USD'), (_other, 'USD');
    assert ledger.change_account_status(_account, 'unfreeze', gen_random_uuid()) = 'unchanged',
      'unfreezing an open account changes nothing';
    assert ledger.change_account_status(_account, 'freeze', gen_random_uuid()) = 'changed', 'an open account freezes';
    assert ledger.change_account_status(_account, 'freeze', gen_random_uuid()) = 'unchanged',
      'freezing a frozen account changes nothing';
    assert (select status from ledger.accounts where id = _account) = 'frozen', 'the state is frozen';
    assert ledger.change_account_status(_account, 'unfreeze', gen_random_uuid()) = 'changed', 'it unfreezes';

    -- Money held, then posted: the account is not empty, then it is not balanced.
    perform ledger.post_transfers(jsonb_build_array(
      jsonb_build_object('id', gen_random_uuid(), 'kind', 'pending', 'debit_account_id', _account,
                         'credit_account_id', _other, 'amount', '3', 'currency', 'USD', 'accepted_at', now(),
                         'timeout_s', 60)), true, now());
    assert ledger.change_account_status(_account, 'close', gen_random_uuid()) = 'pending_not_zero',
      'an account holding money does not close';
    perform ledger.expire_pending_transfers(now() + interval '1 hour', 10);
    perform ledger.post_transfers(jsonb_build_array(
      jsonb_build_object('id', gen_random_uuid(), 'debit_account_id', _account, 'credit_account_id', _other,
                         'amount', '3', 'currency', 'USD', 'accepted_at', now())), true, now());
    assert ledger.change_account_status(_account, 'close', gen_random_uuid()) = 'balance_not_zero',
      'an account with a posted balance does not close';
    perform ledger.post_transfers(jsonb_build_array(
      jsonb_build_object('id', gen_random_uuid(), 'debit_account_id', _other, 'credit_account_id', _account,
                         'amount', '3', 'currency', 'USD', 'accepted_at', now())), true, now());
    assert ledger.change_account_status(_account, 'freeze', gen_random_uuid()) = 'changed', 'it freezes again';
    assert ledger.change_account_status(_account, 'close', gen_random_uuid()) = 'changed',
      'an empty frozen account closes';
    assert ledger.change_account_status(_account, 'close', gen_random_uuid()) = 'unchanged',
      'closing a closed account changes nothing';
    assert ledger.change_account_status(_account, 'unfreeze', gen_random_uuid()) = 'account_closed',
      'a closed account is closed for good';
    assert ledger.change_account_status(_account, 'freeze', gen_random_uuid()) = 'account_closed',
      'a closed account takes no freeze';
    assert (select array_agg(action order by change_number) from ledger.account_changes where account_id = _account)
         = array['freeze', 'unfreeze', 'freeze', 'close'], 'only the changes are recorded, in order';
    assert (select array_agg(o.event_type order by c.change_number)
              from ledger.account_changes c join ledger.outbox o on o.transfer_id = c.id
             where c.account_id = _account)
         = array['account.frozen', 'account.unfrozen', 'account.frozen', 'account.closed'],
      'one event per change, named after the state it left';
    assert not exists (select 1 from ledger.check_invariants()), 'the ledger is sound after the changes';
    raise exception 'undo the planted accounts' using errcode = 'LXT01';
  exception when sqlstate 'LXT01' then null;
  end;
end $$;
