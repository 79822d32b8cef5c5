import { defineScheduledFunction } from '../shared/definitions';

/**
 * The scheduled invariant checker: every minute, checks what changed in the ledger since its last
 * run (bounded by the `LEDGER_CHECKER_*` settings, resuming where it stopped), records and
 * publishes each violation once as a `ledger.invariant_violated` event, and reports its counts as
 * metrics; the stack alarms when a violation is on record (docs/operations.md).
 */
export default defineScheduledFunction({
  name: 'invariant-checker',
  rateS: 60,
  access: [{ kind: 'database' }, { kind: 'bus-put', bus: 'events' }],
  // The run stops starting steps after its time budget (20 s by default); the rest is room for
  // the last step, the publication and the metrics.
  limits: { timeoutS: 60, memoryMiB: 512 },
  build:
    ({ services }) =>
    async () => {
      const run = await services.invariantChecker.run();
      // Lambda answers with JSON, which has no bigint: the positions travel as decimal strings.
      return {
        stoppedBy: run.stoppedBy,
        entryCount: run.entryCount,
        accountCount: run.accountCount,
        scrubEntryCount: run.scrubEntryCount,
        entryIdChecked: run.entryIdChecked.toString(),
        entryBacklogCount: run.entryBacklogCount.toString(),
        foundCount: run.foundCount,
        newCount: run.newCount,
        recordedCount: run.recorded.count,
      };
    },
});
