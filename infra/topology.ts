/**
 * The one description of LedgerX's topology: its queues, tables, event bus, rules and functions
 * with their triggers. The CDK stacks and the local runtime (`npm start`) both read it, so what
 * runs on a laptop is what is deployed.
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

export type HttpMethod = 'GET' | 'POST' | 'PUT';

/** An API route: a method and a path template with `{name}` parameters. */
export interface RouteSpec {
  readonly method: HttpMethod;
  readonly path: string;
  /** Whether the route needs the `x-api-key` header (all `/v1` routes do). */
  readonly apiKeyRequired: boolean;
}

export type Trigger =
  | { readonly kind: 'http'; readonly route: RouteSpec }
  | {
      readonly kind: 'sqs';
      readonly queue: QueueKey;
      /** Records per invocation (at most 10 for FIFO queues). */
      readonly batchSizeMax: number;
      /** Invocations at once for this queue. */
      readonly concurrencyMax: number;
    }
  | { readonly kind: 'schedule'; readonly rateS: number }
  /**
   * Runs once on every deploy, after the stateful resources exist (a CloudFormation custom
   * resource). The local runtime does the same work itself at start, so it skips these.
   */
  | { readonly kind: 'deploy' };

/** What a function touches, so each gets only the permissions it needs. */
export type Access =
  | { readonly kind: 'database' }
  | { readonly kind: 'queue-send'; readonly queue: QueueKey }
  | { readonly kind: 'queue-admin'; readonly queue: QueueKey }
  | { readonly kind: 'table-read-write'; readonly table: TableKey }
  | { readonly kind: 'table-read'; readonly table: TableKey }
  | { readonly kind: 'bus-put'; readonly bus: 'events' };

export interface FunctionSpec {
  /** The handler file in `functions/`, which exports `handler`. */
  readonly entry: string;
  readonly trigger: Trigger;
  readonly access: readonly Access[];
  readonly timeoutS: number;
  readonly memoryMiB: number;
  /**
   * Directories (relative to the project root) the function reads at run time, shipped beside
   * its bundle by the stack and read from the project root by the local runtime.
   */
  readonly bundledAssets?: readonly string[];
}

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
    deadLetter: { queue: 'transfersDeadLetter', maxReceiveCount: 5 },
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
    deadLetter: { queue: 'transferEventsDeadLetter', maxReceiveCount: 5 },
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
    deadLetter: { queue: 'fraudScorerDeadLetter', maxReceiveCount: 5 },
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
    deadLetter: { queue: 'fraudPatternsDeadLetter', maxReceiveCount: 5 },
  },
  fraudPatternsDeadLetter: {
    name: 'ledgerx-fraud-patterns-dlq',
    fifo: false,
    visibilityTimeoutS: 60,
    retentionPeriodS: 14 * 24 * 3600,
  },
};

export type TableKey = 'idempotency' | 'transferRequests' | 'velocity';

const tables: Readonly<Record<TableKey, TableSpec>> = {
  idempotency: { name: 'ledgerx-idempotency', partitionKey: 'id', ttlAttribute: 'expiration' },
  transferRequests: { name: 'ledgerx-transfer-requests', partitionKey: 'id', ttlAttribute: 'expires_at' },
  // Velocity windows per debit account (expire after their window) and the accounts' limits.
  velocity: { name: 'ledgerx-velocity', partitionKey: 'pk', ttlAttribute: 'expires_at' },
};

/** The event bus the outbox relay publishes to, and the source its events carry. */
const eventBus = { name: 'ledgerx-events', source: 'ledgerx.ledger', archiveRetentionDays: 30 } as const;

const rules: Readonly<Record<string, RuleSpec>> = {
  transferEvents: {
    name: 'ledgerx-transfer-events',
    pattern: { source: ['ledgerx.ledger'], 'detail-type': ['transfer.posted', 'transfer.rejected'] },
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

export type FunctionKey =
  | 'createAccount'
  | 'getAccount'
  | 'listAccountEntries'
  | 'submitTransfer'
  | 'getTransfer'
  | 'openapi'
  | 'migrateDatabase'
  | 'transferConsumer'
  | 'outboxRelay'
  | 'transferEvents'
  | 'setAccountVelocity'
  | 'fraudScorer'
  | 'fraudPatterns'
  | 'listFraudFlags'
  | 'adminPage'
  | 'adminAssets'
  | 'adminActivity'
  | 'adminGauges'
  | 'adminInvariants'
  | 'adminTransfers';

const api = (method: HttpMethod, path: string, apiKeyRequired = true): Trigger => ({
  kind: 'http',
  route: { method, path, apiKeyRequired },
});

/**
 * One Lambda per handler file. Each file exports `createHandler(dependencies)` (used by the local
 * runtime and the tests) and `handler` (the Lambda entry point, built from the environment).
 */
const functions: Readonly<Record<FunctionKey, FunctionSpec>> = {
  createAccount: {
    entry: 'create-account',
    trigger: api('POST', '/v1/accounts'),
    access: [{ kind: 'database' }, { kind: 'table-read-write', table: 'velocity' }],
    timeoutS: 10,
    memoryMiB: 512,
  },
  getAccount: {
    entry: 'get-account',
    trigger: api('GET', '/v1/accounts/{id}'),
    access: [{ kind: 'database' }],
    timeoutS: 10,
    memoryMiB: 512,
  },
  listAccountEntries: {
    entry: 'list-account-entries',
    trigger: api('GET', '/v1/accounts/{id}/entries'),
    access: [{ kind: 'database' }],
    timeoutS: 10,
    memoryMiB: 512,
  },
  submitTransfer: {
    entry: 'submit-transfer',
    trigger: api('POST', '/v1/transfers'),
    access: [
      { kind: 'queue-send', queue: 'transfers' },
      { kind: 'table-read-write', table: 'idempotency' },
      { kind: 'table-read-write', table: 'transferRequests' },
      { kind: 'table-read-write', table: 'velocity' },
    ],
    timeoutS: 10,
    memoryMiB: 512,
  },
  getTransfer: {
    entry: 'get-transfer',
    trigger: api('GET', '/v1/transfers/{id}'),
    access: [{ kind: 'database' }, { kind: 'table-read', table: 'transferRequests' }],
    timeoutS: 10,
    memoryMiB: 512,
  },
  openapi: {
    entry: 'openapi',
    trigger: api('GET', '/openapi.json', false),
    access: [],
    timeoutS: 5,
    memoryMiB: 256,
  },
  migrateDatabase: {
    entry: 'migrate-database',
    trigger: { kind: 'deploy' },
    access: [{ kind: 'database' }],
    // Migrations may rewrite large tables; the custom resource waits up to an hour anyway.
    timeoutS: 900,
    memoryMiB: 512,
    bundledAssets: ['migrations'],
  },
  transferConsumer: {
    entry: 'transfer-consumer',
    trigger: { kind: 'sqs', queue: 'transfers', batchSizeMax: 10, concurrencyMax: 4 },
    access: [{ kind: 'database' }, { kind: 'bus-put', bus: 'events' }],
    timeoutS: 30,
    memoryMiB: 1024,
  },
  outboxRelay: {
    entry: 'outbox-relay',
    trigger: { kind: 'schedule', rateS: 60 },
    access: [{ kind: 'database' }, { kind: 'bus-put', bus: 'events' }],
    timeoutS: 60,
    memoryMiB: 512,
  },
  transferEvents: {
    entry: 'transfer-events',
    trigger: { kind: 'sqs', queue: 'transferEvents', batchSizeMax: 10, concurrencyMax: 2 },
    access: [{ kind: 'database' }],
    timeoutS: 30,
    memoryMiB: 512,
  },
  setAccountVelocity: {
    entry: 'set-account-velocity',
    trigger: api('PUT', '/v1/accounts/{id}/velocity'),
    access: [{ kind: 'database' }, { kind: 'table-read-write', table: 'velocity' }],
    timeoutS: 10,
    memoryMiB: 512,
  },
  fraudScorer: {
    entry: 'fraud-scorer',
    trigger: { kind: 'sqs', queue: 'fraudScorer', batchSizeMax: 10, concurrencyMax: 2 },
    access: [{ kind: 'database' }, { kind: 'bus-put', bus: 'events' }],
    timeoutS: 30,
    memoryMiB: 512,
  },
  fraudPatterns: {
    entry: 'fraud-patterns',
    trigger: { kind: 'sqs', queue: 'fraudPatterns', batchSizeMax: 10, concurrencyMax: 2 },
    access: [{ kind: 'database' }, { kind: 'bus-put', bus: 'events' }],
    timeoutS: 30,
    memoryMiB: 512,
  },
  listFraudFlags: {
    entry: 'list-fraud-flags',
    trigger: api('GET', '/v1/fraud/flags'),
    access: [{ kind: 'database' }],
    timeoutS: 10,
    memoryMiB: 512,
  },
  // The System Internals page: public static files; its data comes from the /v1/admin routes.
  adminPage: {
    entry: 'admin-page',
    trigger: api('GET', '/admin/system', false),
    access: [],
    timeoutS: 5,
    memoryMiB: 256,
    bundledAssets: ['dashboard/dist'],
  },
  adminAssets: {
    entry: 'admin-assets',
    trigger: api('GET', '/admin/system/assets/{file}', false),
    access: [],
    timeoutS: 5,
    memoryMiB: 256,
    bundledAssets: ['dashboard/dist'],
  },
  adminActivity: {
    entry: 'admin-activity',
    trigger: api('GET', '/v1/admin/activity'),
    access: [{ kind: 'database' }],
    timeoutS: 10,
    memoryMiB: 512,
  },
  adminGauges: {
    entry: 'admin-gauges',
    trigger: api('GET', '/v1/admin/gauges'),
    access: [
      { kind: 'database' },
      // GetQueueAttributes on the transfers queue and its dead-letter queue.
      { kind: 'queue-admin', queue: 'transfers' },
      { kind: 'queue-admin', queue: 'transfersDeadLetter' },
    ],
    timeoutS: 10,
    memoryMiB: 512,
  },
  adminInvariants: {
    entry: 'admin-invariants',
    trigger: api('GET', '/v1/admin/invariants'),
    access: [{ kind: 'database' }],
    // The check reads the whole ledger; API Gateway waits at most 29 s for an integration.
    timeoutS: 28,
    memoryMiB: 512,
  },
  adminTransfers: {
    entry: 'admin-transfers',
    trigger: api('GET', '/v1/admin/transfers'),
    access: [{ kind: 'database' }],
    timeoutS: 10,
    memoryMiB: 512,
  },
};

export const topology = { queues, tables, eventBus, rules, functions } as const;
