import type pg from 'pg';
import type { ChainEntry, ChainLink } from '../../domain/ledger-chain';
import type { ChainHead, ChainRun, LedgerChainStore, SealResult } from '../../ports/ledger-chain';
import { classifyDatabaseError } from './errors';
import { int8, timestampOrNull } from './rows';

interface SealRow {
  readonly sealed_count: number;
  readonly sealed_through_entry_id: string | null;
  readonly head_hash: string | null;
  readonly waiting: boolean;
}

interface HeadRow {
  readonly sealed_through_entry_id: string;
  readonly sealed_count: string;
  readonly head_hash: Buffer;
  readonly sealed_at: Date | null;
}

interface LinkRow {
  readonly entry_id: string;
  readonly hash: Buffer;
}

interface ChainEntryRow {
  readonly id: string;
  readonly transfer_id: string;
  readonly account_id: string;
  readonly direction: string;
  readonly amount: string;
  readonly currency: string;
  readonly debits_posted_after: string;
  readonly credits_posted_after: string;
  readonly created_at_us: string;
}

/** The journal's chain in Postgres: `ledger.seal_entries` to extend it, plain reads to check it. */
export class PostgresLedgerChainStore implements LedgerChainStore {
  public constructor(private readonly pool: pg.Pool) {}

  /** One sealer call, in a transaction of its own (one statement), as the function asks. */
  public async seal(entryCountMax: number): Promise<SealResult> {
    try {
      const { rows } = await this.pool.query<SealRow>(
        'select sealed_count, sealed_through_entry_id::text, head_hash, waiting from ledger.seal_entries($1)',
        [entryCountMax],
      );
      const row = rows[0];
      if (row === undefined) throw new Error('assertion failed: seal_entries answers one row');
      return {
        sealedCount: row.sealed_count,
        sealedThroughEntryId:
          row.sealed_through_entry_id === null
            ? undefined
            : int8(row.sealed_through_entry_id, 'sealed_through_entry_id'),
        headHash: row.head_hash ?? undefined,
        waiting: row.waiting,
      };
    } catch (error) {
      throw classifyDatabaseError(error, { operation: 'sealEntries' });
    }
  }

  /**
   * Reads the head, the previous link, the links and the entries of a run in one REPEATABLE READ
   * snapshot, so a sealer at work meanwhile cannot make the run disagree with its head. The links
   * come from their primary key, the entries from the range index on their ids.
   */
  public async readRun(afterEntryId: bigint, linkCountMax: number): Promise<ChainRun> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw classifyDatabaseError(error, { operation: 'readChainRun' });
    }
    let broken = false;
    try {
      await client.query('begin isolation level repeatable read read only');
      const headRows = await client.query<HeadRow>(
        `select sealed_through_entry_id::text, sealed_count::text, head_hash, sealed_at
           from ledger.chain_state`,
      );
      const headRow = headRows.rows[0];
      if (headRow === undefined) throw new Error('assertion failed: the chain has its head row');
      const head: ChainHead = {
        sealedThroughEntryId: int8(headRow.sealed_through_entry_id, 'sealed_through_entry_id'),
        sealedCount: int8(headRow.sealed_count, 'sealed_count'),
        headHash: headRow.head_hash,
        sealedAt: timestampOrNull(headRow.sealed_at, 'sealed_at'),
      };
      const after = afterEntryId.toString();
      const previousRows =
        afterEntryId === 0n
          ? []
          : (
              await client.query<LinkRow>(
                'select entry_id::text, hash from ledger.chain_links where entry_id = $1',
                [after],
              )
            ).rows;
      const linkRows = await client.query<LinkRow>(
        `select l.entry_id::text as entry_id, l.hash from ledger.chain_links l
          where l.entry_id > $1 and l.entry_id <= $2
          order by l.entry_id
          limit $3`,
        [after, head.sealedThroughEntryId.toString(), linkCountMax],
      );
      const links: ChainLink[] = linkRows.rows.map((row) => ({
        entryId: int8(row.entry_id, 'entry_id'),
        hash: row.hash,
      }));
      const lastLink = links.at(-1);
      const full = links.length === linkCountMax && lastLink !== undefined;
      const throughEntryId = full ? lastLink.entryId : head.sealedThroughEntryId;
      const entryRows = await client.query<ChainEntryRow>(
        `select e.id::text, e.transfer_id::text, e.account_id::text, e.direction, e.amount::text,
                e.currency::text, e.debits_posted_after::text, e.credits_posted_after::text,
                ((extract(epoch from e.created_at) * 1000000)::bigint)::text as created_at_us
           from ledger.entries e
          where e.id > $1 and e.id <= $2
          order by e.id`,
        [after, throughEntryId.toString()],
      );
      await client.query('commit');
      return {
        head,
        previousHash: previousRows[0]?.hash,
        links,
        entries: entryRows.rows.map(toChainEntry),
        throughEntryId,
        reachesHead: throughEntryId >= head.sealedThroughEntryId,
      };
    } catch (error) {
      await client.query('rollback').catch(() => {
        broken = true;
      });
      throw classifyDatabaseError(error, { operation: 'readChainRun' });
    } finally {
      client.release(broken);
    }
  }
}

function toChainEntry(row: ChainEntryRow): ChainEntry {
  return {
    id: int8(row.id, 'id'),
    transferId: row.transfer_id,
    accountId: row.account_id,
    direction: row.direction,
    amount: int8(row.amount, 'amount'),
    currency: row.currency,
    debitsPostedAfter: int8(row.debits_posted_after, 'debits_posted_after'),
    creditsPostedAfter: int8(row.credits_posted_after, 'credits_posted_after'),
    createdAtUs: int8(row.created_at_us, 'created_at_us'),
  };
}
