-- Asserts what 0012_pending_transfers_and_reversals created: the transfers' kinds and the fields
-- each kind carries, the new statuses and reasons, the holds table with its grants, and the new
-- event types; bad rows are planted to prove each check fires, then undone.
-- repeatable/post_transfers.test.sql and the TypeScript tests assert that posting fills them.
do $$
declare
  _transfer uuid := '00000000-0000-4000-8000-0000000012a1';
  _account uuid := '00000000-0000-4000-8000-0000000012a2';
  _other uuid := '00000000-0000-4000-8000-0000000012a3';
begin
  assert (select data_type from information_schema.columns
           where table_schema = 'ledger' and table_name = 'transfers' and column_name = 'kind') = 'text',
    'a transfer has a kind';
  assert (select column_default from information_schema.columns
           where table_schema = 'ledger' and table_name = 'transfers' and column_name = 'kind')
         = '''transfer''::text', 'a transfer recorded before kinds is a plain transfer';
  assert (select is_nullable from information_schema.columns
           where table_schema = 'ledger' and table_name = 'transfers' and column_name = 'currency') = 'YES',
    'a post, void or reversal of an unknown transfer is recorded without a currency';
  assert to_regclass('ledger.pending_transfers') is not null, 'ledger.pending_transfers exists';
  assert to_regclass('ledger.pending_transfers_expiry') is not null, 'the sweep finds open holds by expiry';
  assert to_regclass('ledger.transfers_reversals') is not null, 'a transfer''s reversals are found by it';
  assert has_table_privilege('ledgerx_app', 'ledger.pending_transfers', 'select'), 'the app reads holds';
  assert not has_table_privilege('ledgerx_app', 'ledger.pending_transfers', 'insert'),
    'the app records holds only through the engine';
  assert not has_column_privilege('ledgerx_app', 'ledger.pending_transfers', 'status', 'update'),
    'the app resolves holds only through the engine and the sweep';
  assert not has_table_privilege('ledgerx_app', 'ledger.pending_transfers', 'delete'), 'holds are kept';
  assert not has_table_privilege('ledgerx_app', 'ledger.transfers', 'update'), 'transfers stay immutable';
  assert (select array_agg(a.attname::text order by k.n)
            from pg_constraint c
           cross join unnest(c.conkey) with ordinality as k(attnum, n)
            join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.attnum
           where c.conname = 'pending_transfers_pkey' and c.conrelid = 'ledger.pending_transfers'::regclass)
         = array['debit_account_id', 'transfer_id'], 'holds are keyed by their debit account first';

  -- Each planted row must be refused by the check named.
  begin
    insert into ledger.transfers (id, kind, debit_account_id, credit_account_id, amount, currency, status, accepted_at)
    values (_transfer, 'pending', _account, _other, 5, 'USD', 'pending', now());
    assert false, 'a pending transfer without a timeout is refused';
  exception when check_violation then null;
  end;
  begin
    insert into ledger.transfers (id, kind, debit_account_id, credit_account_id, amount, currency, status, accepted_at, timeout_s)
    values (_transfer, 'pending', _account, _other, 5, 'USD', 'pending', now(), 2592001);
    assert false, 'a timeout past 30 days is refused';
  exception when check_violation then null;
  end;
  begin
    insert into ledger.transfers (id, kind, debit_account_id, credit_account_id, amount, currency, status, accepted_at)
    values (_transfer, 'transfer', _account, _other, 5, 'USD', 'pending', now());
    assert false, 'a plain transfer is never pending';
  exception when check_violation then null;
  end;
  begin
    insert into ledger.transfers (id, kind, amount, status, reason, accepted_at)
    values (_transfer, 'post_pending', 5, 'rejected', 'pending_transfer_not_found', now());
    assert false, 'a post names its pending transfer';
  exception when check_violation then null;
  end;
  begin
    insert into ledger.transfers (id, kind, amount, currency, status, accepted_at, reverses_id)
    values (_transfer, 'reversal', 5, null, 'posted', now(), _other);
    assert false, 'a posted reversal has a currency';
  exception when check_violation then null;
  end;
  begin
    insert into ledger.transfers (id, kind, status, reason, accepted_at, reverses_id)
    values (_transfer, 'reversal', 'rejected', 'a_reason_nobody_knows', now(), _other);
    assert false, 'an unknown rejection reason is refused';
  exception when check_violation then null;
  end;
  begin
    insert into ledger.pending_transfers (debit_account_id, transfer_id, credit_account_id, amount, currency, expires_at, status)
    values (_account, _transfer, _other, 5, 'USD', now(), 'posted');
    assert false, 'a posted hold names its post and what it posted';
  exception when check_violation then null;
  end;
  begin
    insert into ledger.pending_transfers
      (debit_account_id, transfer_id, credit_account_id, amount, currency, expires_at, status, posted_amount,
       resolved_by, resolved_at)
    values (_account, _transfer, _other, 5, 'USD', now(), 'posted', 6, _other, now());
    assert false, 'a hold never posts more than it held';
  exception when check_violation then null;
  end;
  begin
    insert into ledger.outbox (event_type, transfer_id) values ('transfer.lost', _transfer);
    assert false, 'an unknown event type is refused';
  exception when check_violation then null;
  end;

  -- A rejected post of an unknown pending transfer is recorded without accounts or currency.
  begin
    insert into ledger.transfers (id, kind, amount, status, reason, accepted_at, pending_id)
    values (_transfer, 'post_pending', 5, 'rejected', 'pending_transfer_not_found', now(), _other);
    insert into ledger.outbox (event_type, transfer_id) values ('transfer.expired', _transfer);
    insert into ledger.event_receipts (event_id, event_type, transfer_id)
    values (gen_random_uuid(), 'transfer.voided', _transfer);
    raise exception 'undo the planted rows' using errcode = 'LXT01';
  exception when sqlstate 'LXT01' then null;
  end;
end $$;
