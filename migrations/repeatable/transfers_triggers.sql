-- A transfer is recorded once, with its outcome, and never rewritten: ledger.transfers is guarded
-- like ledger.entries (entries_triggers.sql), so even the tables' owner must drop or disable a
-- trigger, on purpose, to change one. The application role has no UPDATE, DELETE or TRUNCATE
-- grant on the table either (migrations/0011_least_privilege); the triggers hold for every role.

create or replace function ledger.transfers_are_immutable() returns trigger
language plpgsql as $$
begin
  raise exception 'ledger.transfers records each transfer once: % is not allowed', tg_op
    using errcode = 'insufficient_privilege';
end $$;
-- A trigger function is only ever called by its triggers: nobody needs to execute it.
revoke execute on function ledger.transfers_are_immutable() from public;

create or replace trigger transfers_no_update before update on ledger.transfers
  for each row execute function ledger.transfers_are_immutable();
create or replace trigger transfers_no_delete before delete on ledger.transfers
  for each row execute function ledger.transfers_are_immutable();
create or replace trigger transfers_no_truncate before truncate on ledger.transfers
  for each statement execute function ledger.transfers_are_immutable();
