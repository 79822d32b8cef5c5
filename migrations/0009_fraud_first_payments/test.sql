-- Asserts what 0009_fraud_first_payments created: the table, its grants (first payments only move,
-- never vanish), and a key that keeps one first payment per account and counterparty.
do $$
declare
  _account uuid := '00000000-0000-4000-8000-0000000009a1';
  _shop uuid := '00000000-0000-4000-8000-0000000009b1';
  _first timestamptz;
begin
  assert to_regclass('fraud.pattern_counterparties') is not null, 'fraud.pattern_counterparties exists';
  assert has_table_privilege('ledgerx_app', 'fraud.pattern_counterparties', 'select'),
    'the app may read first payments';
  assert has_table_privilege('ledgerx_app', 'fraud.pattern_counterparties', 'insert'),
    'the app may record first payments';
  assert has_column_privilege('ledgerx_app', 'fraud.pattern_counterparties', 'first_posted_at', 'update'),
    'the app may move a first payment back';
  assert not has_column_privilege('ledgerx_app', 'fraud.pattern_counterparties', 'counterparty_id', 'update'),
    'the app may not move a first payment to another counterparty';
  assert not has_table_privilege('ledgerx_app', 'fraud.pattern_counterparties', 'delete'),
    'first payments are kept';

  begin
    -- The listener's upsert keeps the earliest time whichever order the transfers arrive in.
    insert into fraud.pattern_counterparties as c (account_id, counterparty_id, first_posted_at)
    values (_account, _shop, '2026-03-02T10:00:00Z')
    on conflict (account_id, counterparty_id)
    do update set first_posted_at = least(c.first_posted_at, excluded.first_posted_at);
    insert into fraud.pattern_counterparties as c (account_id, counterparty_id, first_posted_at)
    values (_account, _shop, '2026-03-01T09:00:00Z')
    on conflict (account_id, counterparty_id)
    do update set first_posted_at = least(c.first_posted_at, excluded.first_posted_at);
    insert into fraud.pattern_counterparties as c (account_id, counterparty_id, first_posted_at)
    values (_account, _shop, '2026-03-03T11:00:00Z')
    on conflict (account_id, counterparty_id)
    do update set first_posted_at = least(c.first_posted_at, excluded.first_posted_at);
    select first_posted_at into _first from fraud.pattern_counterparties
     where account_id = _account and counterparty_id = _shop;
    assert _first = '2026-03-01T09:00:00Z', 'the earliest payment is kept';
    assert (select count(*) from fraud.pattern_counterparties where account_id = _account) = 1,
      'one row per account and counterparty';

    begin
      insert into fraud.pattern_counterparties (account_id, counterparty_id, first_posted_at)
      values (_account, gen_random_uuid(), null);
      assert false, 'a first payment without a time is refused';
    exception when not_null_violation then null;
    end;
    raise exception 'undo the planted first payment' using errcode = 'LXT01';
  exception when sqlstate 'LXT01' then null;
  end;
end $$;
