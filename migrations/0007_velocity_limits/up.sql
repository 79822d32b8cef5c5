-- Per-account velocity limits: an account may carry its own window, transfer count and amount
-- limit; a null field takes the deployment's default (LEDGER_VELOCITY_*). The bounds are domains,
-- not table CHECKs, because Postgres re-runs every table CHECK on every update of a row and the
-- posting function updates accounts on every batch; a domain is checked only when a value is
-- assigned to it. The bounds repeat shared/domain/velocity.ts.
create domain ledger.velocity_window_s as integer check (value between 1 and 86400);
create domain ledger.velocity_transfer_count as integer check (value between 1 and 1000);
create domain ledger.velocity_amount as bigint check (value >= 1);

-- Adding nullable columns, and one with a constant default, rewrites no row.
alter table ledger.accounts
  add column velocity_window_s ledger.velocity_window_s,
  add column velocity_max_transfers ledger.velocity_transfer_count,
  add column velocity_max_amount ledger.velocity_amount,
  -- Grows by one with every change of the limits, so a copy of them elsewhere (the velocity
  -- table in DynamoDB) can refuse to be overwritten by an older one.
  add column velocity_version bigint not null default 0;

grant update (velocity_window_s, velocity_max_transfers, velocity_max_amount, velocity_version)
  on ledger.accounts to ledgerx_app;
