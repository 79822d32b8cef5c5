-- Asserts what 0011_least_privilege made: ledgerx_app holds exactly the rights the functions use,
-- PUBLIC may execute no function of the ledger's schemas, and the owner's new functions are not
-- PUBLIC's. Statements are run as ledgerx_app (SET LOCAL ROLE, undone with each block) to prove
-- the grants. The engine's rights are asserted by repeatable/post_transfers.test.sql, the guards
-- of transfers and fraud flags by repeatable/transfers_triggers.test.sql and
-- fraud_flags_triggers.test.sql.
do $$
declare
  _debit uuid := gen_random_uuid();
  _credit uuid := gen_random_uuid();
  _transfer uuid := gen_random_uuid();
begin
  assert not exists (
    select 1 from pg_proc p
     where p.pronamespace in ('ledger'::regnamespace, 'fraud'::regnamespace)
       and has_function_privilege('public', p.oid, 'execute')
  ), 'PUBLIC may execute no function of the ledger''s schemas';
  assert exists (
    select 1 from pg_default_acl
     where defaclrole = (select oid from pg_roles where rolname = current_user) and defaclnamespace = 0 and defaclobjtype = 'f'
       and not exists (select 1 from aclexplode(defaclacl) a where a.grantee = 0)
  ), 'a new function of the owner is not PUBLIC''s';
  assert has_function_privilege('ledgerx_app', 'ledger.post_transfers(jsonb, boolean, timestamptz)', 'execute'),
    'the app may post';
  assert has_function_privilege('ledgerx_app', 'ledger.check_invariants()', 'execute'),
    'the app may check the invariants';

  assert not has_table_privilege('ledgerx_app', 'ledger.transfers', 'insert'), 'transfers are written by the engine';
  assert not has_table_privilege('ledgerx_app', 'ledger.entries', 'insert'), 'entries are written by the engine';
  assert not has_table_privilege('ledgerx_app', 'ledger.consumer_batches', 'insert'),
    'batches are written by the engine';
  assert has_column_privilege('ledgerx_app', 'ledger.accounts', 'currency', 'insert'), 'the app may open accounts';
  assert not has_column_privilege('ledgerx_app', 'ledger.accounts', 'credits_posted', 'insert'),
    'an account opens without totals';
  assert not has_column_privilege('ledgerx_app', 'ledger.accounts', 'debits_posted', 'update'),
    'totals move only through the engine';
  assert not has_column_privilege('ledgerx_app', 'ledger.accounts', 'currency', 'update'),
    'an account keeps its currency';
  assert has_column_privilege('ledgerx_app', 'ledger.accounts', 'velocity_window_s', 'update'),
    'the app may set velocity limits';
  assert has_column_privilege('ledgerx_app', 'ledger.outbox', 'published_at', 'update'),
    'the relay may mark events published';
  assert not has_column_privilege('ledgerx_app', 'ledger.outbox', 'published_at', 'insert'),
    'a new event is never born published';

  -- As the application role, what the threat needs is refused by the grants.
  begin
    set local role ledgerx_app;
    update ledger.accounts set credits_posted = 1000 where id = _debit;
    assert false, 'the app set an account''s totals';
  exception when insufficient_privilege then null;
  end;
  begin
    set local role ledgerx_app;
    insert into ledger.entries (transfer_id, account_id, direction, amount, currency,
                                debits_posted_after, credits_posted_after)
    values (_transfer, _debit, 'debit', 5, 'USD', 5, 0), (_transfer, _credit, 'credit', 5, 'USD', 0, 5);
    assert false, 'the app wrote entries beside the engine';
  exception when insufficient_privilege then null;
  end;
  begin
    set local role ledgerx_app;
    alter table ledger.entries disable trigger entries_no_update;
    assert false, 'the app disabled the journal''s guard';
  exception when insufficient_privilege then null;
  end;

  begin
    set local role ledgerx_app;
    update ledger.transfers set status = 'rejected' where id = _transfer;
    assert false, 'the app rewrote a transfer';
  exception when insufficient_privilege then null;
  end;
  begin
    set local role ledgerx_app;
    insert into ledger.transfers (id, debit_account_id, credit_account_id, amount, currency, status)
    values (_transfer, _debit, _credit, 5, 'USD', 'posted');
    assert false, 'the app recorded a transfer beside the engine';
  exception when insufficient_privilege then null;
  end;
end $$;
