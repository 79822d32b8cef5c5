/**
 * Least privilege from the topology: each `Access` a function declares becomes the grants for
 * exactly that resource, and nothing else. The switch is exhaustive, so a new kind of access
 * added to the topology fails to compile here until the stack knows what it means.
 */
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type { Access } from '../../shared/definitions';
import type { StatefulStack } from './stateful-stack';

export function grantAccess(fn: lambda.Function, access: Access, stateful: StatefulStack): void {
  switch (access.kind) {
    case 'database':
      // The network path (VPC, security group) is set where the function is made; here, the
      // right to read the functions' login secret, and nothing else of the database's.
      if (stateful.database.kind === 'proxy') stateful.database.functions.secret.grantRead(fn);
      return;
    case 'database-admin':
      // The owner's secret, to migrate; the functions' login secret, to make that login from it.
      if (stateful.database.kind === 'proxy') {
        stateful.database.admin.secret.grantRead(fn);
        stateful.database.functions.secret.grantRead(fn);
      }
      return;
    case 'queue-send':
      stateful.queues[access.queue].grantSendMessages(fn);
      return;
    case 'queue-admin':
      // Listing and moving dead letters: receive, delete, change visibility, attributes, send.
      stateful.queues[access.queue].grantConsumeMessages(fn);
      stateful.queues[access.queue].grantSendMessages(fn);
      return;
    case 'table-read-write':
      stateful.tables[access.table].grantReadWriteData(fn);
      return;
    case 'table-read':
      stateful.tables[access.table].grantReadData(fn);
      return;
    case 'bus-put':
      stateful.bus.grantPutEventsTo(fn);
      return;
    default:
      unhandled(access);
  }
}

/** Compiles only when every kind of access above is handled. */
function unhandled(access: never): never {
  throw new Error(`access ${JSON.stringify(access)} is not handled by the stack`);
}

/** Whether the function reaches Postgres (so it runs in the VPC, beside the proxy). */
export function needsDatabase(accessList: readonly Access[]): boolean {
  return accessList.some((access) => access.kind === 'database' || access.kind === 'database-admin');
}
