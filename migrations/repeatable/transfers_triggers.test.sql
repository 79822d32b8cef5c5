-- Asserts what repeatable/transfers_triggers.sql defines: a recorded transfer cannot be updated,
-- deleted or truncated, even by the tables' owner, who is not bound by grants. A transfer is
-- planted as the owner, then undone.
do $$
declare
  _debit uuid := gen_random_uuid();
  _credit uuid := gen_random_uuid();
  _transfer uuid := gen_random_uuid();
begin
  assert (select count(*) from pg_trigger where tgrelid = 'ledger.transfers'::regclass and not tgisinternal) = 3,
    'transfers have their update, delete and truncate guards';
  assert not has_function_privilege('public', 'ledger.transfers_are_immutable()', 'execute'),
    'nobody calls the guard but its triggers';
  begin
    insert into ledger.accounts (id, currency) values (_debit, 'USD'), (_credit, 'USD');
    perform ledger.post_transfers(jsonb_build_array(jsonb_build_object(
      'id', _transfer, 'debit_account_id', _debit, 'credit_account_id', _credit,
      'amount', '5', 'currency', 'USD', 'accepted_at', now())));
    begin
      update ledger.transfers set status = 'rejected', reason = 'exceeds_credits' where id = _transfer;
      assert false, 'a recorded transfer was rewritten';
    exception when insufficient_privilege then null;
    end;
    begin
      delete from ledger.transfers where id = _transfer;
      assert false, 'a recorded transfer was deleted';
    exception when insufficient_privilege then null;
    end;
    begin
      truncate ledger.transfers;
      assert false, 'the transfers were truncated';
    exception when insufficient_privilege then null;
    end;
    raise exception 'undo the planted rows' using errcode = 'LXT01';
  exception when sqlstate 'LXT01' then null;
  end;
end $$;
