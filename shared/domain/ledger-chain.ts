/**
 * The journal's SHA-256 chain, recomputed from the rows alone: the form of a link's hash (the
 * same as `ledger.chain_link_hash` in migrations/repeatable/ledger_chain.sql) and the check of a
 * run of links against the entries they seal. Verification lives here, outside the database, so
 * that a changed database function cannot vouch for a changed journal.
 */
import { createHash } from 'node:crypto';

/** The hash before the first link: 32 zero bytes. */
export const genesisHash: Uint8Array = new Uint8Array(32);

/** An entry as the chain covers it: every column of `ledger.entries`. */
export interface ChainEntry {
  readonly id: bigint;
  readonly transferId: string;
  readonly accountId: string;
  readonly direction: string;
  readonly amount: bigint;
  readonly currency: string;
  readonly debitsPostedAfter: bigint;
  readonly creditsPostedAfter: bigint;
  /** The entry's time in microseconds since 1970 (UTC), as Postgres stores it. */
  readonly createdAtUs: bigint;
}

/** A link of the chain: the entry it seals and its hash. */
export interface ChainLink {
  readonly entryId: bigint;
  readonly hash: Uint8Array;
}

/** Why a link is broken, named for what was found. */
export type BrokenLinkReason =
  /** The recomputed hash differs from the stored one: the entry, or its link, was changed. */
  | 'entry_changed'
  /** A link seals an entry that is not in the journal: the entry was removed. */
  | 'entry_missing'
  /** An entry the chain should cover has no link: it was added behind the engine's back. */
  | 'entry_not_sealed'
  /** Every link holds, but the chain's head row names another hash: the head was changed. */
  | 'head_changed';

export interface BrokenLink {
  readonly entryId: bigint;
  readonly reason: BrokenLinkReason;
}

/** What checking a run of links found: the first broken link, or none, and how far it got. */
export interface ChainRunCheck {
  readonly checkedCount: number;
  readonly lastEntryId: bigint | undefined;
  /** The hash of the last link checked (the run's previous hash when none was). */
  readonly lastHash: Uint8Array;
  readonly broken: BrokenLink | undefined;
}

/** The content a link's hash covers: the entry's fields, as text, joined by '|'. */
export function chainContent(entry: ChainEntry): string {
  return [
    entry.id,
    entry.transferId,
    entry.accountId,
    entry.direction,
    entry.amount,
    entry.currency,
    entry.debitsPostedAfter,
    entry.creditsPostedAfter,
    entry.createdAtUs,
  ].join('|');
}

/** sha256(previous hash || the entry's content in UTF-8). */
export function linkHash(previousHash: Uint8Array, entry: ChainEntry): Uint8Array {
  return createHash('sha256').update(previousHash).update(chainContent(entry), 'utf8').digest();
}

export function toHex(hash: Uint8Array): string {
  return Buffer.from(hash).toString('hex');
}

function sameHash(left: Uint8Array, right: Uint8Array): boolean {
  return Buffer.from(left).equals(Buffer.from(right));
}

/**
 * Checks a run of links, in entry-id order, against the entries with ids in the same range (also
 * in id order), starting from `previousHash`. Every entry in the range must have a link and every
 * link its entry; each link's hash must be the one recomputed from the previous link and the
 * entry. Stops at the first broken link.
 */
export function checkChainRun(
  previousHash: Uint8Array,
  links: readonly ChainLink[],
  entries: readonly ChainEntry[],
): ChainRunCheck {
  let hash = previousHash;
  let checkedCount = 0;
  let lastEntryId: bigint | undefined;
  let linkIndex = 0;
  let entryIndex = 0;
  while (linkIndex < links.length || entryIndex < entries.length) {
    const link = links[linkIndex];
    const entry = entries[entryIndex];
    if (entry !== undefined && (link === undefined || entry.id < link.entryId)) {
      return {
        checkedCount,
        lastEntryId,
        lastHash: hash,
        broken: { entryId: entry.id, reason: 'entry_not_sealed' },
      };
    }
    if (link === undefined) throw new Error('assertion failed: a link remains when no entry does');
    if (entry === undefined || link.entryId < entry.id) {
      return {
        checkedCount,
        lastEntryId,
        lastHash: hash,
        broken: { entryId: link.entryId, reason: 'entry_missing' },
      };
    }
    const recomputed = linkHash(hash, entry);
    if (!sameHash(recomputed, link.hash)) {
      return {
        checkedCount,
        lastEntryId,
        lastHash: hash,
        broken: { entryId: entry.id, reason: 'entry_changed' },
      };
    }
    hash = recomputed;
    checkedCount += 1;
    lastEntryId = entry.id;
    linkIndex += 1;
    entryIndex += 1;
  }
  return { checkedCount, lastEntryId, lastHash: hash, broken: undefined };
}

/** Whether two hashes are the same bytes. */
export function hashesEqual(left: Uint8Array, right: Uint8Array): boolean {
  return sameHash(left, right);
}
