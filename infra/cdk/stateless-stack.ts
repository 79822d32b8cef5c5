/**
 * The stateless stack: one Lambda per function definition (`functions/index.ts`), behind its
 * trigger (an API route, a queue, a schedule, or a deploy), with exactly the access it declares.
 * Nothing here holds data, so it can be destroyed and redeployed at will. Generic over the list:
 * a function added there appears here without a change.
 */
import path from 'node:path';
import { CfnOutput, CustomResource, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as lambdaEventSources from 'aws-cdk-lib/aws-lambda-event-sources';
import * as lambdaNodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as schedulerTargets from 'aws-cdk-lib/aws-scheduler-targets';
import * as customResources from 'aws-cdk-lib/custom-resources';
import type { Construct } from 'constructs';
import { functionDefinitions } from '../../functions/index';
import {
  invariantMetricNames,
  invariantMetricsService,
  metricsNamespace as sharedMetricsNamespace,
} from '../../shared/adapters/aws/invariant-metrics';
import type { FunctionDefinition, HttpMethod } from '../../shared/definitions';
import { proxyEnvironment, settingNames } from '../../shared/settings';
import { topology } from '../../shared/topology';
import { grantAccess, needsDatabase } from './access';
import { assetDirectories, assetsFingerprint, bundlingOptions, projectRoot } from './bundling';
import { writeLambdaEntry } from './entries';
import { acknowledge } from './nag';
import { resourcesEnvironment } from './resources';
import { type DeploymentSettings, physicalName } from './settings';
import type { StatefulStack } from './stateful-stack';

export interface StatelessStackProps extends StackProps {
  readonly settings: DeploymentSettings;
  readonly stateful: StatefulStack;
}

/** Requests per second (and bursts) one API key may make; API Gateway answers 429 past them. */
export const clientThrottle = {
  dev: { rateLimit: 50, burstLimit: 100 },
  prod: { rateLimit: 500, burstLimit: 1000 },
} as const;

/** The age of the oldest message above which a queue's consumers are falling behind. */
export const oldestMessageAgeSMax = 300;

/** The metrics namespace of Powertools metrics. */
export const metricsNamespace = sharedMetricsNamespace;

/**
 * How long the invariant checker may go without reporting before its silence alarms: a few of its
 * one-minute runs.
 */
export const invariantCheckerSilenceMinutesMax = 15;

export class StatelessStack extends Stack {
  /** Each definition's Lambda. */
  public readonly functions: ReadonlyMap<FunctionDefinition, lambdaNodejs.NodejsFunction>;
  public readonly api: apigateway.RestApi;

  public constructor(scope: Construct, id: string, props: StatelessStackProps) {
    super(scope, id, props);
    const { settings, stateful } = props;
    const alarmAction = new cloudwatchActions.SnsAction(stateful.alarmTopic);

    this.api = this.createApi(settings);
    const resources = resourcesEnvironment(stateful);
    const made = new Map<FunctionDefinition, lambdaNodejs.NodejsFunction>();
    for (const definition of functionDefinitions) {
      const fn = this.createFunction(definition, settings, stateful, resources);
      for (const access of definition.access) grantAccess(fn, access, stateful);
      this.connectTrigger(definition, fn, settings, stateful, alarmAction);
      made.set(definition, fn);
    }
    this.functions = made;

    new cloudwatch.Alarm(this, 'ApiServerErrorAlarm', {
      alarmName: physicalName(settings, 'ledgerx-api-5xx'),
      alarmDescription: 'The API answered 5xx: a handler failed or a dependency was unreachable.',
      metric: this.api.metricServerError({ period: Duration.minutes(5), statistic: cloudwatch.Stats.SUM }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }).addAlarmAction(alarmAction);

    this.alarmOnInvariants(settings, alarmAction);
  }

  /**
   * The ledger's own check: an alarm while any invariant violation is on record (it stays on
   * record until an operator clears it after repair, so the alarm does not fall silent on its
   * own), and one when the checker has stopped reporting at all.
   */
  private alarmOnInvariants(settings: DeploymentSettings, alarmAction: cloudwatch.IAlarmAction): void {
    const metric = (metricName: string, statistic: string, period: Duration) =>
      new cloudwatch.Metric({
        namespace: metricsNamespace,
        metricName,
        dimensionsMap: { service: invariantMetricsService },
        statistic,
        period,
      });
    new cloudwatch.Alarm(this, 'InvariantViolationAlarm', {
      alarmName: physicalName(settings, 'ledgerx-invariant-violated'),
      alarmDescription:
        'The invariant checker has a ledger invariant violation on record: see docs/operations.md, "The ledger checks itself".',
      metric: metric(invariantMetricNames.recordedViolations, cloudwatch.Stats.MAXIMUM, Duration.minutes(5)),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }).addAlarmAction(alarmAction);
    new cloudwatch.Alarm(this, 'InvariantCheckerSilentAlarm', {
      alarmName: physicalName(settings, 'ledgerx-invariant-checker-silent'),
      alarmDescription: `The invariant checker reported nothing for ${invariantCheckerSilenceMinutesMax} minutes: the ledger is not being checked.`,
      metric: metric(
        invariantMetricNames.recordedViolations,
        cloudwatch.Stats.SAMPLE_COUNT,
        Duration.minutes(invariantCheckerSilenceMinutesMax),
      ),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    }).addAlarmAction(alarmAction);
  }

  private createApi(settings: DeploymentSettings): apigateway.RestApi {
    const accessLogs = new logs.LogGroup(this, 'ApiAccessLogs', {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: settings.stage === 'prod' ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    const api = new apigateway.RestApi(this, 'Api', {
      restApiName: physicalName(settings, 'ledgerx'),
      description: 'LedgerX HTTP API (v1)',
      endpointTypes: [apigateway.EndpointType.REGIONAL],
      apiKeySourceType: apigateway.ApiKeySourceType.HEADER,
      // The account-level role that lets API Gateway write execution logs. It is one setting per
      // account and region, shared by every stage there, so deleting one stage must not remove it.
      cloudWatchRole: true,
      cloudWatchRoleRemovalPolicy: RemovalPolicy.RETAIN,
      deployOptions: {
        stageName: settings.stage,
        accessLogDestination: new apigateway.LogGroupLogDestination(accessLogs),
        accessLogFormat: apigateway.AccessLogFormat.jsonWithStandardFields({
          caller: false,
          httpMethod: true,
          ip: true,
          protocol: true,
          requestTime: true,
          resourcePath: true,
          responseLength: true,
          status: true,
          user: true,
        }),
        loggingLevel: apigateway.MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        metricsEnabled: true,
        tracingEnabled: true,
      },
    });
    const plan = api.addUsagePlan('UsagePlan', {
      name: physicalName(settings, 'ledgerx-clients'),
      description: 'Per-client throttling: every API key in this plan gets these limits of its own',
      throttle: clientThrottle[settings.stage],
      apiStages: [{ api, stage: api.deploymentStage }],
    });
    const key = api.addApiKey('DefaultApiKey', { apiKeyName: physicalName(settings, 'ledgerx-default') });
    plan.addApiKey(key);
    new CfnOutput(this, 'ApiUrl', { value: api.url, description: 'The API base URL (ends with the stage)' });
    new CfnOutput(this, 'ApiKeyId', {
      value: key.keyId,
      description: 'aws apigateway get-api-key --include-value --api-key <this id> shows the key',
    });
    new CfnOutput(this, 'UsagePlanId', {
      value: plan.usagePlanId,
      description: 'Add client keys to this plan',
    });

    acknowledge(
      api,
      'AwsSolutions-APIG3',
      'no WAF web ACL: per-client throttling comes from API keys in a usage plan, and bodies are bounded by the handlers; a team that needs IP rules adds a WAF',
    );
    acknowledge(
      api,
      'AwsSolutions-APIG4',
      'clients authenticate with API keys (one per client, in the usage plan); the handlers scope idempotency keys by API key id',
    );
    acknowledge(
      api,
      'AwsSolutions-COG4',
      'no Cognito user pool: callers are services holding API keys, not users',
    );
    acknowledge(
      api,
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
      'the AWS managed policy of the API Gateway account role, which only writes logs',
    );
    return api;
  }

  private createFunction(
    definition: FunctionDefinition,
    settings: DeploymentSettings,
    stateful: StatefulStack,
    resources: Record<string, string>,
  ): lambdaNodejs.NodejsFunction {
    const key = constructKey(definition);
    const database = stateful.database;
    const inVpc = needsDatabase(definition.access) && database.kind === 'proxy';
    const logGroup = new logs.LogGroup(this, `Logs-${key}`, {
      retention: settings.stage === 'prod' ? logs.RetentionDays.THREE_MONTHS : logs.RetentionDays.TWO_WEEKS,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const fn = new lambdaNodejs.NodejsFunction(this, `Function-${key}`, {
      functionName: physicalName(settings, `ledgerx-${definition.name}`),
      description: describeTrigger(definition),
      entry: writeLambdaEntry(definition),
      handler: 'handler',
      projectRoot,
      depsLockFilePath: path.join(projectRoot, 'package-lock.json'),
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: definition.limits.memoryMiB,
      timeout: Duration.seconds(definition.limits.timeoutS),
      tracing: lambda.Tracing.ACTIVE,
      logGroup,
      bundling: bundlingOptions(definition.bundledAssets),
      environment: {
        ...resources,
        ...databaseEnvironment(stateful, definition),
        ...(definition.kind === 'deploy'
          ? // Migrations may run long; the function's own timeout is the bound.
            { [settingNames.queryTimeoutMs]: String(definition.limits.timeoutS * 1000) }
          : {}),
        POWERTOOLS_SERVICE_NAME: definition.name,
        POWERTOOLS_LOG_LEVEL: settings.stage === 'prod' ? 'INFO' : 'DEBUG',
        POWERTOOLS_METRICS_NAMESPACE: metricsNamespace,
        POWERTOOLS_TRACER_CAPTURE_RESPONSE: 'false',
        NODE_OPTIONS: '--enable-source-maps',
      },
      ...(inVpc && database.kind === 'proxy'
        ? {
            vpc: database.vpc,
            vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
            securityGroups: [database.functionSecurityGroup],
          }
        : {}),
    });
    acknowledge(
      fn,
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      'the AWS managed policy that lets a function write its own logs',
    );
    if (inVpc) {
      acknowledge(
        fn,
        'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
        'the AWS managed policy that lets a function in the VPC manage its network interfaces',
      );
    }
    acknowledge(
      fn,
      'AwsSolutions-IAM5[Resource::*]',
      'X-Ray tracing (PutTraceSegments, PutTelemetryRecords) has no resource-level permissions',
    );
    acknowledge(
      fn,
      'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
      'the CDK grant on the stage key for sending to an encrypted queue or writing an encrypted table; the key is the one resource',
    );
    acknowledge(
      fn,
      'AwsSolutions-IAM5[Action::kms:ReEncrypt*]',
      'the CDK grant on the stage key for an encrypted table; the key is the one resource',
    );
    acknowledge(
      fn,
      'AwsSolutions-L1',
      'Node.js 22 is the runtime LedgerX is built and tested for; moving to 24 is a deliberate upgrade',
    );
    return fn;
  }

  private connectTrigger(
    definition: FunctionDefinition,
    fn: lambdaNodejs.NodejsFunction,
    settings: DeploymentSettings,
    stateful: StatefulStack,
    alarmAction: cloudwatch.IAlarmAction,
  ): void {
    const key = constructKey(definition);
    const trigger = definition;
    switch (trigger.kind) {
      case 'http': {
        const resource = this.api.root.resourceForPath(trigger.path);
        resource.addMethod(httpMethod(trigger.method), new apigateway.LambdaIntegration(fn), {
          apiKeyRequired: trigger.apiKeyRequired,
          requestValidator: this.requestValidator(),
        });
        return;
      }
      case 'sqs': {
        const queue = stateful.queues[trigger.queue];
        fn.addEventSource(
          new lambdaEventSources.SqsEventSource(queue, {
            batchSize: trigger.batchSizeMax,
            maxConcurrency: trigger.concurrencyMax,
            reportBatchItemFailures: true,
          }),
        );
        this.alarmOnErrors(key, fn, settings, alarmAction);
        new cloudwatch.Alarm(this, `OldestMessageAlarm-${key}`, {
          alarmName: physicalName(settings, `ledgerx-${trigger.queue}-behind`),
          alarmDescription: `The oldest message in ${topology.queues[trigger.queue].name} waited over ${oldestMessageAgeSMax} s: ${definition.name} is falling behind or failing.`,
          metric: queue.metricApproximateAgeOfOldestMessage({
            period: Duration.minutes(1),
            statistic: cloudwatch.Stats.MAXIMUM,
          }),
          threshold: oldestMessageAgeSMax,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: 5,
          datapointsToAlarm: 3,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }).addAlarmAction(alarmAction);
        return;
      }
      case 'schedule': {
        if (trigger.rateS < 60 || trigger.rateS % 60 !== 0) {
          throw new Error(
            `${definition.name}: a schedule runs every whole number of minutes, not ${trigger.rateS} s`,
          );
        }
        new scheduler.Schedule(this, `Schedule-${key}`, {
          scheduleName: physicalName(settings, `ledgerx-${definition.name}`),
          description: `Runs ${definition.name} every ${trigger.rateS} s`,
          schedule: scheduler.ScheduleExpression.rate(Duration.minutes(trigger.rateS / 60)),
          // A missed run is not retried: the next one, a period later, does the same work.
          target: new schedulerTargets.LambdaInvoke(fn, {
            retryAttempts: 0,
            maxEventAge: Duration.minutes(1),
          }),
        });
        acknowledge(
          this,
          `AwsSolutions-IAM5[Resource::<${this.getLogicalId(fn.node.defaultChild as lambda.CfnFunction)}.Arn>:*]`,
          'the scheduler role may invoke any version of the scheduled function (and only that function)',
        );
        this.alarmOnErrors(key, fn, settings, alarmAction);
        return;
      }
      case 'deploy': {
        const provider = new customResources.Provider(this, `DeployProvider-${key}`, {
          onEventHandler: fn,
          logGroup: new logs.LogGroup(this, `DeployProviderLogs-${key}`, {
            retention: logs.RetentionDays.ONE_MONTH,
            removalPolicy: RemovalPolicy.DESTROY,
          }),
        });
        new CustomResource(this, `Deploy-${key}`, {
          serviceToken: provider.serviceToken,
          resourceType: 'Custom::LedgerXDeployStep',
          // A change to the shipped directories (a new migration) changes this, so the step runs.
          properties: {
            function: definition.name,
            assetsFingerprint: assetsFingerprint(assetDirectories(definition.bundledAssets)),
          },
        });
        acknowledge(
          provider,
          'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
          'the CDK provider framework function writes its own logs with the AWS managed policy',
        );
        acknowledge(
          provider,
          `AwsSolutions-IAM5[Resource::<${this.getLogicalId(fn.node.defaultChild as lambda.CfnFunction)}.Arn>:*]`,
          'the provider framework may invoke any version of the deploy-step function (and only that function)',
        );
        acknowledge(
          provider,
          'AwsSolutions-L1',
          'the CDK provider framework picks its own runtime; it only forwards CloudFormation events to our function',
        );
        return;
      }
      default:
        unhandledTrigger(trigger);
    }
  }

  private validator: apigateway.RequestValidator | undefined;

  /** One validator for every method: required parameters are checked before a Lambda is invoked. */
  private requestValidator(): apigateway.RequestValidator {
    this.validator ??= this.api.addRequestValidator('RequestValidator', {
      requestValidatorName: 'ledgerx',
      validateRequestParameters: true,
      // Without a model nothing is checked of the body here; the handlers validate it with zod
      // and bound it at 256 KiB (shared/handlers/handler.ts), answering problem+json.
      validateRequestBody: true,
    });
    return this.validator;
  }

  private alarmOnErrors(
    key: string,
    fn: lambda.IFunction,
    settings: DeploymentSettings,
    alarmAction: cloudwatch.IAlarmAction,
  ): void {
    new cloudwatch.Alarm(this, `ErrorAlarm-${key}`, {
      alarmName: physicalName(settings, `ledgerx-${key}-errors`),
      alarmDescription: `${key} failed invocations (not partial batch failures, which are answers).`,
      metric: fn.metricErrors({ period: Duration.minutes(5), statistic: cloudwatch.Stats.SUM }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }).addAlarmAction(alarmAction);
  }
}

/**
 * How a function reaches Postgres: the proxy and its login's secret ARN, or a URL (LocalStack).
 * Every function connects as the functions' login but the migration function, which connects as
 * the tables' owner and makes that login from its secret (or, on LocalStack, its URL).
 */
function databaseEnvironment(
  stateful: StatefulStack,
  definition: FunctionDefinition,
): Record<string, string> {
  const database = stateful.database;
  const admin = definition.access.some((access) => access.kind === 'database-admin');
  if (database.kind === 'url') {
    return admin
      ? { [settingNames.databaseUrl]: database.adminUrl, [settingNames.appUrl]: database.functionsUrl }
      : { [settingNames.databaseUrl]: database.functionsUrl };
  }
  // Every function gets where the database is, which is no secret; only those with `database`
  // access may read the secret and reach the proxy, and only they ever open a pool.
  const login = admin ? database.admin : database.functions;
  return {
    ...proxyEnvironment({
      host: database.proxy.endpoint,
      port: database.port,
      name: database.databaseName,
      user: login.user,
      secretArn: login.secret.secretArn,
    }),
    ...(admin ? { [settingNames.appSecretArn]: database.functions.secret.secretArn } : {}),
  };
}

function httpMethod(method: HttpMethod): string {
  return method;
}

/** The construct id of a function: its name in camel case (`submit-transfer` → `submitTransfer`). */
function constructKey(definition: FunctionDefinition): string {
  return definition.name.replace(/-([a-z0-9])/g, (_, letter: string) => letter.toUpperCase());
}

function describeTrigger(trigger: FunctionDefinition): string {
  switch (trigger.kind) {
    case 'http':
      return `LedgerX ${trigger.method} ${trigger.path}`;
    case 'sqs':
      return `LedgerX consumer of ${topology.queues[trigger.queue].name}`;
    case 'schedule':
      return `LedgerX, every ${trigger.rateS} s`;
    case 'deploy':
      return 'LedgerX, on every deploy';
    default:
      return unhandledTrigger(trigger);
  }
}

/** Compiles only when every kind of function above is handled. */
function unhandledTrigger(trigger: never): never {
  throw new Error(`trigger ${JSON.stringify(trigger)} is not handled by the stack`);
}
