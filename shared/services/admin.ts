/**
 * What the System Internals page reads: a change feed of recorded transfers, a list of recent
 * transfers by status, and the gauges (queue depths, throughput, consumer batches, fraud flags).
 * Every read is bounded; a gauge whose source is not there yet (a table a later migration adds)
 * is answered as "no data" rather than as an error, so the page works on any schema version.
 */
import type {
  ActivityPage,
  ActivityPosition,
  AdminLedgerReader,
  BatchStats,
  InvariantReport,
  QueueDepth,
  QueueDepthReader,
  TransferListPage,
} from '../ports/admin';
import type { Logger } from '../ports/logger';

/** How the admin reads are bounded. */
export interface AdminLimits {
  readonly throughputWindowS: number;
  readonly batchCountMax: number;
  /** Violations one invariant check reports; a broken ledger can have one per row. */
  readonly violationCountMax: number;
}

export const adminLimits: AdminLimits = {
  throughputWindowS: 180,
  batchCountMax: 200,
  violationCountMax: 100,
};

export interface Gauges {
  readonly generatedAt: string;
  /** Undefined when the queue could not be read (the page says so rather than showing 0). */
  readonly transfersQueue: QueueDepth | undefined;
  readonly transfersDeadLetterQueue: QueueDepth | undefined;
  readonly throughput: {
    readonly windowS: number;
    /** Transfers recorded in each second of the window, oldest first; the last is the current second. */
    readonly perSecond: readonly number[];
    readonly truncated: boolean;
  };
  readonly batches: BatchStats | undefined;
  readonly fraudFlagCount: number | undefined;
}

export class AdminService {
  public constructor(
    private readonly ledger: AdminLedgerReader,
    private readonly queues: QueueDepthReader,
    private readonly logger: Logger,
    private readonly limits: AdminLimits = adminLimits,
    private readonly now: () => number = Date.now,
  ) {}

  public activity(after: ActivityPosition | undefined, limit: number): Promise<ActivityPage> {
    return this.ledger.activity(after, limit);
  }

  public listTransfers(query: Parameters<AdminLedgerReader['listTransfers']>[0]): Promise<TransferListPage> {
    return this.ledger.listTransfers(query);
  }

  /**
   * Runs the ledger's own invariant check (the one every test and benchmark runs after itself),
   * so a deployed stage can be checked after a load run too.
   */
  public checkInvariants(): Promise<InvariantReport> {
    return this.ledger.checkInvariants(this.limits.violationCountMax);
  }

  /**
   * Reads every gauge at once. A queue that cannot be read leaves its gauge empty instead of
   * failing the others: the page is most needed when something is down.
   */
  public async gauges(): Promise<Gauges> {
    const [transfersQueue, deadLetterQueue, throughput, batches, fraudFlagCount] = await Promise.all([
      this.queueDepth('transfers'),
      this.queueDepth('transfersDeadLetter'),
      this.ledger.throughput(this.limits.throughputWindowS),
      this.ledger.batchStats(this.limits.batchCountMax),
      this.ledger.fraudFlagCount(),
    ]);
    const nowS = Math.floor(this.now() / 1000);
    const perSecond = Array.from(
      { length: this.limits.throughputWindowS },
      (_, index) => throughput.counts.get(nowS - this.limits.throughputWindowS + 1 + index) ?? 0,
    );
    return {
      generatedAt: new Date(this.now()).toISOString(),
      transfersQueue,
      transfersDeadLetterQueue: deadLetterQueue,
      throughput: { windowS: this.limits.throughputWindowS, perSecond, truncated: throughput.truncated },
      batches,
      fraudFlagCount,
    };
  }

  private async queueDepth(queue: 'transfers' | 'transfersDeadLetter'): Promise<QueueDepth | undefined> {
    try {
      return await this.queues.depth(queue);
    } catch (error) {
      this.logger.warn('queue depth unreadable', { queue, error: String(error) });
      return undefined;
    }
  }
}
