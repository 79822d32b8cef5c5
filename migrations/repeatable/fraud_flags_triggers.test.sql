-- Asserts what repeatable/fraud_flags_triggers.sql defines: a verdict's flag, once set, is kept,
-- while its score may still change. A flagged verdict is planted as the owner, then undone.
do $$
declare
  _transfer uuid := gen_random_uuid();
begin
  assert not has_function_privilege('public', 'fraud.flags_are_kept()', 'execute'),
    'nobody calls the guard but its trigger';
  begin
    insert into fraud.verdicts (transfer_id, debit_account_id, flag_id, flagged_at)
    values (_transfer, gen_random_uuid(), nextval('fraud.flag_ids'), now());
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
