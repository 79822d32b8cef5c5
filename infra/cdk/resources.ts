/**
 * The environment every function gets for the resources of the stateful stack, under the names
 * `shared/settings.ts` reads, so a queue or table added to the topology reaches the functions
 * without a change here.
 */
import { resourceEnvironment } from '../../shared/settings';
import type { StatefulStack } from './stateful-stack';

/** The same keys, each value mapped. */
function mapValues<Key extends string, From, To>(
  record: Readonly<Record<Key, From>>,
  map: (value: From) => To,
): Record<Key, To> {
  return Object.fromEntries(
    (Object.entries(record) as [Key, From][]).map(([key, value]) => [key, map(value)]),
  ) as Record<Key, To>;
}

export function resourcesEnvironment(stateful: StatefulStack): Record<string, string> {
  return resourceEnvironment({
    queueUrls: mapValues(stateful.queues, (queue) => queue.queueUrl),
    tableNames: mapValues(stateful.tables, (table) => table.tableName),
    eventBusName: stateful.bus.eventBusName,
  });
}
