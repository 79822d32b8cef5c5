/**
 * Creates, idempotently, every AWS resource `topology` declares on a local endpoint (moto or
 * LocalStack): the queues with their dead-letter queues, the DynamoDB tables with TTL, the event
 * bus, and the rule that routes transfer events to their queue. Running it again changes nothing
 * that is already right and fixes what drifted, so `npm start` runs it every time.
 */
import {
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  type DynamoDBClient,
  ResourceNotFoundException as DynamoResourceNotFoundException,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import {
  CreateArchiveCommand,
  CreateEventBusCommand,
  DeleteArchiveCommand,
  DeleteEventBusCommand,
  DeleteRuleCommand,
  DescribeArchiveCommand,
  DescribeEventBusCommand,
  type EventBridgeClient,
  ResourceNotFoundException as EventsResourceNotFoundException,
  PutRuleCommand,
  PutTargetsCommand,
  RemoveTargetsCommand,
} from '@aws-sdk/client-eventbridge';
import {
  CreateQueueCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  type QueueAttributeName,
  QueueDoesNotExist,
  SetQueueAttributesCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { ResourceNames } from '../../shared/settings';
import { type QueueKey, type QueueSpec, type TableKey, topology } from '../../shared/topology';
import { type AwsClients, awsClients } from '../../shared/wiring';
import { localAwsSettings } from './aws';

export type { AwsClients };

/** What a caller may change about the provisioned copy; the topology's values otherwise. */
export interface ProvisionOptions {
  /**
   * Prepended to every physical name, so tests can provision isolated copies on one endpoint.
   * Letters, digits, `-` and `_` only; keep it short (SQS names stop at 80 characters, rule and
   * bus names at 64).
   */
  readonly namePrefix?: string;
  /** Per-queue visibility timeouts, for tests that need redelivery within seconds. */
  readonly visibilityTimeoutS?: Partial<Record<QueueKey, number>>;
  /** Per-queue receive counts before a message moves to the dead-letter queue. */
  readonly maxReceiveCount?: Partial<Record<QueueKey, number>>;
  /** Whether to create the event bus archive; moto and LocalStack support it, tests skip it. */
  readonly archive?: boolean;
}

/** What `provision` made: the resources the functions use, plus the ARNs tests inspect. */
export interface ProvisionedResources extends ResourceNames {
  readonly queueArns: Readonly<Record<QueueKey, string>>;
  readonly ruleArns: Readonly<Record<string, string>>;
  readonly eventBusArn: string;
}

const namePrefixPattern = /^[A-Za-z0-9_-]{0,24}$/;

/** Queues in the order they are made: dead-letter queues first, so redrive policies can name them. */
const queueOrder: readonly QueueKey[] = [
  'transfersDeadLetter',
  'transferEventsDeadLetter',
  'transfers',
  'transferEvents',
  'fraudScorerDeadLetter',
  'fraudPatternsDeadLetter',
  'fraudScorer',
  'fraudPatterns',
];

/**
 * Creates everything in `topology` on the endpoint (a URL, or clients already pointed at one)
 * and returns the physical names and addresses.
 */
export async function provision(
  target: string | AwsClients,
  options: ProvisionOptions = {},
): Promise<ProvisionedResources> {
  const prefix = options.namePrefix ?? '';
  if (!namePrefixPattern.test(prefix))
    throw new RangeError(`name prefix ${JSON.stringify(prefix)} is not allowed`);
  const clients = typeof target === 'string' ? awsClients(localAwsSettings(target)) : target;

  const queueUrls: Partial<Record<QueueKey, string>> = {};
  const queueArns: Partial<Record<QueueKey, string>> = {};
  for (const key of queueOrder) {
    const spec = topology.queues[key];
    const deadLetterArn = spec.deadLetter === undefined ? undefined : queueArns[spec.deadLetter.queue];
    if (spec.deadLetter !== undefined && deadLetterArn === undefined) {
      throw new Error(`queue ${key}: its dead-letter queue ${spec.deadLetter.queue} is made after it`);
    }
    const attributes = queueAttributes(spec, {
      visibilityTimeoutS: options.visibilityTimeoutS?.[key] ?? spec.visibilityTimeoutS,
      maxReceiveCount: options.maxReceiveCount?.[key] ?? spec.deadLetter?.maxReceiveCount,
      deadLetterArn,
    });
    const queue = await ensureQueue(clients.sqs, `${prefix}${spec.name}`, spec.fifo, attributes);
    queueUrls[key] = queue.url;
    queueArns[key] = queue.arn;
  }

  const tableNames: Partial<Record<TableKey, string>> = {};
  for (const [key, spec] of Object.entries(topology.tables) as [
    TableKey,
    (typeof topology.tables)[TableKey],
  ][]) {
    const name = `${prefix}${spec.name}`;
    await ensureTable(clients.dynamo, name, spec.partitionKey, spec.ttlAttribute);
    tableNames[key] = name;
  }

  const eventBusName = `${prefix}${topology.eventBus.name}`;
  const eventBusArn = await ensureEventBus(clients.eventBridge, eventBusName);
  if (options.archive ?? false) {
    await ensureArchive(clients.eventBridge, `${prefix}${topology.eventBus.name}-archive`, eventBusArn);
  }
  const ruleArns: Record<string, string> = {};
  for (const [key, rule] of Object.entries(topology.rules)) {
    const queueArn = required(queueArns[rule.targetQueue], `queue ${rule.targetQueue}`);
    const queueUrl = required(queueUrls[rule.targetQueue], `queue ${rule.targetQueue}`);
    const { RuleArn } = await clients.eventBridge.send(
      new PutRuleCommand({
        Name: `${prefix}${rule.name}`,
        EventBusName: eventBusName,
        EventPattern: JSON.stringify(rule.pattern),
        State: 'ENABLED',
      }),
    );
    const ruleArn = required(RuleArn, `rule ${rule.name} ARN`);
    // A rule may only send to a queue whose policy lets EventBridge, on behalf of that rule, send.
    await clients.sqs.send(
      new SetQueueAttributesCommand({
        QueueUrl: queueUrl,
        Attributes: { Policy: JSON.stringify(eventBridgeSendPolicy(queueArn, ruleArn)) },
      }),
    );
    // Targets are upserted by id, so a second run replaces the target rather than adding one.
    const { FailedEntryCount, FailedEntries } = await clients.eventBridge.send(
      new PutTargetsCommand({
        Rule: `${prefix}${rule.name}`,
        EventBusName: eventBusName,
        Targets: [{ Id: rule.targetQueue, Arn: queueArn }],
      }),
    );
    if ((FailedEntryCount ?? 0) > 0) {
      throw new Error(`rule ${rule.name}: target not set: ${JSON.stringify(FailedEntries)}`);
    }
    ruleArns[key] = ruleArn;
  }

  return {
    tableNames: tableNames as Record<TableKey, string>,
    eventBusName,
    eventBusArn,
    ruleArns,
    queueUrls: queueUrls as Record<QueueKey, string>,
    queueArns: queueArns as Record<QueueKey, string>,
  };
}

/**
 * Deletes what `provision` made under a name prefix (tests on a long-lived endpoint such as
 * LocalStack clean up after themselves). What is already gone is skipped.
 */
export async function deprovision(clients: AwsClients, namePrefix: string): Promise<void> {
  const eventBusName = `${namePrefix}${topology.eventBus.name}`;
  const ignoreMissing = (error: unknown): void => {
    if (
      !(
        error instanceof EventsResourceNotFoundException ||
        error instanceof DynamoResourceNotFoundException ||
        error instanceof QueueDoesNotExist
      )
    ) {
      throw error;
    }
  };
  for (const rule of Object.values(topology.rules)) {
    const name = `${namePrefix}${rule.name}`;
    await clients.eventBridge
      .send(new RemoveTargetsCommand({ Rule: name, EventBusName: eventBusName, Ids: [rule.targetQueue] }))
      .catch(ignoreMissing);
    await clients.eventBridge
      .send(new DeleteRuleCommand({ Name: name, EventBusName: eventBusName }))
      .catch(ignoreMissing);
  }
  await clients.eventBridge
    .send(new DeleteArchiveCommand({ ArchiveName: `${namePrefix}${topology.eventBus.name}-archive` }))
    .catch(ignoreMissing);
  await clients.eventBridge.send(new DeleteEventBusCommand({ Name: eventBusName })).catch(ignoreMissing);
  for (const table of Object.values(topology.tables)) {
    await clients.dynamo
      .send(new DeleteTableCommand({ TableName: `${namePrefix}${table.name}` }))
      .catch(ignoreMissing);
  }
  for (const queue of Object.values(topology.queues)) {
    try {
      const { QueueUrl } = await clients.sqs.send(
        new GetQueueUrlCommand({ QueueName: `${namePrefix}${queue.name}` }),
      );
      if (QueueUrl !== undefined) await clients.sqs.send(new DeleteQueueCommand({ QueueUrl }));
    } catch (error) {
      ignoreMissing(error);
    }
  }
}

/** The attributes a queue is made with, and set again on every run (all but FifoQueue may change). */
function queueAttributes(
  spec: QueueSpec,
  settings: {
    visibilityTimeoutS: number;
    maxReceiveCount: number | undefined;
    deadLetterArn: string | undefined;
  },
): Partial<Record<QueueAttributeName, string>> {
  const attributes: Partial<Record<QueueAttributeName, string>> = {
    VisibilityTimeout: String(settings.visibilityTimeoutS),
    MessageRetentionPeriod: String(spec.retentionPeriodS),
  };
  if (spec.fifo) {
    // The API sets the deduplication id (the transfer id); a body hash would merge two
    // transfers that happen to be identical.
    attributes.ContentBasedDeduplication = 'false';
    if (spec.deduplicationScope !== undefined) {
      attributes.DeduplicationScope = spec.deduplicationScope;
      // High-throughput FIFO: the throughput limit is per message group when deduplication is.
      attributes.FifoThroughputLimit =
        spec.deduplicationScope === 'messageGroup' ? 'perMessageGroupId' : 'perQueue';
    }
  }
  if (settings.deadLetterArn !== undefined && settings.maxReceiveCount !== undefined) {
    attributes.RedrivePolicy = JSON.stringify({
      deadLetterTargetArn: settings.deadLetterArn,
      maxReceiveCount: settings.maxReceiveCount,
    });
  }
  return attributes;
}

/** Makes the queue, or brings an existing one's attributes up to date; returns its URL and ARN. */
async function ensureQueue(
  sqs: SQSClient,
  name: string,
  fifo: boolean,
  attributes: Partial<Record<QueueAttributeName, string>>,
): Promise<{ url: string; arn: string }> {
  let url: string | undefined;
  try {
    ({ QueueUrl: url } = await sqs.send(new GetQueueUrlCommand({ QueueName: name })));
  } catch (error) {
    if (!(error instanceof QueueDoesNotExist)) throw error;
  }
  if (url === undefined) {
    ({ QueueUrl: url } = await sqs.send(
      new CreateQueueCommand({
        QueueName: name,
        Attributes: fifo ? { ...attributes, FifoQueue: 'true' } : attributes,
      }),
    ));
  } else {
    await sqs.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: attributes }));
  }
  const queueUrl = required(url, `queue ${name} URL`);
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn', 'FifoQueue'] }),
  );
  if ((Attributes?.FifoQueue === 'true') !== fifo) {
    throw new Error(`queue ${name} exists with FifoQueue=${Attributes?.FifoQueue}, expected ${fifo}`);
  }
  return { url: queueUrl, arn: required(Attributes?.QueueArn, `queue ${name} ARN`) };
}

/** Makes an on-demand table with a string partition key, then turns TTL on if it is off. */
async function ensureTable(
  dynamo: DynamoDBClient,
  name: string,
  partitionKey: string,
  ttlAttribute: string,
): Promise<void> {
  let exists = true;
  try {
    await dynamo.send(new DescribeTableCommand({ TableName: name }));
  } catch (error) {
    if (!(error instanceof DynamoResourceNotFoundException)) throw error;
    exists = false;
  }
  if (!exists) {
    await dynamo.send(
      new CreateTableCommand({
        TableName: name,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: partitionKey, AttributeType: 'S' }],
        KeySchema: [{ AttributeName: partitionKey, KeyType: 'HASH' }],
      }),
    );
  }
  const { TimeToLiveDescription } = await dynamo.send(new DescribeTimeToLiveCommand({ TableName: name }));
  const ttlOn =
    TimeToLiveDescription?.TimeToLiveStatus === 'ENABLED' &&
    TimeToLiveDescription.AttributeName === ttlAttribute;
  // Enabling TTL that is already enabled is an error on AWS, so it is only asked for when off.
  if (!ttlOn) {
    await dynamo.send(
      new UpdateTimeToLiveCommand({
        TableName: name,
        TimeToLiveSpecification: { AttributeName: ttlAttribute, Enabled: true },
      }),
    );
  }
}

async function ensureEventBus(eventBridge: EventBridgeClient, name: string): Promise<string> {
  try {
    const { Arn } = await eventBridge.send(new DescribeEventBusCommand({ Name: name }));
    return required(Arn, `event bus ${name} ARN`);
  } catch (error) {
    if (!(error instanceof EventsResourceNotFoundException)) throw error;
  }
  const { EventBusArn } = await eventBridge.send(new CreateEventBusCommand({ Name: name }));
  return required(EventBusArn, `event bus ${name} ARN`);
}

async function ensureArchive(
  eventBridge: EventBridgeClient,
  name: string,
  eventBusArn: string,
): Promise<void> {
  try {
    await eventBridge.send(new DescribeArchiveCommand({ ArchiveName: name }));
    return;
  } catch (error) {
    if (!(error instanceof EventsResourceNotFoundException)) throw error;
  }
  await eventBridge.send(
    new CreateArchiveCommand({
      ArchiveName: name,
      EventSourceArn: eventBusArn,
      RetentionDays: topology.eventBus.archiveRetentionDays,
    }),
  );
}

/** The queue policy that lets EventBridge deliver the rule's matches to the queue. */
function eventBridgeSendPolicy(queueArn: string, ruleArn: string): Record<string, unknown> {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'AllowEventBridgeRule',
        Effect: 'Allow',
        Principal: { Service: 'events.amazonaws.com' },
        Action: 'sqs:SendMessage',
        Resource: queueArn,
        Condition: { ArnEquals: { 'aws:SourceArn': ruleArn } },
      },
    ],
  };
}

function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`${what} is missing from the AWS answer`);
  return value;
}
