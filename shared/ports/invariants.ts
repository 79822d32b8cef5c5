/**
 * What the invariant checker needs: the ledger's incremental check a step at a time, the
 * violations it recorded (each its own outbox row), and somewhere to report what it counted.
 */
import type { InvariantViolatedEvent, PublishOutcome } from './event-publisher';

/** How much one step may do. */
export interface InvariantStepLimits {
  /** New journal entries one step checks. */
  readonly entryCountMax: number;
  /** Accounts one step compares with their sums, besides the ones its entries touched. */
  readonly accountCountMax: number;
  /** Already-checked entries one step checks again (the scrub). */
  readonly scrubEntryCountMax: number;
}

/** What one step did. */
export interface InvariantStep {
  /** New entries checked (and added to their accounts' sums). */
  readonly entryCount: number;
  readonly accountCount: number;
  readonly scrubEntryCount: number;
  /** Violations the step found, recorded before or now. */
  readonly foundCount: number;
  /** Violations recorded for the first time by this step. */
  readonly recordedCount: number;
  /** Every entry up to this id is checked. */
  readonly entryIdChecked: bigint;
  /** Every entry id up to this one was final when the step ran: how far the step could go. */
  readonly entryIdSafe: bigint;
}

/** A recorded violation, as the check found it. */
export interface RecordedViolation {
  readonly invariant: string;
  readonly subject: string;
  readonly detail: string;
  readonly foundAt: string;
}

/** What one publication of recorded violations did. */
export interface ViolationRelayOutcome {
  readonly selectedCount: number;
  readonly publishedCount: number;
  readonly failedCount: number;
}

/**
 * The ledger's incremental check and its records. Every method throws `TransientError` when the
 * database is unavailable and `PermanentError` when it refused the work.
 * - `step`: one step of `ledger.check_invariants_step`, in its own transaction; steps run one at a
 *   time (a concurrent one waits for the checkpoint).
 * - `publishPending`: locks up to `rowCountMax` unpublished violations, hands their events to
 *   `publish`, and marks the ones the bus accepted, like the transfers' outbox.
 * - `recorded`: the recorded violations, oldest first, at most `violationCountMax`, how many
 *   there are in all, and whether there were more than were read.
 */
export interface InvariantCheckStore {
  step(limits: InvariantStepLimits, now: Date): Promise<InvariantStep>;
  publishPending(
    rowCountMax: number,
    publish: (events: readonly InvariantViolatedEvent[]) => Promise<readonly PublishOutcome[]>,
  ): Promise<ViolationRelayOutcome>;
  recorded(violationCountMax: number): Promise<{
    readonly violations: readonly RecordedViolation[];
    readonly count: number;
    readonly truncated: boolean;
  }>;
}

/** The counts one check run publishes as metrics. */
export interface InvariantCheckCounts {
  /** Violations on record: found by any run and not yet cleared by an operator. */
  readonly recordedViolationCount: number;
  /** Violations the run found (recorded before or now). */
  readonly violationCount: number;
  /** Violations recorded for the first time by the run. */
  readonly newViolationCount: number;
  readonly entryCount: number;
  readonly accountCount: number;
  readonly scrubEntryCount: number;
  /** Entries the run could not reach within its limits (0 when it caught up). */
  readonly entryBacklogCount: number;
}

/** Where a run's counts go: CloudWatch metrics (embedded metric format) on AWS. */
export interface InvariantMetrics {
  record(counts: InvariantCheckCounts): void;
}
