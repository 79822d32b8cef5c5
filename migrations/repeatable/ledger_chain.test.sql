-- Asserts what repeatable/ledger_chain.sql defines: the sealer and the hash run as their owner
-- with a fixed search_path, only the application (not PUBLIC) may call them, a link's hash is
-- sha256(previous || content) in the documented form, a sealer call on an empty ledger seals
-- nothing, and the links refuse to be changed.
do $$
declare
  _entry ledger.entries;
  _result record;
begin
  assert (select prosecdef and proconfig @> array['search_path=pg_catalog, pg_temp']
            from pg_proc where oid = 'ledger.seal_entries(int)'::regprocedure),
    'the sealer is security definer with a fixed search_path';
  assert (select prosecdef from pg_proc where oid = 'ledger.chain_link_hash(bytea, ledger.entries)'::regprocedure),
    'the link hash is security definer';
  assert has_function_privilege('ledgerx_app', 'ledger.seal_entries(int)', 'execute'), 'the app may seal';
  assert not exists (
    select 1 from pg_proc p, aclexplode(p.proacl) a
     where p.oid = 'ledger.seal_entries(int)'::regprocedure and a.grantee = 0),
    'PUBLIC may not seal';

  _entry := row(7, '00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-0000000000a1',
                'debit', 250, 'USD', 250, 0, '2026-01-31T12:00:00.123Z')::ledger.entries;
  assert ledger.chain_link_hash(decode(repeat('00', 32), 'hex'), _entry) = sha256(
    decode(repeat('00', 32), 'hex') || convert_to(
      '7|00000000-0000-4000-8000-000000000001|00000000-0000-4000-8000-0000000000a1|debit|250|USD|250|0|1769860800123000',
      'UTF8')),
    'a link hashes the previous hash and the entry''s fields joined by |, the time in microseconds';

  select * into _result from ledger.seal_entries(10);
  assert _result.sealed_count = 0, 'an empty ledger has nothing to seal';

  begin
    insert into ledger.chain_links (entry_id, hash) values (1, sha256('x'::bytea));
    update ledger.chain_links set hash = sha256('y'::bytea) where entry_id = 1;
    assert false, 'a link cannot be changed';
  exception when insufficient_privilege then null;
  end;
end $$;
