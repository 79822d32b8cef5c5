-- Asserts what 0013_account_status created: the account's state with its default, the rule that a
-- closed account is empty, the history of changes with its grants, and the account.* event types.
do $$
declare
  _account uuid := '00000000-0000-4000-8000-0000000013a1';
begin
  assert (select column_default from information_schema.columns
           where table_schema = 'ledger' and table_name = 'accounts' and column_name = 'status')
         = '''open''::text', 'an account is open unless it changed';
  assert not has_column_privilege('ledgerx_app', 'ledger.accounts', 'status', 'update'),
    'the app changes an account''s state only through ledger.change_account_status';
  assert to_regclass('ledger.account_changes') is not null, 'ledger.account_changes exists';
  assert not has_table_privilege('ledgerx_app', 'ledger.account_changes', 'insert'),
    'the app records changes only through ledger.change_account_status';
  assert not has_table_privilege('ledgerx_app', 'ledger.account_changes', 'update'), 'changes are not rewritten';
  assert not has_table_privilege('ledgerx_app', 'ledger.account_changes', 'delete'), 'changes are kept';

  begin
    insert into ledger.accounts (id, currency, status) values (_account, 'USD', 'sleeping');
    assert false, 'an unknown state is refused';
  exception when check_violation then null;
  end;
  begin
    insert into ledger.accounts (id, currency, status, credits_posted) values (_account, 'USD', 'closed', 5);
    assert false, 'a closed account with a balance is refused';
  exception when check_violation then null;
  end;
  begin
    insert into ledger.accounts (id, currency, status, debits_pending) values (_account, 'USD', 'closed', 5);
    assert false, 'a closed account with money held is refused';
  exception when check_violation then null;
  end;
  begin
    insert into ledger.account_changes (id, account_id, action, status)
    values (gen_random_uuid(), gen_random_uuid(), 'freeze', 'frozen');
    assert false, 'a change of an unknown account is refused';
  exception when foreign_key_violation then null;
  end;

  begin
    insert into ledger.accounts (id, currency, status, debits_posted, credits_posted)
    values (_account, 'USD', 'closed', 7, 7);
    insert into ledger.account_changes (id, account_id, action, status)
    values ('00000000-0000-7000-8000-0000000013c1', _account, 'close', 'closed');
    insert into ledger.outbox (event_type, transfer_id)
    values ('account.closed', '00000000-0000-7000-8000-0000000013c1');
    raise exception 'undo the planted rows' using errcode = 'LXT01';
  exception when sqlstate 'LXT01' then null;
  end;
end $$;
