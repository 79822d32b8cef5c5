-- Asserts what repeatable/entries_triggers.sql defines: entries cannot be rewritten or removed
-- and every insert statement leaves its transfers balanced (each planted, refused, then undone).
do $$
declare
  _debit uuid := gen_random_uuid();
  _credit uuid := gen_random_uuid();
  _transfer uuid := '00000000-0000-4000-8000-0000000000e7';
begin
  assert (select array_agg(tgname::text order by tgname) from pg_trigger
           where tgrelid = 'ledger.entries'::regclass and not tgisinternal)
         = array['entries_balance', 'entries_no_delete', 'entries_no_truncate', 'entries_no_update'],
    'entries has its append-only and balance triggers';

  begin
    insert into ledger.entries
      (transfer_id, account_id, direction, amount, currency, debits_posted_after, credits_posted_after)
    values (_transfer, _debit, 'debit', 5, 'USD', 5, 0);
    assert false, 'a transfer''s lone leg is refused';
  exception when check_violation then null;
  end;

  begin
    insert into ledger.entries
      (transfer_id, account_id, direction, amount, currency, debits_posted_after, credits_posted_after)
    values (_transfer, _debit, 'debit', 5, 'USD', 5, 0), (_transfer, _credit, 'credit', 5, 'USD', 0, 5);
    begin
      update ledger.entries set amount = 6 where transfer_id = _transfer;
      assert false, 'an entry cannot be updated';
    exception when insufficient_privilege then null;
    end;
    begin
      delete from ledger.entries where transfer_id = _transfer;
      assert false, 'an entry cannot be deleted';
    exception when insufficient_privilege then null;
    end;
    begin
      truncate ledger.entries;
      assert false, 'the journal cannot be truncated';
    exception when insufficient_privilege then null;
    end;
    raise exception 'undo the planted entries' using errcode = 'LXT01';
  exception when sqlstate 'LXT01' then null;
  end;
end $$;
