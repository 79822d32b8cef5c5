/**
 * The journal's chain: the sealer that extends it after the fact, and the verifier that
 * recomputes it from the rows and names the first broken link. Both work in bounded steps; the
 * bounds are here so every caller (the scheduled sealer, the admin route, `npm run verify-ledger`)
 * applies the same ones.
 */
import { type BrokenLink, checkChainRun, genesisHash, hashesEqual, toHex } from '../domain/ledger-chain';
import type { LedgerChainStore } from '../ports/ledger-chain';
import type { Logger } from '../ports/logger';

/** The most entries one sealer call seals (the SQL function's own limit is 100,000). */
export const sealEntryCountMax = 10_000;
/** The most entries one verification step checks, and how many when the caller does not say. */
export const verifyEntryCountMax = 100_000;
export const verifyEntryCountDefault = 10_000;

/** What one sealer run did. */
export interface SealRunOutcome {
  readonly callCount: number;
  readonly sealedCount: number;
  readonly sealedThroughEntryId: bigint | undefined;
  readonly headHash: string | undefined;
  /** Whether entries were left for a later run (the call bound was reached). */
  readonly backlog: boolean;
}

/** What one verification step found. */
export interface ChainVerification {
  readonly status: 'ok' | 'broken';
  /** Links checked by this step. */
  readonly checkedCount: number;
  /** The entry the step started after (0: the start of the chain). */
  readonly afterEntryId: bigint;
  /** The last entry whose link held; undefined when none did. */
  readonly lastEntryId: bigint | undefined;
  /** The hash of the last link that held, in hex (the step's starting hash when none did). */
  readonly lastHash: string;
  /** The chain's head as its row records it: the last sealed entry, the count and the hash. */
  readonly sealedThroughEntryId: bigint;
  readonly sealedCount: bigint;
  readonly headHash: string;
  readonly sealedAt: string | null;
  /** Where the next step starts, when the chain goes on and nothing was broken. */
  readonly nextAfterEntryId: bigint | undefined;
  readonly broken: BrokenLink | undefined;
}

/** The whole chain checked, step by step: ok with the count and the head, or the first break. */
export interface ChainVerificationSummary {
  readonly status: 'ok' | 'broken' | 'incomplete';
  readonly checkedCount: number;
  readonly stepCount: number;
  readonly sealedThroughEntryId: bigint;
  readonly headHash: string;
  readonly broken: BrokenLink | undefined;
  /** Where to go on from when the step bound was reached before the head. */
  readonly nextAfterEntryId: bigint | undefined;
}

/** `afterEntryId` names no link of the chain, so no step can start there. */
export class UnknownChainPositionError extends RangeError {
  public constructor(public readonly afterEntryId: bigint) {
    super(`entry ${afterEntryId} is not a sealed entry of the chain`);
    this.name = 'UnknownChainPositionError';
  }
}

const wait = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class LedgerChainService {
  public constructor(
    private readonly store: LedgerChainStore,
    private readonly logger: Logger,
  ) {}

  /**
   * One sealer run: sealer calls of `entryCountMax` entries until one finds nothing more to seal,
   * at most `callCountMax` calls. A call that only set the next horizon (transactions older than
   * it still running) is followed, after `horizonWaitMs`, by another, so a run seals what was
   * posted before it started. The head is logged after each run that sealed something: the
   * log is a copy of the chain's head outside the database.
   */
  public async sealRun(options: {
    readonly entryCountMax: number;
    readonly callCountMax: number;
    readonly horizonWaitMs: number;
  }): Promise<SealRunOutcome> {
    const { entryCountMax, callCountMax, horizonWaitMs } = options;
    if (!Number.isInteger(entryCountMax) || entryCountMax < 1 || entryCountMax > sealEntryCountMax) {
      throw new RangeError(
        `entryCountMax must be an integer in [1, ${sealEntryCountMax}], got ${entryCountMax}`,
      );
    }
    let callCount = 0;
    let sealedCount = 0;
    let idleCallCount = 0;
    let last: { sealedThroughEntryId: bigint | undefined; headHash: string | undefined } = {
      sealedThroughEntryId: undefined,
      headHash: undefined,
    };
    while (callCount < callCountMax) {
      const result = await this.store.seal(entryCountMax);
      callCount += 1;
      sealedCount += result.sealedCount;
      if (result.sealedThroughEntryId !== undefined) last = result;
      if (result.sealedCount === entryCountMax) {
        idleCallCount = 0;
        continue;
      }
      // A call that sealed less than a full step has reached its horizon; one more call seals up
      // to the horizon it set, if any, and then the run has caught up with its start.
      idleCallCount = result.sealedCount === 0 ? idleCallCount + 1 : 0;
      if (!result.waiting || idleCallCount >= 2) break;
      await wait(horizonWaitMs);
    }
    const backlog = callCount >= callCountMax;
    if (sealedCount > 0) {
      this.logger.info('ledger chain sealed', {
        sealedCount,
        callCount,
        sealedThroughEntryId: last.sealedThroughEntryId?.toString(),
        headHash: last.headHash,
        backlog,
      });
    }
    return { callCount, sealedCount, ...last, backlog };
  }

  /**
   * One verification step: up to `entryCountMax` links after `afterEntryId` (0: the start),
   * recomputed from their entries, and when the step reaches the head, the head row's hash
   * compared with the last link's. Throws `UnknownChainPositionError` when `afterEntryId` is not a
   * sealed entry.
   */
  public async verifyStep(
    afterEntryId: bigint,
    entryCountMax: number = verifyEntryCountDefault,
  ): Promise<ChainVerification> {
    if (!Number.isInteger(entryCountMax) || entryCountMax < 1 || entryCountMax > verifyEntryCountMax) {
      throw new RangeError(
        `entryCountMax must be an integer in [1, ${verifyEntryCountMax}], got ${entryCountMax}`,
      );
    }
    const run = await this.store.readRun(afterEntryId, entryCountMax);
    const previousHash = afterEntryId === 0n ? genesisHash : run.previousHash;
    if (previousHash === undefined) throw new UnknownChainPositionError(afterEntryId);
    const check = checkChainRun(previousHash, run.links, run.entries);
    let broken = check.broken;
    if (broken === undefined && run.reachesHead && !hashesEqual(check.lastHash, run.head.headHash)) {
      broken = { entryId: run.head.sealedThroughEntryId, reason: 'head_changed' };
    }
    const status = broken === undefined ? 'ok' : 'broken';
    if (broken !== undefined) {
      this.logger.error('ledger chain broken', { entryId: broken.entryId.toString(), reason: broken.reason });
    }
    return {
      status,
      checkedCount: check.checkedCount,
      afterEntryId,
      lastEntryId: check.lastEntryId,
      lastHash: toHex(check.lastHash),
      sealedThroughEntryId: run.head.sealedThroughEntryId,
      sealedCount: run.head.sealedCount,
      headHash: toHex(run.head.headHash),
      sealedAt: run.head.sealedAt,
      nextAfterEntryId: broken === undefined && !run.reachesHead ? run.throughEntryId : undefined,
      broken,
    };
  }

  /**
   * Verifies the chain from `afterEntryId` (0: the start) step by step, at most `stepCountMax`
   * steps of `entryCountMax` links: ok with the count and the head hash, the first broken link, or
   * incomplete with where to go on when the step bound came first.
   */
  public async verifyChain(options: {
    readonly afterEntryId?: bigint;
    readonly entryCountMax: number;
    readonly stepCountMax: number;
  }): Promise<ChainVerificationSummary> {
    let after = options.afterEntryId ?? 0n;
    let checkedCount = 0;
    for (let stepCount = 1; stepCount <= options.stepCountMax; stepCount += 1) {
      const step = await this.verifyStep(after, options.entryCountMax);
      checkedCount += step.checkedCount;
      const common = {
        checkedCount,
        stepCount,
        sealedThroughEntryId: step.sealedThroughEntryId,
        headHash: step.headHash,
        broken: step.broken,
      };
      if (step.status === 'broken') return { ...common, status: 'broken', nextAfterEntryId: undefined };
      if (step.nextAfterEntryId === undefined)
        return { ...common, status: 'ok', nextAfterEntryId: undefined };
      after = step.nextAfterEntryId;
      if (stepCount === options.stepCountMax) {
        return { ...common, status: 'incomplete', nextAfterEntryId: after };
      }
    }
    throw new RangeError(`stepCountMax must be at least 1, got ${options.stepCountMax}`);
  }
}
