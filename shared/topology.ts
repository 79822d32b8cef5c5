/**
 * The one description of LedgerX's stateful resources: its queues, tables, event bus and rules.
 * The functions that use them are described by their own definitions (`functions/index.ts`).
 * The CDK stacks and the local runtime (`npm start`) both read this, so what runs on a laptop is
 * what is deployed.
 */

/** An SQS queue. Names are the physical names locally; the CDK stack prefixes them per stage. */
export interface QueueSpec {
  readonly name: string;
  readonly fifo: boolean;
  /** How long a received message stays hidden before it may be delivered again. */
  readonly visibilityTimeoutS: number;
  /** How long a message is kept before SQS drops it. */
  readonly retentionPeriodS: number;
  /** FIFO queues: deduplicate per message group (high-throughput mode). */
  readonly deduplicationScope?: 'messageGroup' | 'queue';
  /** The dead-letter queue and how many receives a message gets before it moves there. */
  readonly deadLetter?: { readonly queue: QueueKey; readonly maxReceiveCount: number };
}

/** A DynamoDB table with a string partition key and an expiry attribute for TTL. */
export interface TableSpec {
  readonly name: string;
  readonly partitionKey: string;
  readonly ttlAttribute: string;
}

/** An EventBridge rule that sends matching events on the bus to a queue. */
export interface RuleSpec {
  readonly name: string;
  readonly pattern: Readonly<Record<string, readonly string[]>>;
  readonly targetQueue: QueueKey;
}

/**
 * Receives a message gets before SQS moves it to its dead-letter queue. A failure that may pass
 * waits out a backoff that doubles with each receive (shared/handlers/redelivery.ts: 30 s, 60 s,
 * ... up to 900 s, each cut by up to a fifth at random), so 20 receives last at least 3.2 hours
 * and at most 4 (docs/operations.md has the sums; a unit test keeps them true): an outage of
 * hours dead-letters nothing. A failure that may never pass is redelivered after the visibility
 * timeout, so it reaches the dead-letter queue after 20 minutes of 60 s timeouts.
 */
export const maxReceiveCount = 20;

export type QueueKey =
  | 'transfers'
  | 'transfersDeadLetter'
  | 'transferEvents'
  | 'transferEventsDeadLetter'
  | 'fraudScorer'
  | 'fraudScorerDeadLetter'
  | 'fraudPatterns'
  | 'fraudPatternsDeadLetter';

const queues: Readonly<Record<QueueKey, QueueSpec>> = {
  transfers: {
    name: 'ledgerx-transfers.fifo',
    fifo: true,
    visibilityTimeoutS: 60,
    retentionPeriodS: 4 * 24 * 3600,
    deduplicationScope: 'messageGroup',
    deadLetter: { queue: 'transfersDeadLetter', maxReceiveCount },
  },
  transfersDeadLetter: {
    name: 'ledgerx-transfers-dlq.fifo',
    fifo: true,
    visibilityTimeoutS: 60,
    retentionPeriodS: 14 * 24 * 3600,
    deduplicationScope: 'messageGroup',
  },
  transferEvents: {
    name: 'ledgerx-transfer-events',
    fifo: false,
    visibilityTimeoutS: 60,
    retentionPeriodS: 4 * 24 * 3600,
    deadLetter: { queue: 'transferEventsDeadLetter', maxReceiveCount },
  },
  transferEventsDeadLetter: {
    name: 'ledgerx-transfer-events-dlq',
    fifo: false,
    visibilityTimeoutS: 60,
    retentionPeriodS: 14 * 24 * 3600,
  },
  // Fraud checks read posted transfers from queues of their own, so a slow or failing check never
  // holds up the other consumers of the bus. Standard queues: order does not matter to them (each
  // event carries its posting time) and duplicates are refused by event id.
  fraudScorer: {
    name: 'ledgerx-fraud-scorer',
    fifo: false,
    visibilityTimeoutS: 60,
    retentionPeriodS: 4 * 24 * 3600,
    deadLetter: { queue: 'fraudScorerDeadLetter', maxReceiveCount },
  },
  fraudScorerDeadLetter: {
    name: 'ledgerx-fraud-scorer-dlq',
    fifo: false,
    visibilityTimeoutS: 60,
    retentionPeriodS: 14 * 24 * 3600,
  },
  fraudPatterns: {
    name: 'ledgerx-fraud-patterns',
    fifo: false,
    visibilityTimeoutS: 60,
    retentionPeriodS: 4 * 24 * 3600,
    deadLetter: { queue: 'fraudPatternsDeadLetter', maxReceiveCount },
  },
  fraudPatternsDeadLetter: {
    name: 'ledgerx-fraud-patterns-dlq',
    fifo: false,
    visibilityTimeoutS: 60,
    retentionPeriodS: 14 * 24 * 3600,
  },
};

export type TableKey = 'idempotency' | 'velocity';

const tables: Readonly<Record<TableKey, TableSpec>> = {
  // Powertools' idempotency records of POST /v1/transfers (which also hold each key's transfer id)
  // and, written in the same transaction as a record's completion, the queued transfer GET reads.
  idempotency: { name: 'ledgerx-idempotency', partitionKey: 'id', ttlAttribute: 'expiration' },
  // One item per debit account: its velocity window and its own limits (never expires).
  velocity: { name: 'ledgerx-velocity', partitionKey: 'pk', ttlAttribute: 'expires_at' },
};

/** The event bus the outbox relay publishes to, and the source its events carry. */
const eventBus = { name: 'ledgerx-events', source: 'ledgerx.ledger', archiveRetentionDays: 30 } as const;

const rules: Readonly<Record<string, RuleSpec>> = {
  transferEvents: {
    name: 'ledgerx-transfer-events',
    pattern: {
      source: ['ledgerx.ledger'],
      'detail-type': [
        'transfer.posted',
        'transfer.rejected',
        'transfer.pending',
        'transfer.voided',
        'transfer.expired',
      ],
    },
    targetQueue: 'transferEvents',
  },
  fraudScorer: {
    name: 'ledgerx-fraud-scorer',
    pattern: { source: ['ledgerx.ledger'], 'detail-type': ['transfer.posted'] },
    targetQueue: 'fraudScorer',
  },
  fraudPatterns: {
    name: 'ledgerx-fraud-patterns',
    pattern: { source: ['ledgerx.ledger'], 'detail-type': ['transfer.posted'] },
    targetQueue: 'fraudPatterns',
  },
};

export const topology = { queues, tables, eventBus, rules } as const;
