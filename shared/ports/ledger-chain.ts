/**
 * The journal's chain as the sealer and the verifier see it (`ledger.chain_links`,
 * `ledger.chain_state`), with the values they exchange.
 */
import type { ChainEntry, ChainLink } from '../domain/ledger-chain';

/** What one sealer call did. */
export interface SealResult {
  /** Entries sealed by this call. */
  readonly sealedCount: number;
  /** Every entry up to this id is sealed; undefined when another sealer held the head. */
  readonly sealedThroughEntryId: bigint | undefined;
  /** The chain's head hash after the call, in hex; undefined when another sealer held the head. */
  readonly headHash: string | undefined;
  /** Whether entries wait for transactions older than the sealer's horizon to end. */
  readonly waiting: boolean;
}

/** The chain's head row. */
export interface ChainHead {
  readonly sealedThroughEntryId: bigint;
  readonly sealedCount: bigint;
  readonly headHash: Uint8Array;
  /** When the sealer last sealed an entry; null before it ever did. */
  readonly sealedAt: string | null;
}

/**
 * A run of the chain read in one snapshot: the head, the hash of the link at `afterEntryId`
 * (undefined when there is no such link; the genesis hash is the caller's when it is 0), up to
 * `linkCountMax` links after it within the sealed range, and every entry whose id is after
 * `afterEntryId` and at most `throughEntryId` (the last link's id, or the head's when the run
 * reaches it).
 */
export interface ChainRun {
  readonly head: ChainHead;
  readonly previousHash: Uint8Array | undefined;
  readonly links: readonly ChainLink[];
  readonly entries: readonly ChainEntry[];
  readonly throughEntryId: bigint;
  /** Whether the run reaches the head (no sealed entry after `throughEntryId`). */
  readonly reachesHead: boolean;
}

/**
 * The chain's store.
 *
 * - `seal` runs one sealer call of at most `entryCountMax` entries (see `ledger.seal_entries`).
 * - `readRun` reads a run of the chain after `afterEntryId` (0: from the start), in one snapshot.
 *
 * Each throws `TransientError` when the database is unavailable and `PermanentError` when it
 * refused the work.
 */
export interface LedgerChainStore {
  seal(entryCountMax: number): Promise<SealResult>;
  readRun(afterEntryId: bigint, linkCountMax: number): Promise<ChainRun>;
}
