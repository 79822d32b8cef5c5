-- Functions, triggers and views moved out of the numbered migrations into migrations/repeatable/,
-- one file each, applied after the numbered migrations and again whenever they change
-- (docs/database.md). A database migrated before the move still holds two functions that no
-- file defines any more; they are dropped here. A new database never had them.
--
-- ledger.post_transfers(jsonb, boolean): the posting function's first form, which 0006 replaced
-- by the form with the batch's receive time. A database that stopped before 0006 still has it,
-- and beside the form in repeatable/post_transfers.sql a call with two arguments would be
-- ambiguous.
drop function if exists ledger.post_transfers(jsonb, boolean);

-- ledger.check_invariants_before_fraud(): the checks as 0003 made them, which 0008 renamed and
-- called from its own ledger.check_invariants. repeatable/check_invariants.sql holds all the
-- checks in one function, which replaces that one right after this migration.
drop function if exists ledger.check_invariants_before_fraud();
