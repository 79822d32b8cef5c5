/**
 * The stateful stack: what holds data and outlives any deploy of the functions. The VPC, Aurora
 * PostgreSQL behind RDS Proxy, every queue, table, the event bus and its rules from the topology,
 * one customer managed KMS key for all of it, and the alarm topic. Everything is read from
 * `shared/topology.ts`, so a queue or table added there appears here without a change.
 */
import { Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventsTargets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as snsSubscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import {
  functionLoginName,
  localFunctionLogin,
  urlWithLogin,
} from '../../shared/adapters/postgres/function-login';
import { type QueueKey, type QueueSpec, type RuleSpec, type TableKey, topology } from '../../shared/topology';
import { acknowledge } from './nag';
import { type DeploymentSettings, physicalName } from './settings';

/** A Postgres login and the secret that holds its password. */
export interface DatabaseLoginSecret {
  readonly user: string;
  readonly secret: secretsmanager.ISecret;
}

/**
 * How the functions reach Postgres: as the tables' owner (the migration function alone) or as
 * the functions' login, a member of ledgerx_app only, which the migration function makes from
 * its own secret.
 */
export type DatabaseAccess =
  | {
      readonly kind: 'proxy';
      readonly vpc: ec2.IVpc;
      /** The security group of every function with `database` access; the proxy admits it. */
      readonly functionSecurityGroup: ec2.ISecurityGroup;
      readonly proxy: rds.DatabaseProxy;
      readonly databaseName: string;
      readonly port: number;
      readonly admin: DatabaseLoginSecret;
      readonly functions: DatabaseLoginSecret;
    }
  | { readonly kind: 'url'; readonly adminUrl: string; readonly functionsUrl: string };

export interface StatefulStackProps extends StackProps {
  readonly settings: DeploymentSettings;
}

/** The database every stage creates inside the cluster, and its owner. */
export const databaseName = 'ledgerx';
export const databaseUser = 'ledgerx_admin';
const postgresPort = 5432;

/**
 * Characters generated passwords leave out: those that need quoting in a connection string or a
 * shell, as the RDS rotation functions leave them out.
 */
const secretExcludedCharacters = ' %+~`#$&*()|[]{}:;<>?!\'/@"\\';

/** Aurora Serverless v2 capacity per stage, in ACUs (1 ACU is about 2 GiB of memory). */
const capacityAcus = {
  dev: { min: 0.5, max: 4 },
  prod: { min: 1, max: 16 },
} as const;

/** ACU utilisation (percent of the maximum) above which the cluster is close to its ceiling. */
const acuUtilisationPercentMax = 80;

export class StatefulStack extends Stack {
  public readonly key: kms.Key;
  public readonly queues: Readonly<Record<QueueKey, sqs.Queue>>;
  public readonly tables: Readonly<Record<TableKey, dynamodb.Table>>;
  public readonly bus: events.EventBus;
  public readonly alarmTopic: sns.Topic;
  public readonly database: DatabaseAccess;

  public constructor(scope: Construct, id: string, props: StatefulStackProps) {
    super(scope, id, props);
    const { settings } = props;
    const prod = settings.stage === 'prod';
    const dataRemovalPolicy = prod ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

    this.key = new kms.Key(this, 'Key', {
      alias: `alias/ledgerx-${settings.stage}`,
      description: `LedgerX ${settings.stage}: queues, tables, event bus, alarm topic, database storage`,
      enableKeyRotation: true,
      removalPolicy: dataRemovalPolicy,
      pendingWindow: Duration.days(prod ? 30 : 7),
    });
    // CloudWatch alarms publish to the encrypted alarm topic, so the alarm service needs the key.
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
      }),
    );

    this.alarmTopic = new sns.Topic(this, 'AlarmTopic', {
      topicName: physicalName(settings, 'ledgerx-alarms'),
      masterKey: this.key,
      enforceSSL: true,
    });
    if (settings.alarmEmail !== undefined) {
      this.alarmTopic.addSubscription(new snsSubscriptions.EmailSubscription(settings.alarmEmail));
    }

    this.queues = this.createQueues(settings, dataRemovalPolicy);
    this.tables = this.createTables(settings, dataRemovalPolicy);

    this.bus = new events.EventBus(this, 'EventBus', {
      eventBusName: physicalName(settings, topology.eventBus.name),
      kmsKey: this.key,
    });
    this.bus.archive('Archive', {
      archiveName: physicalName(settings, `${topology.eventBus.name}-archive`),
      description: 'Every event LedgerX published, for replay after a consumer bug',
      eventPattern: { source: [topology.eventBus.source] },
      retention: Duration.days(topology.eventBus.archiveRetentionDays),
      kmsKey: this.key,
    });
    for (const [key, spec] of Object.entries(topology.rules) as [string, RuleSpec][]) {
      const target = this.queues[spec.targetQueue];
      new events.Rule(this, `Rule-${key}`, {
        ruleName: physicalName(settings, spec.name),
        eventBus: this.bus,
        eventPattern: eventPattern(spec.pattern),
        targets: [
          new eventsTargets.SqsQueue(target, {
            // FIFO targets need a group; one group per source keeps each source's events in order.
            ...(topology.queues[spec.targetQueue].fifo ? { messageGroupId: spec.name } : {}),
          }),
        ],
      });
    }

    this.alarmOnDeadLetters(settings);

    if (settings.flavour === 'localstack') {
      if (settings.databaseUrl === undefined) throw new Error('the LocalStack flavour needs a database URL');
      // The same server as the owner's URL, as the local runtime's login (LocalStack is local too).
      this.database = {
        kind: 'url',
        adminUrl: settings.databaseUrl,
        functionsUrl: urlWithLogin(settings.databaseUrl, localFunctionLogin),
      };
    } else {
      this.database = this.createDatabase(settings, dataRemovalPolicy);
    }
  }

  private createQueues(
    settings: DeploymentSettings,
    removalPolicy: RemovalPolicy,
  ): Readonly<Record<QueueKey, sqs.Queue>> {
    const made = new Map<QueueKey, sqs.Queue>();
    const make = (key: QueueKey): sqs.Queue => {
      const existing = made.get(key);
      if (existing !== undefined) return existing;
      const spec: QueueSpec = topology.queues[key];
      // A dead-letter queue is made before the queues that name it.
      const deadLetter =
        spec.deadLetter === undefined
          ? undefined
          : { queue: make(spec.deadLetter.queue), maxReceiveCount: spec.deadLetter.maxReceiveCount };
      const queue = new sqs.Queue(this, `Queue-${key}`, {
        queueName: physicalName(settings, spec.name),
        fifo: spec.fifo ? true : undefined,
        visibilityTimeout: Duration.seconds(spec.visibilityTimeoutS),
        retentionPeriod: Duration.seconds(spec.retentionPeriodS),
        encryption: sqs.QueueEncryption.KMS,
        encryptionMasterKey: this.key,
        // The data key is reused for 5 minutes, so KMS is called rarely at high throughput.
        dataKeyReuse: Duration.minutes(5),
        enforceSSL: true,
        removalPolicy,
        ...(spec.fifo && spec.deduplicationScope === 'messageGroup'
          ? {
              // High-throughput FIFO: throughput and deduplication per message group (account).
              deduplicationScope: sqs.DeduplicationScope.MESSAGE_GROUP,
              fifoThroughputLimit: sqs.FifoThroughputLimit.PER_MESSAGE_GROUP_ID,
            }
          : {}),
        ...(deadLetter === undefined ? {} : { deadLetterQueue: deadLetter }),
      });
      made.set(key, queue);
      return queue;
    };
    const queues = Object.fromEntries(
      (Object.keys(topology.queues) as QueueKey[]).map((key) => [key, make(key)]),
    ) as Record<QueueKey, sqs.Queue>;
    for (const key of deadLetterQueueKeys()) {
      acknowledge(queues[key], 'AwsSolutions-SQS3', 'this queue is itself a dead-letter queue');
    }
    return queues;
  }

  private createTables(
    settings: DeploymentSettings,
    removalPolicy: RemovalPolicy,
  ): Readonly<Record<TableKey, dynamodb.Table>> {
    return Object.fromEntries(
      (Object.keys(topology.tables) as TableKey[]).map((key) => {
        const spec = topology.tables[key];
        const table = new dynamodb.Table(this, `Table-${key}`, {
          tableName: physicalName(settings, spec.name),
          partitionKey: { name: spec.partitionKey, type: dynamodb.AttributeType.STRING },
          billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
          timeToLiveAttribute: spec.ttlAttribute,
          pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
          encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
          encryptionKey: this.key,
          deletionProtection: settings.stage === 'prod',
          removalPolicy,
        });
        return [key, table];
      }),
    ) as Record<TableKey, dynamodb.Table>;
  }

  private alarmOnDeadLetters(settings: DeploymentSettings): void {
    const action = new cloudwatchActions.SnsAction(this.alarmTopic);
    for (const key of deadLetterQueueKeys()) {
      const alarm = new cloudwatch.Alarm(this, `DeadLetterAlarm-${key}`, {
        alarmName: physicalName(settings, `ledgerx-${key}-not-empty`),
        alarmDescription: `Messages in ${topology.queues[key].name}: something failed every retry. See docs/operations.md, "Dead letters and redrive".`,
        metric: this.queues[key].metricApproximateNumberOfMessagesVisible({
          period: Duration.minutes(1),
          statistic: cloudwatch.Stats.MAXIMUM,
        }),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      alarm.addAlarmAction(action);
    }
  }

  private createDatabase(settings: DeploymentSettings, removalPolicy: RemovalPolicy): DatabaseAccess {
    const prod = settings.stage === 'prod';
    // No NAT and no public subnets: the functions and the database reach AWS services through
    // endpoints only, so nothing in the VPC can reach the internet.
    const vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 }],
      flowLogs: {
        rejected: {
          trafficType: ec2.FlowLogTrafficType.REJECT,
          destination: ec2.FlowLogDestination.toCloudWatchLogs(
            new logs.LogGroup(this, 'VpcFlowLogs', {
              retention: logs.RetentionDays.ONE_MONTH,
              removalPolicy,
            }),
          ),
        },
      },
    });
    const isolated = { subnetType: ec2.SubnetType.PRIVATE_ISOLATED };
    vpc.addGatewayEndpoint('DynamoDbEndpoint', {
      service: ec2.GatewayVpcEndpointAwsService.DYNAMODB,
      subnets: [isolated],
    });
    const secretsManagerEndpoint = vpc.addInterfaceEndpoint('SecretsManagerEndpoint', {
      service: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
      subnets: isolated,
    });
    const sqsEndpoint = vpc.addInterfaceEndpoint('SqsEndpoint', {
      service: ec2.InterfaceVpcEndpointAwsService.SQS,
      subnets: isolated,
    });
    const eventBridgeEndpoint = vpc.addInterfaceEndpoint('EventBridgeEndpoint', {
      service: ec2.InterfaceVpcEndpointAwsService.EVENTBRIDGE,
      subnets: isolated,
    });
    for (const endpoint of [secretsManagerEndpoint, sqsEndpoint, eventBridgeEndpoint]) {
      acknowledge(
        endpoint,
        'AwsSolutions-EC23',
        "the endpoint's security group admits HTTPS from the VPC's own CIDR only (the rule cannot read the CIDR token)",
      );
    }

    const functionSecurityGroup = new ec2.SecurityGroup(this, 'FunctionSecurityGroup', {
      vpc,
      description: 'LedgerX functions with database access',
      allowAllOutbound: true,
    });
    const proxySecurityGroup = new ec2.SecurityGroup(this, 'ProxySecurityGroup', {
      vpc,
      description: 'LedgerX RDS Proxy: admits the functions',
      allowAllOutbound: true,
    });
    proxySecurityGroup.addIngressRule(
      functionSecurityGroup,
      ec2.Port.tcp(postgresPort),
      'functions to the proxy',
    );

    const capacity = capacityAcus[settings.stage];
    const cluster = new rds.DatabaseCluster(this, 'Database', {
      engine: rds.DatabaseClusterEngine.auroraPostgres({ version: rds.AuroraPostgresEngineVersion.VER_18_6 }),
      credentials: rds.Credentials.fromGeneratedSecret(databaseUser, {
        secretName: physicalName(settings, 'ledgerx-database'),
      }),
      defaultDatabaseName: databaseName,
      port: postgresPort,
      vpc,
      vpcSubnets: isolated,
      writer: rds.ClusterInstance.serverlessV2('Writer', { enablePerformanceInsights: true }),
      readers: settings.reader
        ? [
            rds.ClusterInstance.serverlessV2('Reader', {
              scaleWithWriter: true,
              enablePerformanceInsights: true,
            }),
          ]
        : [],
      serverlessV2MinCapacity: capacity.min,
      serverlessV2MaxCapacity: capacity.max,
      storageEncrypted: true,
      storageEncryptionKey: this.key,
      backup: { retention: Duration.days(prod ? 14 : 1), preferredWindow: '03:00-04:00' },
      deletionProtection: prod,
      removalPolicy: prod ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      cloudwatchLogsExports: ['postgresql'],
      cloudwatchLogsRetention: logs.RetentionDays.ONE_MONTH,
      iamAuthentication: true,
    });
    cluster.connections.allowFrom(proxySecurityGroup, ec2.Port.tcp(postgresPort), 'the proxy to the cluster');
    const secret = cluster.secret;
    if (secret === undefined) throw new Error('the cluster was made without a credentials secret');
    cluster.addRotationSingleUser({
      automaticallyAfter: Duration.days(30),
      endpoint: secretsManagerEndpoint,
    });

    // The functions' login: its own secret, whose password the migration function sets on the
    // login at every deploy. Attached to the cluster, so the secret carries the host and port the
    // rotation function needs; rotated alone (the login changes its own password), so its name
    // never changes and the functions' LEDGER_DB_USER stays true.
    const functionsSecret = new secretsmanager.Secret(this, 'FunctionsDatabaseSecret', {
      secretName: physicalName(settings, 'ledgerx-database-functions'),
      description: "LedgerX functions' Postgres login (a member of ledgerx_app only)",
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ username: functionLoginName }),
        generateStringKey: 'password',
        passwordLength: 32,
        excludeCharacters: secretExcludedCharacters,
      },
      removalPolicy,
    }).attach(cluster);
    new secretsmanager.SecretRotation(this, 'FunctionsDatabaseSecretRotation', {
      application: secretsmanager.SecretRotationApplication.POSTGRES_ROTATION_SINGLE_USER,
      secret: functionsSecret,
      target: cluster,
      vpc,
      vpcSubnets: isolated,
      endpoint: secretsManagerEndpoint,
      automaticallyAfter: Duration.days(30),
      excludeCharacters: secretExcludedCharacters,
    });

    const proxy = cluster.addProxy('Proxy', {
      dbProxyName: physicalName(settings, 'ledgerx'),
      // The proxy logs clients in with the logins whose secrets it holds: the owner (migrations)
      // and the functions' login.
      secrets: [secret, functionsSecret],
      vpc,
      vpcSubnets: isolated,
      securityGroups: [proxySecurityGroup],
      requireTLS: true,
      // Lambda instances come and go; idle client connections are closed by the proxy, not held.
      idleClientTimeout: Duration.minutes(15),
      maxConnectionsPercent: 90,
    });

    new cloudwatch.Alarm(this, 'DatabaseCapacityAlarm', {
      alarmName: physicalName(settings, 'ledgerx-database-capacity'),
      alarmDescription: `Aurora is above ${acuUtilisationPercentMax}% of its maximum ACUs: raise serverlessV2MaxCapacity or look for slow queries.`,
      metric: cluster.metric('ACUUtilization', {
        period: Duration.minutes(1),
        statistic: cloudwatch.Stats.MAXIMUM,
      }),
      threshold: acuUtilisationPercentMax,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 5,
      datapointsToAlarm: 3,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }).addAlarmAction(new cloudwatchActions.SnsAction(this.alarmTopic));

    // The Lambda that sets the retention of the cluster's log groups (a CDK singleton).
    const logRetention = this.node.tryFindChild('LogRetentionaae0aa3c5b4d4f87b02d85b201efdd8a');
    if (logRetention !== undefined) {
      acknowledge(
        logRetention,
        'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        'the CDK log-retention function writes its own logs with the AWS managed policy',
      );
      acknowledge(
        logRetention,
        'AwsSolutions-IAM5[Resource::*]',
        'the CDK log-retention function sets retention on log groups that RDS creates, named only at deploy time',
      );
    }
    acknowledge(
      cluster,
      'AwsSolutions-RDS11',
      'the default Postgres port: the cluster is reachable only from the proxy security group in isolated subnets, so another port adds nothing',
    );
    if (!prod) {
      acknowledge(
        cluster,
        'AwsSolutions-RDS10',
        'dev clusters are thrown away with their stack; prod has deletion protection',
      );
    }
    return {
      kind: 'proxy',
      vpc,
      functionSecurityGroup,
      proxy,
      databaseName,
      port: postgresPort,
      admin: { user: databaseUser, secret },
      functions: { user: functionLoginName, secret: functionsSecret },
    };
  }
}

/** Queues that some queue names as its dead-letter queue. */
export function deadLetterQueueKeys(): QueueKey[] {
  const keys = new Set<QueueKey>();
  for (const spec of Object.values(topology.queues) as QueueSpec[]) {
    if (spec.deadLetter !== undefined) keys.add(spec.deadLetter.queue);
  }
  return [...keys];
}

/** The topology's pattern (EventBridge's JSON names) as the CDK's event pattern. */
function eventPattern(pattern: RuleSpec['pattern']): events.EventPattern {
  const result: { -readonly [K in keyof events.EventPattern]: events.EventPattern[K] } = {};
  for (const [name, values] of Object.entries(pattern)) {
    const list = [...values];
    switch (name) {
      case 'source':
        result.source = list;
        break;
      case 'detail-type':
        result.detailType = list;
        break;
      case 'account':
        result.account = list;
        break;
      case 'region':
        result.region = list;
        break;
      case 'resources':
        result.resources = list;
        break;
      default:
        throw new Error(`event pattern field ${name} is not supported by the stack yet`);
    }
  }
  return result;
}
