import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { InvariantCheckCounts, InvariantMetrics } from '../../ports/invariants';

/** The CloudWatch namespace of LedgerX's own metrics (the stack sets it for Powertools too). */
export const metricsNamespace = 'LedgerX';

/** The `service` dimension of the checker's metrics: the alarm names the same. */
export const invariantMetricsService = 'invariant-checker';

/** The checker's metric names, each a count per run. */
export const invariantMetricNames = {
  recordedViolations: 'InvariantViolationsRecorded',
  violations: 'InvariantViolationsFound',
  newViolations: 'InvariantViolationsNew',
  entries: 'InvariantEntriesChecked',
  accounts: 'InvariantAccountsChecked',
  scrubEntries: 'InvariantEntriesScrubbed',
  entryBacklog: 'InvariantEntryBacklog',
} as const satisfies Readonly<Record<string, string>>;

/**
 * The checker's counts as CloudWatch metrics in the embedded metric format: one JSON line on
 * standard output per run, which Lambda's log agent turns into metrics without an API call (and
 * which the local runtime prints as it is).
 */
export class EmbeddedInvariantMetrics implements InvariantMetrics {
  private readonly metrics: Metrics;

  public constructor(namespace: string = metricsNamespace) {
    this.metrics = new Metrics({ namespace, serviceName: invariantMetricsService });
  }

  public record(counts: InvariantCheckCounts): void {
    const add = (name: string, value: number): void => {
      this.metrics.addMetric(name, MetricUnit.Count, value);
    };
    add(invariantMetricNames.recordedViolations, counts.recordedViolationCount);
    add(invariantMetricNames.violations, counts.violationCount);
    add(invariantMetricNames.newViolations, counts.newViolationCount);
    add(invariantMetricNames.entries, counts.entryCount);
    add(invariantMetricNames.accounts, counts.accountCount);
    add(invariantMetricNames.scrubEntries, counts.scrubEntryCount);
    add(invariantMetricNames.entryBacklog, counts.entryBacklogCount);
    this.metrics.publishStoredMetrics();
  }
}
