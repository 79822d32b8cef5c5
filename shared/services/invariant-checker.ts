/**
 * The invariant checker: runs the ledger's incremental check (`ledger.check_invariants_step`) a
 * step at a time until it has caught up or reached its limits, publishes each newly recorded
 * violation once as a `ledger.invariant_violated` event, and reports its counts as metrics. The
 * scheduled `invariant-checker` function runs it every minute; `GET /v1/admin/invariants` runs it
 * on demand. Work is bounded per run and resumes where the last run stopped.
 */
import type { EventPublisher } from '../ports/event-publisher';
import type {
  InvariantCheckStore,
  InvariantMetrics,
  InvariantStepLimits,
  RecordedViolation,
} from '../ports/invariants';
import type { Logger } from '../ports/logger';

/** How much one run may do. */
export interface InvariantCheckLimits {
  /** New entries one run checks, over all its steps. */
  readonly entryCountMax: number;
  /** What one step (one transaction) may do. */
  readonly step: InvariantStepLimits;
  /** Steps one run takes at most, whatever else is left. */
  readonly stepCountMax: number;
  /** No step starts after this much of the run has passed. */
  readonly timeBudgetMs: number;
  /** Violations one run publishes, at most. */
  readonly publishCountMax: number;
  /** Recorded violations one run reads back (to answer with), at most. */
  readonly violationCountMax: number;
}

/** Violations one publication call takes: ten PutEvents entries. */
export const publishBatchRowCountMax = 10;

export const invariantCheckDefaults: InvariantCheckLimits = {
  entryCountMax: 200_000,
  step: { entryCountMax: 10_000, accountCountMax: 1_000, scrubEntryCountMax: 10_000 },
  stepCountMax: 100,
  timeBudgetMs: 20_000,
  publishCountMax: 100,
  violationCountMax: 100,
};

/** What one run did and what is on record. */
export interface InvariantCheckRun {
  readonly stepCount: number;
  readonly entryCount: number;
  readonly accountCount: number;
  readonly scrubEntryCount: number;
  /** Every entry up to this id has been checked. */
  readonly entryIdChecked: bigint;
  /** Entries that were final but left for the next run (0: the run caught up). */
  readonly entryBacklogCount: bigint;
  /** Why the run stopped. */
  readonly stoppedBy: 'caught-up' | 'entry-count' | 'step-count' | 'time-budget';
  /** Violations the run found, recorded before or now. */
  readonly foundCount: number;
  /** Violations recorded for the first time by the run. */
  readonly newCount: number;
  readonly publishedCount: number;
  /** The violations on record (each found once, kept until an operator clears it after repair). */
  readonly recorded: {
    readonly violations: readonly RecordedViolation[];
    readonly count: number;
    readonly truncated: boolean;
  };
}

export class InvariantChecker {
  public constructor(
    private readonly store: InvariantCheckStore,
    private readonly publisher: EventPublisher,
    private readonly metrics: InvariantMetrics,
    private readonly logger: Logger,
    private readonly limits: InvariantCheckLimits = invariantCheckDefaults,
    private readonly now: () => number = Date.now,
  ) {
    if (limits.step.entryCountMax < 1 || limits.entryCountMax < 1 || limits.stepCountMax < 1) {
      throw new RangeError('the invariant checker needs room for at least one entry and one step');
    }
  }

  /** One run: steps until caught up or a limit is reached, then publishes and reports. */
  public async run(): Promise<InvariantCheckRun> {
    const startedMs = this.now();
    let stepCount = 0;
    let entryCount = 0;
    let accountCount = 0;
    let scrubEntryCount = 0;
    let foundCount = 0;
    let newCount = 0;
    let entryIdChecked = 0n;
    let entryIdSafe = 0n;
    let stoppedBy: InvariantCheckRun['stoppedBy'] = 'step-count';
    while (stepCount < this.limits.stepCountMax) {
      const entriesLeft = this.limits.entryCountMax - entryCount;
      const step = await this.store.step(
        { ...this.limits.step, entryCountMax: Math.min(this.limits.step.entryCountMax, entriesLeft) },
        new Date(this.now()),
      );
      stepCount += 1;
      entryCount += step.entryCount;
      accountCount += step.accountCount;
      scrubEntryCount += step.scrubEntryCount;
      foundCount += step.foundCount;
      newCount += step.recordedCount;
      entryIdChecked = step.entryIdChecked;
      entryIdSafe = step.entryIdSafe;
      if (step.entryIdChecked >= step.entryIdSafe) {
        stoppedBy = 'caught-up';
        break;
      }
      if (entryCount >= this.limits.entryCountMax) {
        stoppedBy = 'entry-count';
        break;
      }
      if (this.now() - startedMs >= this.limits.timeBudgetMs) {
        stoppedBy = 'time-budget';
        break;
      }
    }
    // The steps have committed; a bus that cannot be reached leaves the events for the next run
    // and still lets this one report its counts.
    let publishedCount = 0;
    try {
      publishedCount = await this.publish();
    } catch (error) {
      this.logger.warn('invariant violation events could not be published; the next run tries again', {
        error: String(error),
      });
    }
    const recorded = await this.store.recorded(this.limits.violationCountMax);
    const entryBacklogCount = entryIdSafe > entryIdChecked ? entryIdSafe - entryIdChecked : 0n;
    this.metrics.record({
      recordedViolationCount: recorded.count,
      violationCount: foundCount,
      newViolationCount: newCount,
      entryCount,
      accountCount,
      scrubEntryCount,
      // A metric is a number; a backlog past 2^53 entries is not a case to plan for.
      entryBacklogCount: Number(entryBacklogCount),
    });
    if (newCount > 0) {
      this.logger.error('ledger invariants violated', {
        newCount,
        foundCount,
        recordedCount: recorded.count,
      });
    }
    return {
      stepCount,
      entryCount,
      accountCount,
      scrubEntryCount,
      entryIdChecked,
      entryBacklogCount,
      stoppedBy,
      foundCount,
      newCount,
      publishedCount,
      recorded,
    };
  }

  /**
   * Publishes the recorded violations whose events have not left yet, a few calls at most. A bus
   * that refuses stops the publication; the rest wait for the next run (at least once, the same
   * event id every time).
   */
  private async publish(): Promise<number> {
    let publishedCount = 0;
    for (let taken = 0; taken < this.limits.publishCountMax; taken += publishBatchRowCountMax) {
      const outcome = await this.store.publishPending(publishBatchRowCountMax, (events) =>
        this.publisher.publish(events),
      );
      publishedCount += outcome.publishedCount;
      if (outcome.failedCount > 0) {
        this.logger.warn('the bus refused some invariant violation events; they wait for the next run', {
          failedCount: outcome.failedCount,
        });
        break;
      }
      if (outcome.selectedCount < publishBatchRowCountMax) break;
    }
    return publishedCount;
  }
}
