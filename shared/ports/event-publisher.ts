/**
 * The event types about transfers: one per status a transfer is recorded with (`posted`,
 * `rejected`, `pending`, `voided`), `transfer.expired` when a pending transfer's hold expires,
 * and `transfer.flagged` when the fraud checks flag a posted transfer.
 */
export const transferEventTypes = [
  'transfer.posted',
  'transfer.rejected',
  'transfer.pending',
  'transfer.voided',
  'transfer.expired',
  'transfer.flagged',
] as const;
export type TransferEventType = (typeof transferEventTypes)[number];

/** The event types about accounts: one per change of an account's state. */
export const accountEventTypes = ['account.frozen', 'account.unfrozen', 'account.closed'] as const;
export type AccountEventType = (typeof accountEventTypes)[number];

export type LedgerEventType = TransferEventType | AccountEventType;

/**
 * One event as it leaves the outbox. `eventId` is stable across every publication of the same
 * event (derived from its subject and the type), so consumers deduplicate on it. A transfer event
 * carries the transfer, an account event the account's new state, as `ledger.outbox_events`
 * builds them (amounts as decimal strings).
 */
export type LedgerEvent =
  | {
      readonly eventId: string;
      readonly type: TransferEventType;
      readonly transfer: Readonly<Record<string, unknown>>;
    }
  | {
      readonly eventId: string;
      readonly type: AccountEventType;
      readonly account: Readonly<Record<string, unknown>>;
    };

/**
 * `ledger.invariant_violated`: the invariant checker found a broken promise of the ledger. It is
 * published once per violation (keyed by invariant and subject), not once per check that sees it.
 */
export interface InvariantViolatedEvent {
  readonly eventId: string;
  readonly type: 'ledger.invariant_violated';
  readonly violation: {
    readonly invariant: string;
    readonly subject: string;
    readonly detail: string;
    readonly found_at: string;
  };
}

/** Every event the ledger publishes. */
export type PublishableEvent = LedgerEvent | InvariantViolatedEvent;

/** What became of one event handed to `publish`. */
export type PublishOutcome =
  | { readonly kind: 'published' }
  | { readonly kind: 'failed'; readonly reason: string };

/** Where the ledger's events go once their transfer is committed (EventBridge on AWS). */
export interface EventPublisher {
  /**
   * Publishes the events and says, for each in the order given, whether the bus accepted it
   * (`published`) or refused that entry (`failed`, with the bus' reason; it may be tried again
   * later). Throws `TransientError` when the call itself failed (the bus unreachable, a timeout):
   * then any of the events may or may not have been published, and the caller treats them all
   * as not published, so an event is published at least once and sometimes twice.
   */
  publish(events: readonly PublishableEvent[]): Promise<PublishOutcome[]>;
}
