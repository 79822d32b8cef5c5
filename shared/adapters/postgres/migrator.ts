import type pg from 'pg';
import type { Logger } from '../../ports/logger';
import type { ConnectPatience, DatabaseMigrations } from '../../ports/migrations';
import { migrate, readMigrations } from './migrate';

/**
 * Applies the migrations of a directory to the pool's database. Right after the stateful stack is
 * created, RDS Proxy may still be registering the cluster as its target and refuse connections
 * for a while, so connecting is retried within a bound.
 */
export class DatabaseMigrator implements DatabaseMigrations {
  public constructor(
    private readonly pool: pg.Pool,
    private readonly logger: Logger,
  ) {}

  /** Applies what is not applied yet; returns the names applied now and how many are known. */
  public async migrate(
    directory: string,
    patience: ConnectPatience,
  ): Promise<{ readonly applied: readonly string[]; readonly knownCount: number }> {
    const migrations = await readMigrations(directory);
    const client = await this.connect(patience);
    try {
      const applied = await migrate(client, migrations);
      return { applied, knownCount: migrations.length };
    } finally {
      client.release();
    }
  }

  private async connect(patience: ConnectPatience): Promise<pg.PoolClient> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.pool.connect();
      } catch (error) {
        if (attempt >= patience.connectAttemptCountMax) throw error;
        this.logger.warn('database not reachable yet; trying again', { attempt, error: String(error) });
        await new Promise((resolve) => setTimeout(resolve, patience.connectRetryDelayMs));
      }
    }
  }
}
