import { defineScheduledFunction } from '../shared/definitions';

/**
 * The expiry sweep: releases the holds of pending transfers whose timeout has passed (each
 * becomes `expired`, its money leaves the accounts' pending totals, and a `transfer.expired`
 * event goes to the outbox), then publishes the events. A post or void that comes too late is
 * refused by the ledger whether or not this has run; this gives the held money back within its
 * period (and each run's bound: at most 2,000 holds, the rest on the next run).
 */
export default defineScheduledFunction({
  name: 'expire-pending-transfers',
  rateS: 60,
  access: [{ kind: 'database' }, { kind: 'bus-put', bus: 'events' }],
  limits: { timeoutS: 60, memoryMiB: 512 },
  build:
    ({ services }) =>
    async () => {
      const outcome = await services.pendingExpiry.sweep();
      // Best effort: the scheduled outbox relay publishes whatever this leaves behind.
      if (outcome.expiredCount > 0) await services.outboxRelay.drain({ rowCountMax: 100, runCountMax: 20 });
      return outcome;
    },
});
