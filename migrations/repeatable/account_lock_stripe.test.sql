-- Asserts what repeatable/account_lock_stripe.sql defines.
do $$
begin
  assert ledger.account_lock_stripe('0f1e2d3c-4b5a-4987-8765-43210fedcba9') = 'ledger_lock.stripe_ba9',
    'an account''s stripe is the last three hex digits of its id';
  assert to_regclass(ledger.account_lock_stripe('0f1e2d3c-4b5a-4987-8765-43210fedc000')) is not null,
    'the stripe it names exists';
  assert has_function_privilege('ledgerx_app', 'ledger.account_lock_stripe(uuid)', 'execute'),
    'the app may compute stripes';
end $$;
