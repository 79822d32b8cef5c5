import path from 'node:path';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import type pg from 'pg';
import { migrate, migrationsDir, readMigrations } from '../shared/adapters/postgres/migrate';
import { type Dependencies, lazyHandler } from '../shared/config';

/** What the custom resource answers CloudFormation (through the CDK provider framework). */
export interface MigrationResponse {
  readonly PhysicalResourceId: string;
  readonly Data: { readonly applied: string };
}

export interface MigrationOptions {
  /** The `migrations/` folder: beside the bundle on Lambda, the repository's own locally. */
  readonly migrationsDirectory: string;
  /**
   * Connection attempts before giving up. Right after the stateful stack is created, RDS Proxy
   * may still be registering the cluster as its target and refuse connections for a while.
   */
  readonly connectAttemptCountMax: number;
  readonly connectRetryDelayMs: number;
}

/** One id for the migrations resource, so an update never replaces (and so never "deletes") it. */
export const physicalResourceId = 'ledgerx-migrations';

/**
 * The directory the stack ships `migrations/` to (the topology's `bundledAssets`): beside the
 * bundle, in the task root, on Lambda.
 */
export function deployedMigrationsDirectory(env: NodeJS.ProcessEnv = process.env): string {
  const taskRoot = env.LAMBDA_TASK_ROOT;
  return taskRoot === undefined ? migrationsDir : path.join(taskRoot, 'migrations');
}

export const defaultMigrationOptions: Omit<MigrationOptions, 'migrationsDirectory'> = {
  connectAttemptCountMax: 30,
  connectRetryDelayMs: 10_000,
};

/**
 * The custom resource that migrates the database on every deploy: on create and update it applies
 * the migrations not applied yet (migrate() is idempotent and takes an advisory lock); on delete it
 * does nothing, since migrations only go forward and the data outlives the stack.
 */
export function createHandler(
  dependencies: Pick<Dependencies, 'pool' | 'logger'>,
  options: MigrationOptions = {
    migrationsDirectory: deployedMigrationsDirectory(),
    ...defaultMigrationOptions,
  },
): (event: CloudFormationCustomResourceEvent) => Promise<MigrationResponse> {
  return async (event) => {
    if (event.RequestType === 'Delete') {
      return { PhysicalResourceId: event.PhysicalResourceId, Data: { applied: '' } };
    }
    const migrations = await readMigrations(options.migrationsDirectory);
    const client = await connectWithRetries(dependencies, options);
    try {
      const applied = await migrate(client, migrations);
      dependencies.logger.info('migrations applied', { applied, known: migrations.length });
      return { PhysicalResourceId: physicalResourceId, Data: { applied: applied.join(' ') } };
    } finally {
      client.release();
    }
  };
}

async function connectWithRetries(
  dependencies: Pick<Dependencies, 'pool' | 'logger'>,
  options: MigrationOptions,
): Promise<pg.PoolClient> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await dependencies.pool.connect();
    } catch (error) {
      if (attempt >= options.connectAttemptCountMax) throw error;
      dependencies.logger.warn('database not reachable yet; trying again', { attempt, error: String(error) });
      await new Promise((resolve) => setTimeout(resolve, options.connectRetryDelayMs));
    }
  }
}

/** The Lambda entry point, invoked by the provider framework of the stack's custom resource. */
export const handler = lazyHandler('migrate-database', createHandler);
