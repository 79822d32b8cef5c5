import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { deadLetterQueueKeys } from '../../infra/cdk/stateful-stack';
import { type QueueKey, type TableKey, topology } from '../../shared/topology';
import { logicalId, synthesize } from './cdk-app';

const dev = () => synthesize();
const prod = () => synthesize({ stage: 'prod', reader: 'true' });

describe('stateful stack: queues', () => {
  it('makes every queue of the topology, stage-prefixed and encrypted with the stage key', () => {
    const { statefulTemplate, stateful } = dev();
    const keyRef = { 'Fn::GetAtt': [logicalId(stateful, stateful.key), 'Arn'] };
    for (const spec of Object.values(topology.queues)) {
      statefulTemplate.hasResourceProperties('AWS::SQS::Queue', {
        QueueName: `dev-${spec.name}`,
        KmsMasterKeyId: keyRef,
        VisibilityTimeout: spec.visibilityTimeoutS,
        MessageRetentionPeriod: spec.retentionPeriodS,
      });
    }
    statefulTemplate.resourceCountIs('AWS::SQS::Queue', Object.keys(topology.queues).length);
  });

  it('makes the transfer queue FIFO in high-throughput mode, with a FIFO dead-letter queue', () => {
    const { statefulTemplate, stateful } = dev();
    statefulTemplate.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: 'dev-ledgerx-transfers.fifo',
      FifoQueue: true,
      DeduplicationScope: 'messageGroup',
      FifoThroughputLimit: 'perMessageGroupId',
      RedrivePolicy: {
        deadLetterTargetArn: {
          'Fn::GetAtt': [logicalId(stateful, stateful.queues.transfersDeadLetter), 'Arn'],
        },
        // With the consumers' backoff, 20 receives outlast at least 3 hours of outage.
        maxReceiveCount: 20,
      },
    });
    statefulTemplate.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: 'dev-ledgerx-transfers-dlq.fifo',
      FifoQueue: true,
    });
  });

  it('gives every queue with a dead letter in the topology its redrive policy', () => {
    const { statefulTemplate, stateful } = dev();
    for (const [key, spec] of Object.entries(topology.queues)) {
      if (spec.deadLetter === undefined) continue;
      statefulTemplate.hasResourceProperties('AWS::SQS::Queue', {
        QueueName: `dev-${spec.name}`,
        RedrivePolicy: {
          deadLetterTargetArn: {
            'Fn::GetAtt': [logicalId(stateful, stateful.queues[spec.deadLetter.queue]), 'Arn'],
          },
          maxReceiveCount: spec.deadLetter.maxReceiveCount,
        },
      });
      expect(key).toBeTypeOf('string');
    }
  });

  it('refuses plain HTTP on every queue', () => {
    const { statefulTemplate } = dev();
    const policies = statefulTemplate.findResources('AWS::SQS::QueuePolicy');
    const denies = Object.values(policies).filter((policy) =>
      JSON.stringify(policy.Properties.PolicyDocument).includes('"aws:SecureTransport":"false"'),
    );
    expect(denies.length).toBe(Object.keys(topology.queues).length);
  });
});

describe('stateful stack: tables', () => {
  it('makes every table with TTL on its attribute, on-demand, point-in-time recovery and the stage key', () => {
    const { statefulTemplate } = dev();
    for (const spec of Object.values(topology.tables)) {
      statefulTemplate.hasResourceProperties('AWS::DynamoDB::Table', {
        TableName: `dev-${spec.name}`,
        KeySchema: [{ AttributeName: spec.partitionKey, KeyType: 'HASH' }],
        TimeToLiveSpecification: { AttributeName: spec.ttlAttribute, Enabled: true },
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: Match.anyValue() },
      });
    }
    statefulTemplate.resourceCountIs('AWS::DynamoDB::Table', Object.keys(topology.tables).length);
  });

  it('retains tables in prod and deletes them with a dev stack', () => {
    const devTables = dev().statefulTemplate.findResources('AWS::DynamoDB::Table');
    const prodTables = prod().statefulTemplate.findResources('AWS::DynamoDB::Table');
    expect(Object.values(devTables).map((table) => table.DeletionPolicy)).toEqual(
      Object.keys(topology.tables).map(() => 'Delete'),
    );
    expect(Object.values(prodTables).map((table) => table.DeletionPolicy)).toEqual(
      Object.keys(topology.tables).map(() => 'Retain'),
    );
  });
});

describe('stateful stack: event bus', () => {
  it('makes the bus encrypted with the stage key, with an archive kept for the topology period', () => {
    const { statefulTemplate } = dev();
    statefulTemplate.hasResourceProperties('AWS::Events::EventBus', {
      Name: 'dev-ledgerx-events',
      KmsKeyIdentifier: Match.anyValue(),
    });
    statefulTemplate.hasResourceProperties('AWS::Events::Archive', {
      RetentionDays: topology.eventBus.archiveRetentionDays,
      EventPattern: { source: [topology.eventBus.source] },
    });
  });

  it('sends each rule of the topology to its queue', () => {
    const { statefulTemplate, stateful } = dev();
    for (const spec of Object.values(topology.rules)) {
      statefulTemplate.hasResourceProperties('AWS::Events::Rule', {
        Name: `dev-${spec.name}`,
        EventPattern: Match.objectLike({ source: spec.pattern.source }),
        Targets: [
          Match.objectLike({
            Arn: {
              'Fn::GetAtt': [logicalId(stateful, stateful.queues[spec.targetQueue as QueueKey]), 'Arn'],
            },
          }),
        ],
      });
    }
  });
});

describe('stateful stack: network', () => {
  it('has private isolated subnets only: no internet gateway, no NAT', () => {
    const { statefulTemplate } = dev();
    statefulTemplate.resourceCountIs('AWS::EC2::VPC', 1);
    statefulTemplate.resourceCountIs('AWS::EC2::InternetGateway', 0);
    statefulTemplate.resourceCountIs('AWS::EC2::NatGateway', 0);
  });

  it('reaches SQS, EventBridge and Secrets Manager through interface endpoints and DynamoDB through a gateway', () => {
    const { statefulTemplate } = dev();
    const endpoints = Object.values(statefulTemplate.findResources('AWS::EC2::VPCEndpoint')).map(
      (endpoint) => ({
        type: endpoint.Properties.VpcEndpointType,
        service: JSON.stringify(endpoint.Properties.ServiceName),
      }),
    );
    const serviceOf = (type: string, name: string) =>
      endpoints.some((endpoint) => endpoint.type === type && endpoint.service.includes(name));
    expect(serviceOf('Interface', '.sqs')).toBe(true);
    expect(serviceOf('Interface', '.events')).toBe(true);
    expect(serviceOf('Interface', '.secretsmanager')).toBe(true);
    expect(serviceOf('Gateway', '.dynamodb')).toBe(true);
  });
});

describe('stateful stack: database', () => {
  it('runs Aurora PostgreSQL Serverless v2 with encrypted storage and backups', () => {
    const { statefulTemplate } = dev();
    statefulTemplate.hasResourceProperties('AWS::RDS::DBCluster', {
      Engine: 'aurora-postgresql',
      StorageEncrypted: true,
      KmsKeyId: Match.anyValue(),
      BackupRetentionPeriod: 1,
      ServerlessV2ScalingConfiguration: { MinCapacity: 0.5, MaxCapacity: 4 },
    });
    statefulTemplate.hasResourceProperties('AWS::RDS::DBInstance', { DBInstanceClass: 'db.serverless' });
  });

  it('protects and retains the prod cluster, keeps two weeks of backups, and adds a reader by context', () => {
    const { statefulTemplate } = prod();
    statefulTemplate.hasResource('AWS::RDS::DBCluster', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({ DeletionProtection: true, BackupRetentionPeriod: 14 }),
    });
    statefulTemplate.resourceCountIs('AWS::RDS::DBInstance', 2);
  });

  it('lets a dev cluster go with its stack, with no reader unless asked', () => {
    const { statefulTemplate } = dev();
    statefulTemplate.hasResource('AWS::RDS::DBCluster', {
      DeletionPolicy: 'Delete',
      Properties: Match.objectLike({ DeletionProtection: false }),
    });
    statefulTemplate.resourceCountIs('AWS::RDS::DBInstance', 1);
  });

  it("puts RDS Proxy in front, requiring TLS and logging in the owner and the functions' login", () => {
    const { statefulTemplate, stateful } = dev();
    const database = stateful.database;
    if (database.kind !== 'proxy') throw new Error('test: the aws flavour has a proxy');
    statefulTemplate.hasResourceProperties('AWS::RDS::DBProxy', {
      EngineFamily: 'POSTGRESQL',
      RequireTLS: true,
      Auth: [
        Match.objectLike({
          AuthScheme: 'SECRETS',
          SecretArn: { Ref: logicalId(stateful, database.admin.secret) },
        }),
        Match.objectLike({
          AuthScheme: 'SECRETS',
          SecretArn: { Ref: logicalId(stateful, database.functions.secret) },
        }),
      ],
    });
  });

  it("keeps the functions' login in a secret of its own, for the cluster, generated without quoting characters", () => {
    const { statefulTemplate } = dev();
    statefulTemplate.hasResourceProperties('AWS::SecretsManager::Secret', {
      Name: 'dev-ledgerx-database-functions',
      GenerateSecretString: Match.objectLike({
        SecretStringTemplate: JSON.stringify({ username: 'ledgerx_app_user' }),
        GenerateStringKey: 'password',
        PasswordLength: 32,
        ExcludeCharacters: Match.stringLikeRegexp('@'),
      }),
    });
    statefulTemplate.resourceCountIs('AWS::SecretsManager::SecretTargetAttachment', 2);
    statefulTemplate.resourceCountIs('AWS::SecretsManager::Secret', 2);
  });

  it("rotates the owner's secret and the functions' login's secret every 30 days, each alone", () => {
    const { statefulTemplate, stateful } = dev();
    const database = stateful.database;
    if (database.kind !== 'proxy') throw new Error('test: the aws flavour has a proxy');
    for (const secret of [database.admin.secret, database.functions.secret]) {
      statefulTemplate.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
        SecretId: { Ref: logicalId(stateful, secret) },
        RotationRules: { ScheduleExpression: 'rate(30 days)' },
      });
    }
    statefulTemplate.resourceCountIs('AWS::SecretsManager::RotationSchedule', 2);
    // Each rotation is the single-user one: the login changes its own password, keeping its name.
    const mappings = statefulTemplate.toJSON().Mappings as Record<string, { aws: { applicationId: string } }>;
    const rotations = Object.values(statefulTemplate.findResources('AWS::Serverless::Application'));
    expect(
      rotations.map((application) => {
        const [mapping] = application.Properties.Location.ApplicationId['Fn::FindInMap'] as [string];
        return mappings[mapping]?.aws.applicationId;
      }),
    ).toEqual([
      expect.stringMatching(/applications\/SecretsManagerRDSPostgreSQLRotationSingleUser$/),
      expect.stringMatching(/applications\/SecretsManagerRDSPostgreSQLRotationSingleUser$/),
    ]);
  });
});

describe('stateful stack: keys, alarms', () => {
  it('rotates the stage key', () => {
    dev().statefulTemplate.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
  });

  it('sends alarms to an encrypted topic', () => {
    dev().statefulTemplate.hasResourceProperties('AWS::SNS::Topic', {
      TopicName: 'dev-ledgerx-alarms',
      KmsMasterKeyId: Match.anyValue(),
    });
  });

  it('alarms when any dead-letter queue holds a message', () => {
    const { statefulTemplate, stateful } = dev();
    for (const key of deadLetterQueueKeys()) {
      statefulTemplate.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        Dimensions: [
          {
            Name: 'QueueName',
            Value: { 'Fn::GetAtt': [logicalId(stateful, stateful.queues[key]), 'QueueName'] },
          },
        ],
        AlarmActions: [{ Ref: Match.anyValue() }],
      });
    }
    expect(deadLetterQueueKeys().length).toBeGreaterThanOrEqual(2);
  });

  it('alarms when Aurora nears its maximum capacity', () => {
    dev().statefulTemplate.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ACUUtilization',
      Namespace: 'AWS/RDS',
      Threshold: 80,
    });
  });

  it('keys the tables by the topology (a type check that tables are records of TableKey)', () => {
    const keys: TableKey[] = Object.keys(dev().stateful.tables) as TableKey[];
    expect(keys.sort()).toEqual(Object.keys(topology.tables).sort());
  });
});
