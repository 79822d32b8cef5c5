-- Atomic sets (issue 14): up to 100 transfers (legs) that post together in one transaction or
-- are all rejected, the first failing leg with its own reason and every other leg with
-- `linked_transfer_failed`. ledger.post_transfer_set (repeatable/post_transfer_set.sql) posts them.

-- The new rejection reason joins whatever reasons the transfers' check allows when this runs
-- (earlier migrations may have added some), so this migration does not restate the list.
do $$
declare
  _name text;
  _definition text;
begin
  select c.conname, pg_get_constraintdef(c.oid) into _name, _definition
    from pg_constraint c
   where c.conrelid = 'ledger.transfers'::regclass and c.contype = 'c'
     and pg_get_constraintdef(c.oid) like '%reason%exceeds_credits%';
  if _name is null then
    raise exception 'the check on ledger.transfers.reason was not found';
  end if;
  if _definition not like '%linked_transfer_failed%' then
    _definition := regexp_replace(_definition, '''::text\]\)\)\)$',
                                  '''::text, ''linked_transfer_failed''::text])))');
    if _definition not like '%''linked_transfer_failed''::text])))' then
      raise exception 'the check on ledger.transfers.reason has an unexpected form: %', _definition;
    end if;
    execute format('alter table ledger.transfers drop constraint %I', _name);
    execute format('alter table ledger.transfers add constraint %I %s', _name, _definition);
  end if;
end $$;

-- Which set each leg belongs to, and its place in it: the set is named by its first leg's id.
-- Written only by ledger.post_transfer_set (security definer), in the transaction that records
-- the legs, so the app role reads it and never writes it.
create table ledger.atomic_set_legs (
  transfer_id uuid primary key,
  set_id uuid not null,
  position smallint not null check (position between 0 and 99),
  unique (set_id, position)
);

grant select on ledger.atomic_set_legs to ledgerx_app;
