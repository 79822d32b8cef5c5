import { defineScheduledFunction } from '../shared/definitions';

/** Entries one sealer call seals, in one short transaction. */
export const sealEntryCountPerCall = 5_000;
/**
 * Sealer calls per invocation: a backlog of up to 1,000,000 entries drains in one invocation
 * (the function's timeout is the other bound); what is left waits for the next.
 */
export const sealCallCountMax = 200;
/** The pause before another call when older transactions still held the sealer's horizon. */
export const horizonWaitMs = 50;

/**
 * The ledger sealer: extends the journal's SHA-256 chain over the entries committed since its
 * last run, in id order, after the fact, so posting never waits for the chain
 * (docs/ledger.md, "Tamper evidence"). Entries wait at most one period to be sealed.
 */
export default defineScheduledFunction({
  name: 'ledger-sealer',
  rateS: 60,
  access: [{ kind: 'database' }],
  limits: { timeoutS: 60, memoryMiB: 512 },
  build:
    ({ services }) =>
    async () => {
      await services.ledgerChain.sealRun({
        entryCountMax: sealEntryCountPerCall,
        callCountMax: sealCallCountMax,
        horizonWaitMs,
      });
    },
});
