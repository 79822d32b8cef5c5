/**
 * The environment every function gets for the resources of the stateful stack, in the names
 * `shared/config.ts` reads (`resourcesToEnv`). Built by a naming convention over the topology's
 * keys (queue `transfers` → `transfersQueueUrl`, table `idempotency` → `idempotencyTable`), so a
 * queue or table added to the topology reaches the functions without a change here; a field of
 * `Resources` that does not follow the convention fails to compile below.
 */
import { type Resources, resourcesToEnv } from '../../shared/config';
import type { QueueKey, TableKey } from '../topology';
import type { StatefulStack } from './stateful-stack';

type ConventionalResources = { readonly [K in QueueKey as `${K}QueueUrl`]: string } & {
  readonly [K in TableKey as `${K}Table`]: string;
} & { readonly eventBusName: string };

export function resourcesEnvironment(stateful: StatefulStack): Record<string, string> {
  const conventional = {
    ...Object.fromEntries(
      Object.entries(stateful.queues).map(([key, queue]) => [`${key}QueueUrl`, queue.queueUrl]),
    ),
    ...Object.fromEntries(
      Object.entries(stateful.tables).map(([key, table]) => [`${key}Table`, table.tableName]),
    ),
    eventBusName: stateful.bus.eventBusName,
  } as ConventionalResources;
  // Compiles only while every field of Resources is one the convention makes.
  const resources: Resources = conventional;
  return resourcesToEnv(resources);
}
