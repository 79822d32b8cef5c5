-- The journal defends itself: ledger.entries is append-only (no UPDATE, DELETE or TRUNCATE, even
-- for a role that was granted them) and every insert statement must leave each transfer it touches
-- balanced per currency, so all legs of a transfer are written together or the statement fails.
-- The application role has no UPDATE, DELETE or TRUNCATE grant on the table either
-- (migrations/0001_ledger); the triggers hold for every other role too.

create or replace function ledger.entries_are_append_only() returns trigger
language plpgsql as $$
begin
  raise exception 'ledger.entries is append-only: % is not allowed', tg_op
    using errcode = 'insufficient_privilege';
end $$;
-- A trigger function is only ever called by its triggers: nobody needs to execute it.
revoke execute on function ledger.entries_are_append_only() from public;

create or replace trigger entries_no_update before update on ledger.entries
  for each row execute function ledger.entries_are_append_only();
create or replace trigger entries_no_delete before delete on ledger.entries
  for each row execute function ledger.entries_are_append_only();
create or replace trigger entries_no_truncate before truncate on ledger.entries
  for each statement execute function ledger.entries_are_append_only();

-- The balance check runs once per insert statement, over the rows it inserted.
create or replace function ledger.entries_must_balance() returns trigger
language plpgsql as $$
declare
  _transfer_id uuid;
  _currency char(3);
begin
  select n.transfer_id, n.currency into _transfer_id, _currency
  from new_entries n
  group by n.transfer_id, n.currency
  having sum(case n.direction when 'debit' then n.amount::numeric else -n.amount::numeric end) <> 0
  limit 1;
  if found then
    raise exception 'entries of transfer % do not sum to zero in %', _transfer_id, _currency
      using errcode = 'check_violation';
  end if;
  return null;
end $$;
revoke execute on function ledger.entries_must_balance() from public;

create or replace trigger entries_balance after insert on ledger.entries
  referencing new table as new_entries
  for each statement execute function ledger.entries_must_balance();
