-- Asserts what 0010_least_privilege made: the engine runs with its owner's rights and a pinned
-- search path, ledgerx_app holds exactly the rights the functions use, and transfers and fraud
-- flags are guarded by triggers that bind even the owner. Statements are run as ledgerx_app
-- (SET LOCAL ROLE, undone with each block) to prove the grants, and rows are planted as the owner
-- to prove the triggers, then undone.
do $$
declare
  _posting regprocedure := 'ledger.post_transfers(jsonb, boolean, timestamptz)'::regprocedure;
  _debit uuid := gen_random_uuid();
  _credit uuid := gen_random_uuid();
  _transfer uuid := gen_random_uuid();
begin
  assert (select prosecdef from pg_proc where oid = _posting), 'the engine runs with its owner''s rights';
  assert (select proconfig @> array['search_path=pg_catalog, pg_temp'] from pg_proc where oid = _posting),
    'the engine''s search path is pinned';
  assert has_function_privilege('ledgerx_app', _posting, 'execute'), 'the app may post';
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
  assert (select count(*) from pg_trigger where tgrelid = 'ledger.transfers'::regclass and not tgisinternal) = 3,
    'transfers have their update, delete and truncate guards';

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

  -- As the owner, who is not bound by grants, the triggers still refuse.
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

    insert into fraud.verdicts (transfer_id, debit_account_id, flag_id, flagged_at)
    values (_transfer, _debit, nextval('fraud.flag_ids'), now());
    update fraud.verdicts set score = 0.9, scored_at = now() where transfer_id = _transfer;
    begin
      update fraud.verdicts set flag_id = null, flagged_at = null where transfer_id = _transfer;
      assert false, 'a fraud flag was taken back';
    exception when insufficient_privilege then null;
    end;
    raise exception 'undo the planted rows' using errcode = 'LXT01';
  exception when sqlstate 'LXT01' then null;
  end;
end $$;
