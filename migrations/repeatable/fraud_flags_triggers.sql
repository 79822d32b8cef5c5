-- A fraud flag is never taken back: flag_id and flagged_at are set once (migrations/0008_fraud).
-- The column grants let the scorer and the pattern listener set them, so a trigger keeps them
-- from being changed again, for every role. Its condition is checked before the function is
-- called, so updates that leave a flag alone (every scoring) pay no function call.

create or replace function fraud.flags_are_kept() returns trigger
language plpgsql as $$
begin
  raise exception 'fraud flag of transfer % is set once and kept', old.transfer_id
    using errcode = 'insufficient_privilege';
end $$;
-- A trigger function is only ever called by its trigger: nobody needs to execute it.
revoke execute on function fraud.flags_are_kept() from public;

create or replace trigger verdicts_keep_flags before update on fraud.verdicts
  for each row
  when (old.flagged_at is not null
        and (new.flagged_at is distinct from old.flagged_at or new.flag_id is distinct from old.flag_id))
  execute function fraud.flags_are_kept();
