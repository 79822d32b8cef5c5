-- Asserts what 0008_fraud created: the tables and their grants, the derived verdict status, and
-- the outbox's new event type. repeatable/check_invariants.test.sql asserts the flag checks.
do $$
declare
  _status text;
begin
  assert to_regclass('fraud.profiles') is not null, 'fraud.profiles exists';
  assert to_regclass('fraud.counterparties') is not null, 'fraud.counterparties exists';
  assert to_regclass('fraud.verdicts') is not null, 'fraud.verdicts exists';
  assert to_regclass('fraud.processed_events') is not null, 'fraud.processed_events exists';
  assert to_regclass('fraud.pattern_transfers') is not null, 'fraud.pattern_transfers exists';
  assert to_regclass('fraud.flag_ids') is not null, 'fraud.flag_ids exists';
  assert has_table_privilege('ledgerx_app', 'fraud.verdicts', 'insert'), 'the app may store verdicts';
  assert not has_table_privilege('ledgerx_app', 'fraud.verdicts', 'delete'), 'verdicts are kept';
  assert not has_column_privilege('ledgerx_app', 'fraud.verdicts', 'transfer_id', 'update'),
    'the app may not move a verdict to another transfer';
  assert not has_table_privilege('ledgerx_app', 'fraud.processed_events', 'delete'),
    'processed event ids are kept';

  begin
    -- A verdict's status follows its columns.
    insert into fraud.verdicts (transfer_id, debit_account_id)
    values ('00000000-0000-4000-8000-0000000000f1', gen_random_uuid());
    select status into _status from fraud.verdicts where transfer_id = '00000000-0000-4000-8000-0000000000f1';
    assert _status = 'pending', 'a verdict without a score is pending';
    update fraud.verdicts set score = 0.1, scored_at = now()
     where transfer_id = '00000000-0000-4000-8000-0000000000f1';
    select status into _status from fraud.verdicts where transfer_id = '00000000-0000-4000-8000-0000000000f1';
    assert _status = 'clear', 'a scored verdict under the threshold is clear';
    update fraud.verdicts set flag_id = nextval('fraud.flag_ids'), flagged_at = now()
     where transfer_id = '00000000-0000-4000-8000-0000000000f1';
    select status into _status from fraud.verdicts where transfer_id = '00000000-0000-4000-8000-0000000000f1';
    assert _status = 'flagged', 'a flagged verdict is flagged';

    -- The outbox takes the new event type.
    insert into ledger.outbox (event_type, transfer_id)
    values ('transfer.flagged', '00000000-0000-4000-8000-0000000000f1');

    begin
      update fraud.verdicts set reasons = array['looks_odd']
       where transfer_id = '00000000-0000-4000-8000-0000000000f1';
      assert false, 'a reason outside the closed set is refused';
    exception when check_violation then null;
    end;
    begin
      insert into fraud.verdicts (transfer_id, debit_account_id, score)
      values (gen_random_uuid(), gen_random_uuid(), 0.5);
      assert false, 'a score without scored_at is refused';
    exception when check_violation then null;
    end;
    begin
      insert into ledger.outbox (event_type, transfer_id) values ('transfer.lost', gen_random_uuid());
      assert false, 'an unknown outbox event type is refused';
    exception when check_violation then null;
    end;
    raise exception 'undo the planted verdict' using errcode = 'LXT01';
  exception when sqlstate 'LXT01' then null;
  end;
end $$;
