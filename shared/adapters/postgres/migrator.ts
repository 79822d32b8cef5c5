import type pg from 'pg';
import type { Logger } from '../../ports/logger';
import type { ConnectPatience, DatabaseMigrations } from '../../ports/migrations';
import { type DatabaseLogin, ensureFunctionLogin } from './function-login';
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
    /** Where the functions' login comes from (its secret on AWS); read only when it is made. */
    private readonly functionLogin: () => Promise<DatabaseLogin>,
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

  /** Makes the functions' login, or brings it up to date; returns its name. */
  public async ensureFunctionLogin(patience: ConnectPatience): Promise<{ readonly user: string }> {
    const login = await this.functionLogin();
    const client = await this.connect(patience);
    try {
      await ensureFunctionLogin(client, login);
      return { user: login.user };
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
