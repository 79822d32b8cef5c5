-- Asserts what 0007_velocity_limits created: nullable limits with their bounds, a version, and
-- the application's right to change them.
do $$
declare
  _id uuid := '00000000-0000-4000-8000-0000000007a1';
  _window int;
  _version bigint;
begin
  assert has_column_privilege('ledgerx_app', 'ledger.accounts', 'velocity_window_s', 'update'),
    'the app may change an account''s window';
  assert has_column_privilege('ledgerx_app', 'ledger.accounts', 'velocity_version', 'update'),
    'the app may count changes of the limits';

  begin
    insert into ledger.accounts (id, currency) values (_id, 'USD');
    select velocity_window_s, velocity_version into _window, _version from ledger.accounts where id = _id;
    assert _window is null, 'an account without limits of its own takes the defaults';
    assert _version = 0, 'the limits version starts at 0';
    update ledger.accounts
       set velocity_window_s = 30, velocity_max_transfers = 5, velocity_max_amount = 100000
     where id = _id;
    begin
      update ledger.accounts set velocity_window_s = 0 where id = _id;
      assert false, 'a window of 0 s is refused';
    exception when check_violation then null;
    end;
    begin
      update ledger.accounts set velocity_max_transfers = 1001 where id = _id;
      assert false, 'more than 1000 transfers per window is refused';
    exception when check_violation then null;
    end;
    begin
      update ledger.accounts set velocity_max_amount = 0 where id = _id;
      assert false, 'an amount limit of 0 is refused';
    exception when check_violation then null;
    end;
    raise exception 'undo the planted account' using errcode = 'LXT01';
  exception when sqlstate 'LXT01' then null;
  end;
end $$;
