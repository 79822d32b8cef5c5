-- Asserts what 0001_ledger created. Run by test/integration/migrations.test.ts after migrating.
do $$
declare
  _columns text[];
begin
  assert to_regclass('ledger.accounts') is not null, 'ledger.accounts exists';
  assert to_regclass('ledger.transfers') is not null, 'ledger.transfers exists';
  assert to_regclass('ledger.entries') is not null, 'ledger.entries exists';
  assert to_regclass('ledger.outbox') is not null, 'ledger.outbox exists';
  assert to_regclass('ledger.poison_messages') is not null, 'ledger.poison_messages exists';
  assert to_regclass('ledger.outbox_unpublished') is not null, 'the unpublished-outbox index exists';

  select array_agg(column_name::text order by column_name) into _columns
    from information_schema.columns where table_schema = 'ledger' and table_name = 'accounts';
  assert _columns @> array['id', 'currency', 'code', 'debits_must_not_exceed_credits',
    'credits_must_not_exceed_debits', 'debits_posted', 'credits_posted', 'debits_pending',
    'credits_pending', 'metadata', 'created_at', 'version'], 'accounts has its columns';

  select array_agg(column_name::text order by column_name) into _columns
    from information_schema.columns where table_schema = 'ledger' and table_name = 'entries';
  assert _columns @> array['transfer_id', 'account_id', 'direction', 'amount', 'currency',
    'debits_posted_after', 'credits_posted_after'], 'entries has its columns';

  -- Money columns are bigint.
  assert (select bool_and(data_type = 'bigint') from information_schema.columns
           where table_schema = 'ledger'
             and column_name in ('amount', 'debits_posted', 'credits_posted', 'debits_pending',
                                 'credits_pending', 'debits_posted_after', 'credits_posted_after')),
    'every amount and total is bigint';

  -- The application role may append to entries and never rewrite them.
  assert exists (select 1 from pg_roles where rolname = 'ledgerx_app'), 'the application role exists';
  -- 0011 moved journal writes into the engine (which runs with its owner's rights): the app reads.
  assert has_table_privilege('ledgerx_app', 'ledger.entries', 'select'), 'the app may read entries';
  assert not has_table_privilege('ledgerx_app', 'ledger.entries', 'update'), 'the app may not update entries';
  assert not has_table_privilege('ledgerx_app', 'ledger.entries', 'delete'), 'the app may not delete entries';
  assert not has_table_privilege('ledgerx_app', 'ledger.entries', 'truncate'), 'the app may not truncate entries';
  assert not has_table_privilege('ledgerx_app', 'ledger.accounts', 'delete'), 'the app may not delete accounts';
  assert not has_table_privilege('ledgerx_app', 'ledger.transfers', 'update'), 'the app may not update transfers';
  assert not has_table_privilege('ledgerx_app', 'ledger.transfers', 'delete'), 'the app may not delete transfers';

  -- Currency codes and metadata are checked by their domains when stored.
  begin
    insert into ledger.accounts (id, currency) values (gen_random_uuid(), 'usd');
    assert false, 'a lower-case currency code is refused';
  exception when check_violation then null;
  end;
  begin
    insert into ledger.accounts (id, currency, metadata) values (gen_random_uuid(), 'USD', '[1]');
    assert false, 'metadata that is not an object is refused';
  exception when check_violation then null;
  end;
  begin
    insert into ledger.accounts (id, currency, metadata)
      values (gen_random_uuid(), 'USD', jsonb_build_object('k', repeat('x', 8192)));
    assert false, 'metadata over 8192 bytes is refused';
  exception when check_violation then null;
  end;
end $$;
