import path from 'node:path';
import { type DeployResponse, defineDeployFunction } from '../shared/definitions';
import type { ConnectPatience } from '../shared/ports/migrations';

/** One id for the migrations resource, so an update never replaces (and so never "deletes") it. */
export const physicalResourceId = 'ledgerx-migrations';

/** The folder the stack ships beside the bundle (and the local runtime reads in the project). */
export const migrationsAssets = 'migrations';

/**
 * Right after the stateful stack is created, RDS Proxy may still be registering the cluster as
 * its target and refuse connections for a while: up to five minutes of patience.
 */
export const connectPatience: ConnectPatience = { connectAttemptCountMax: 30, connectRetryDelayMs: 10_000 };

/**
 * The custom resource that migrates the database on every deploy: on create and update it applies
 * the migrations not applied yet (idempotent, under an advisory lock), then makes the login the
 * other functions connect as, or brings it up to date, from that login's secret; on delete it does
 * nothing, since migrations only go forward and the data outlives the stack. It is the one
 * function that connects as the tables' owner.
 */
export default defineDeployFunction({
  name: 'migrate-database',
  access: [{ kind: 'database-admin' }],
  // Migrations may rewrite large tables; the custom resource waits up to an hour anyway.
  limits: { timeoutS: 900, memoryMiB: 512 },
  bundledAssets: [migrationsAssets],
  build:
    ({ services, assetRoot, logger }) =>
    async (event): Promise<DeployResponse> => {
      if (event.RequestType === 'Delete') {
        return { PhysicalResourceId: event.PhysicalResourceId, Data: { applied: '' } };
      }
      const { applied, knownCount } = await services.migrator.migrate(
        path.join(assetRoot, migrationsAssets),
        connectPatience,
      );
      logger.info('migrations applied', { applied, known: knownCount });
      const login = await services.migrator.ensureFunctionLogin(connectPatience);
      logger.info("the functions' login is in place", { user: login.user });
      return {
        PhysicalResourceId: physicalResourceId,
        Data: { applied: applied.join(' '), functionLogin: login.user },
      };
    },
});
