-- Asserts what repeatable/post_transfer_set.sql defines: one form of the set-posting function,
-- security definer with a fixed search_path, executable by the app and not by everyone; a set
-- whose every leg fits posts whole, and one with a failing leg is recorded rejected whole, the
-- failing leg with its reason and the others linked_transfer_failed. The engine's behaviour under
-- concurrency is tested by test/integration/atomic-sets.test.ts.
do $$
declare
  _posting regprocedure := to_regproc('ledger.post_transfer_set')::oid::regprocedure;
  _payer uuid := gen_random_uuid();
  _seller uuid := gen_random_uuid();
  _platform uuid := gen_random_uuid();
  _results text[];
begin
  assert _posting = 'ledger.post_transfer_set(jsonb, boolean, timestamptz)'::regprocedure,
    'the set-posting function takes the legs, the new-ids bet and the receive time';
  assert (select prosecdef from pg_proc where oid = _posting), 'it runs as its owner';
  assert (select proconfig from pg_proc where oid = _posting) = array['search_path=pg_catalog, pg_temp'],
    'its search_path is fixed';
  assert has_function_privilege('ledgerx_app', _posting, 'execute'), 'the app may post sets';
  assert not has_function_privilege('public', _posting, 'execute'), 'nobody else may';

  begin
    insert into ledger.accounts (id, currency, debits_must_not_exceed_credits)
    values (_payer, 'USD', true), (_seller, 'USD', false), (_platform, 'USD', false);
    -- The payer holds nothing: the first leg alone would overdraw it.
    select array_agg(s.result order by s.n) into _results
      from ledger.post_transfer_set(jsonb_build_array(
        jsonb_build_object('id', gen_random_uuid(), 'debit_account_id', _seller, 'credit_account_id', _payer,
                           'amount', '90', 'currency', 'USD', 'accepted_at', now()),
        jsonb_build_object('id', gen_random_uuid(), 'debit_account_id', _payer, 'credit_account_id', _seller,
                           'amount', '100', 'currency', 'USD', 'accepted_at', now()),
        jsonb_build_object('id', gen_random_uuid(), 'debit_account_id', _payer, 'credit_account_id', _platform,
                           'amount', '5', 'currency', 'USD', 'accepted_at', now())
      ), true) with ordinality as s(transfer_id, result, n);
    assert _results = array['linked_transfer_failed', 'exceeds_credits', 'linked_transfer_failed'],
      'the failing leg keeps its reason and the others are linked_transfer_failed';
    assert (select debits_posted + credits_posted from ledger.accounts where id = _seller) = 0,
      'a rejected set moves nothing';
    assert (select count(*) from ledger.entries e join ledger.transfers t on t.id = e.transfer_id
             where t.debit_account_id in (_payer, _seller)) = 0, 'a rejected set has no entries';

    select array_agg(s.result order by s.n) into _results
      from ledger.post_transfer_set(jsonb_build_array(
        jsonb_build_object('id', gen_random_uuid(), 'debit_account_id', _seller, 'credit_account_id', _payer,
                           'amount', '105', 'currency', 'USD', 'accepted_at', now()),
        jsonb_build_object('id', gen_random_uuid(), 'debit_account_id', _payer, 'credit_account_id', _seller,
                           'amount', '100', 'currency', 'USD', 'accepted_at', now()),
        jsonb_build_object('id', gen_random_uuid(), 'debit_account_id', _payer, 'credit_account_id', _platform,
                           'amount', '5', 'currency', 'USD', 'accepted_at', now())
      ), true) with ordinality as s(transfer_id, result, n);
    assert _results = array['posted', 'posted', 'posted'], 'a set whose legs all fit posts whole';
    assert (select credits_posted - debits_posted from ledger.accounts where id = _payer) = 0,
      'each leg sees the legs before it';
    raise exception 'undo the planted sets' using errcode = 'LXT01';
  exception when sqlstate 'LXT01' then null;
  end;
end $$;
