import {
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  GetItemCommand,
  ListTablesCommand,
  PutItemCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import {
  DescribeRuleCommand,
  ListEventBusesCommand,
  ListTargetsByRuleCommand,
  PutEventsCommand,
} from '@aws-sdk/client-eventbridge';
import {
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ListQueuesCommand,
  ReceiveMessageCommand,
} from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { deprovision, provision } from '../../infra/local/provision';
import { type QueueKey, topology } from '../../shared/topology';
import { useTestAws } from '../support/aws';

const aws = useTestAws();

async function queueAttributes(key: QueueKey): Promise<Record<string, string>> {
  const { Attributes } = await aws.clients.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: aws.resources.queueUrls[key], AttributeNames: ['All'] }),
  );
  return Attributes ?? {};
}

describe('provisioning the topology', () => {
  it('makes the transfers queue FIFO, deduplicated per message group by id, redriven to its DLQ', async () => {
    const attributes = await queueAttributes('transfers');

    expect(attributes).toMatchObject({
      FifoQueue: 'true',
      ContentBasedDeduplication: 'false',
      DeduplicationScope: 'messageGroup',
      FifoThroughputLimit: 'perMessageGroupId',
      VisibilityTimeout: String(topology.queues.transfers.visibilityTimeoutS),
      MessageRetentionPeriod: String(topology.queues.transfers.retentionPeriodS),
    });
    expect(JSON.parse(attributes.RedrivePolicy ?? '{}')).toEqual({
      deadLetterTargetArn: aws.resources.queueArns.transfersDeadLetter,
      maxReceiveCount: topology.queues.transfers.deadLetter?.maxReceiveCount,
    });
    expect(aws.resources.queueUrls.transfers).toMatch(
      new RegExp(`${aws.namePrefix}ledgerx-transfers\\.fifo$`),
    );
  });

  it('makes the dead-letter queues with the longer retention and no redrive of their own', async () => {
    const transfersDeadLetter = await queueAttributes('transfersDeadLetter');
    const eventsDeadLetter = await queueAttributes('transferEventsDeadLetter');

    expect(transfersDeadLetter).toMatchObject({
      FifoQueue: 'true',
      MessageRetentionPeriod: String(topology.queues.transfersDeadLetter.retentionPeriodS),
    });
    expect(transfersDeadLetter.RedrivePolicy).toBeUndefined();
    expect(eventsDeadLetter.FifoQueue).toBeUndefined();
    expect(eventsDeadLetter.RedrivePolicy).toBeUndefined();
  });

  it('makes the transfer events queue standard, redriven to its DLQ, open to the rule only', async () => {
    const attributes = await queueAttributes('transferEvents');

    expect(attributes.FifoQueue).toBeUndefined();
    expect(JSON.parse(attributes.RedrivePolicy ?? '{}')).toEqual({
      deadLetterTargetArn: aws.resources.queueArns.transferEventsDeadLetter,
      maxReceiveCount: topology.queues.transferEvents.deadLetter?.maxReceiveCount,
    });
    expect(JSON.parse(attributes.Policy ?? '{}')).toMatchObject({
      Statement: [
        {
          Effect: 'Allow',
          Principal: { Service: 'events.amazonaws.com' },
          Action: 'sqs:SendMessage',
          Resource: aws.resources.queueArns.transferEvents,
          Condition: { ArnEquals: { 'aws:SourceArn': aws.resources.ruleArns.transferEvents } },
        },
      ],
    });
  });

  it.each(Object.values(topology.tables))(
    'makes table $name on demand with TTL on $ttlAttribute',
    async (spec) => {
      const tableName = `${aws.namePrefix}${spec.name}`;

      const { Table } = await aws.clients.dynamo.send(new DescribeTableCommand({ TableName: tableName }));
      const { TimeToLiveDescription } = await aws.clients.dynamo.send(
        new DescribeTimeToLiveCommand({ TableName: tableName }),
      );

      expect(Table?.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
      expect(Table?.KeySchema).toEqual([{ AttributeName: spec.partitionKey, KeyType: 'HASH' }]);
      expect(Table?.AttributeDefinitions).toEqual([{ AttributeName: spec.partitionKey, AttributeType: 'S' }]);
      expect(TimeToLiveDescription).toMatchObject({
        TimeToLiveStatus: 'ENABLED',
        AttributeName: spec.ttlAttribute,
      });
    },
  );

  it('routes transfer events from the bus to the transfer events queue', async () => {
    const rule = topology.rules.transferEvents;
    if (rule === undefined) throw new Error('test: the topology has no transferEvents rule');
    const ruleName = `${aws.namePrefix}${rule.name}`;
    const { EventPattern, State } = await aws.clients.eventBridge.send(
      new DescribeRuleCommand({ Name: ruleName, EventBusName: aws.resources.eventBusName }),
    );
    const { Targets } = await aws.clients.eventBridge.send(
      new ListTargetsByRuleCommand({ Rule: ruleName, EventBusName: aws.resources.eventBusName }),
    );

    await aws.clients.eventBridge.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: aws.resources.eventBusName,
            Source: topology.eventBus.source,
            DetailType: 'transfer.posted',
            Detail: JSON.stringify({ probe: 'routed' }),
          },
          {
            EventBusName: aws.resources.eventBusName,
            Source: 'someone.else',
            DetailType: 'transfer.posted',
            Detail: JSON.stringify({ probe: 'ignored' }),
          },
        ],
      }),
    );
    const { Messages } = await aws.clients.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: aws.resources.queueUrls.transferEvents,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
      }),
    );
    for (const message of Messages ?? []) {
      await aws.clients.sqs.send(
        new DeleteMessageCommand({
          QueueUrl: aws.resources.queueUrls.transferEvents,
          ReceiptHandle: message.ReceiptHandle,
        }),
      );
    }

    expect(State).toBe('ENABLED');
    expect(JSON.parse(EventPattern ?? '{}')).toEqual(rule.pattern);
    expect(Targets).toEqual([{ Id: rule.targetQueue, Arn: aws.resources.queueArns.transferEvents }]);
    expect((Messages ?? []).map((message) => JSON.parse(message.Body ?? '{}'))).toEqual([
      expect.objectContaining({
        source: topology.eventBus.source,
        'detail-type': 'transfer.posted',
        detail: { probe: 'routed' },
      }),
    ]);
  });

  it('is harmless to run twice: same names, same attributes, one target', async () => {
    const before = await queueAttributes('transfers');

    const again = await provision(aws.clients, { namePrefix: aws.namePrefix });
    const after = await queueAttributes('transfers');
    const rule = topology.rules.transferEvents;
    if (rule === undefined) throw new Error('test: the topology has no transferEvents rule');
    const { Targets } = await aws.clients.eventBridge.send(
      new ListTargetsByRuleCommand({
        Rule: `${aws.namePrefix}${rule.name}`,
        EventBusName: again.eventBusName,
      }),
    );

    expect(again).toEqual(aws.resources);
    const { LastModifiedTimestamp: _before, ...stableBefore } = before;
    const { LastModifiedTimestamp: _after, ...stableAfter } = after;
    expect(stableAfter).toEqual(stableBefore);
    expect(Targets).toHaveLength(1);
  });

  it('applies per-queue overrides for tests that need quick redelivery', async () => {
    const copy = await provision(aws.clients, {
      namePrefix: `${aws.namePrefix}o`,
      visibilityTimeoutS: { transfers: 2 },
      maxReceiveCount: { transfers: 2 },
    });

    const { Attributes } = await aws.clients.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: copy.queueUrls.transfers, AttributeNames: ['All'] }),
    );

    expect(Attributes?.VisibilityTimeout).toBe('2');
    expect(JSON.parse(Attributes?.RedrivePolicy ?? '{}')).toMatchObject({ maxReceiveCount: 2 });
  });

  it('deletes a provisioned copy again, and skips what is already gone', async () => {
    const namePrefix = `${aws.namePrefix}d`;
    await provision(aws.clients, { namePrefix });

    await deprovision(aws.clients, namePrefix);
    await deprovision(aws.clients, namePrefix);
    const { QueueUrls = [] } = await aws.clients.sqs.send(
      new ListQueuesCommand({ QueueNamePrefix: namePrefix }),
    );
    const { TableNames = [] } = await aws.clients.dynamo.send(new ListTablesCommand({}));
    const { EventBuses = [] } = await aws.clients.eventBridge.send(
      new ListEventBusesCommand({ NamePrefix: namePrefix }),
    );

    expect(QueueUrls).toEqual([]);
    expect(TableNames.filter((name) => name.startsWith(namePrefix))).toEqual([]);
    expect(EventBuses).toEqual([]);
  });
});

describe('the AWS endpoint', () => {
  it('undoes every write of a cancelled transaction and keeps a committed one whole, as DynamoDB does', async () => {
    const table = aws.resources.tableNames.idempotency;
    const id = (name: string) => ({ id: { S: `${name}-${crypto.randomUUID()}` } });
    const [fresh, changed, guard, second] = [id('fresh'), id('changed'), id('guard'), id('second')];
    await aws.clients.dynamo.send(
      new PutItemCommand({ TableName: table, Item: { ...changed, v: { S: 'old' } } }),
    );
    await aws.clients.dynamo.send(new PutItemCommand({ TableName: table, Item: guard }));
    const read = async (key: Record<string, { S: string }>) =>
      (
        await aws.clients.dynamo.send(
          new GetItemCommand({ TableName: table, Key: key, ConsistentRead: true }),
        )
      ).Item;

    const cancelled = await aws.clients.dynamo
      .send(
        new TransactWriteItemsCommand({
          TransactItems: [
            { Put: { TableName: table, Item: { ...fresh, v: { S: 'new' } } } },
            {
              Update: {
                TableName: table,
                Key: changed,
                UpdateExpression: 'SET v = :v',
                ExpressionAttributeValues: { ':v': { S: 'changed' } },
              },
            },
            {
              ConditionCheck: {
                TableName: table,
                Key: guard,
                ConditionExpression: 'attribute_not_exists(id)',
              },
            },
          ],
        }),
      )
      .catch((error: unknown) => error);
    await aws.clients.dynamo.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          { Put: { TableName: table, Item: { ...second, v: { S: 'kept' } } } },
          {
            Update: {
              TableName: table,
              Key: changed,
              UpdateExpression: 'SET v = :v',
              ExpressionAttributeValues: { ':v': { S: 'committed' } },
            },
          },
        ],
      }),
    );

    expect(cancelled).toBeInstanceOf(TransactionCanceledException);
    expect(await read(fresh)).toBeUndefined();
    expect((await read(second))?.v?.S).toBe('kept');
    expect((await read(changed))?.v?.S).toBe('committed');
  });
});
