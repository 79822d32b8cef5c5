import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { functionDefinitions } from '../../functions/index';
import migrateDatabase from '../../functions/migrate-database';
import openapi from '../../functions/openapi';
import submitTransfer from '../../functions/submit-transfer';
import transferConsumer from '../../functions/transfer-consumer';
import {
  clientThrottle,
  invariantCheckerSilenceMinutesMax,
  metricsNamespace,
  oldestMessageAgeSMax,
} from '../../infra/cdk/stateless-stack';
import { invariantMetricNames } from '../../shared/adapters/aws/invariant-metrics';
import type { FunctionDefinition } from '../../shared/definitions';
import { proxyEnvironment, resourceEnvironment } from '../../shared/settings';
import {
  actionsOf,
  functionStatements,
  importedIds,
  lambdaOf,
  logicalId,
  type SynthesizedApp,
  synthesize,
} from './cdk-app';

const dev = () => synthesize();
function functionProperties(app: SynthesizedApp, definition: FunctionDefinition): Record<string, unknown> {
  const id = logicalId(app.stateless, lambdaOf(app, definition));
  const resource = app.statelessTemplate.toJSON().Resources[id];
  if (resource === undefined) throw new Error(`test: no function ${definition.name}`);
  return resource.Properties;
}

/** Whether a statement names the stateful resource (imported by the logical id in its export). */
function names(
  app: SynthesizedApp,
  resource: { node: { defaultChild?: unknown } },
): (ids: string[]) => boolean {
  const id = logicalId(app.stateful, resource);
  return (ids) => ids.some((imported) => imported.includes(id));
}

describe('stateless stack: functions', () => {
  it('makes one Lambda per function definition, and no other but the provider framework', () => {
    const app = dev();
    for (const definition of functionDefinitions) {
      app.statelessTemplate.hasResourceProperties('AWS::Lambda::Function', {
        FunctionName: `dev-ledgerx-${definition.name}`,
      });
    }
    const ours = Object.values(app.statelessTemplate.findResources('AWS::Lambda::Function')).filter(
      (fn) => typeof fn.Properties.FunctionName === 'string',
    );
    expect(ours).toHaveLength(functionDefinitions.length);
  });

  it('runs every function on Node.js 22, arm64, traced, with Powertools settings and its own limits', () => {
    const app = dev();
    for (const definition of functionDefinitions) {
      expect(functionProperties(app, definition)).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        MemorySize: definition.limits.memoryMiB,
        Timeout: definition.limits.timeoutS,
        TracingConfig: { Mode: 'Active' },
        Environment: {
          Variables: expect.objectContaining({
            POWERTOOLS_SERVICE_NAME: definition.name,
            POWERTOOLS_LOG_LEVEL: 'DEBUG',
            POWERTOOLS_METRICS_NAMESPACE: metricsNamespace,
          }),
        },
      });
    }
  });

  it('gives every function the resource settings shared/settings.ts reads, and the proxy with its secret', () => {
    const app = dev();
    // Every name the settings read the resources and the proxy under, whatever the topology grows.
    const anything = new Proxy({}, { get: () => '' });
    const names = [
      ...Object.keys(
        resourceEnvironment({ queueUrls: anything, tableNames: anything, eventBusName: '' } as never),
      ),
      ...Object.keys(proxyEnvironment({ host: '', port: 1, name: '', user: '', secretArn: '' })),
    ];
    expect(names).toContain('LEDGER_QUEUE_TRANSFERS_URL');
    expect(names).toContain('LEDGER_DB_SECRET_ARN');
    for (const definition of functionDefinitions) {
      const variables = (
        functionProperties(app, definition).Environment as { Variables: Record<string, unknown> }
      ).Variables;
      for (const name of names) expect(variables, `${definition.name} ${name}`).toHaveProperty(name);
      expect(variables).not.toHaveProperty('DATABASE_URL');
    }
  });

  it('puts the functions with database access in the VPC, and only those', () => {
    const app = dev();
    for (const definition of functionDefinitions) {
      const inVpc = functionProperties(app, definition).VpcConfig !== undefined;
      expect(inVpc, definition.name).toBe(
        definition.access.some((access) => access.kind === 'database' || access.kind === 'database-admin'),
      );
    }
  });

  it("connects every function as the functions' login, and only the migration function as the owner", () => {
    const app = dev();
    const database = app.stateful.database;
    if (database.kind !== 'proxy') throw new Error('test: the aws flavour has a proxy');
    const adminSecretId = logicalId(app.stateful, database.admin.secret);
    for (const definition of functionDefinitions) {
      const variables = (
        functionProperties(app, definition).Environment as { Variables: Record<string, unknown> }
      ).Variables;
      const secretArn = JSON.stringify(variables.LEDGER_DB_SECRET_ARN);
      if (definition === migrateDatabase) {
        expect(variables.LEDGER_DB_USER).toBe('ledgerx_admin');
        expect(secretArn).toContain(adminSecretId);
        expect(variables).toHaveProperty('LEDGER_DB_APP_SECRET_ARN');
        expect(JSON.stringify(variables.LEDGER_DB_APP_SECRET_ARN)).not.toContain(adminSecretId);
      } else {
        expect(variables.LEDGER_DB_USER, definition.name).toBe('ledgerx_app_user');
        expect(secretArn, definition.name).not.toContain(adminSecretId);
        expect(variables, definition.name).not.toHaveProperty('LEDGER_DB_APP_SECRET_ARN');
      }
    }
  });
});

describe('stateless stack: least privilege', () => {
  it('lets submitTransfer send to the transfer queue and update its two tables, and nothing of the database', () => {
    const app = dev();
    const statements = functionStatements(app, submitTransfer);
    const sends = statements.filter((statement) => actionsOf(statement).includes('sqs:SendMessage'));
    expect(sends).toHaveLength(1);
    expect(names(app, app.stateful.queues.transfers)(importedIds(sends[0] as never))).toBe(true);
    const tableIds = statements
      .filter((statement) => actionsOf(statement).includes('dynamodb:UpdateItem'))
      .flatMap(importedIds);
    expect(names(app, app.stateful.tables.idempotency)(tableIds)).toBe(true);
    expect(names(app, app.stateful.tables.velocity)(tableIds)).toBe(true);
    const actions = statements.flatMap(actionsOf);
    expect(actions.filter((action) => action.startsWith('secretsmanager:'))).toEqual([]);
    expect(actions.filter((action) => action.startsWith('events:'))).toEqual([]);
    expect(actions.filter((action) => action.startsWith('sqs:Receive'))).toEqual([]);
  });

  it('lets the transfer consumer read the secret, put events on the bus, consume its queue and note dead letters on the idempotency table, and nothing else', () => {
    const app = dev();
    const statements = functionStatements(app, transferConsumer);
    const actions = statements.flatMap(actionsOf);
    expect(actions).toContain('secretsmanager:GetSecretValue');
    expect(actions).toContain('events:PutEvents');
    expect(actions).toContain('sqs:ReceiveMessage');
    // Postponing a failed message's next delivery.
    expect(actions).toContain('sqs:ChangeMessageVisibility');
    expect(actions).not.toContain('sqs:SendMessage');
    const tables = statements.filter((statement) => actionsOf(statement).includes('dynamodb:UpdateItem'));
    expect(tables.flatMap(importedIds).every((id) => names(app, app.stateful.tables.idempotency)([id]))).toBe(
      true,
    );
    expect(names(app, app.stateful.tables.velocity)(tables.flatMap(importedIds))).toBe(false);
    const receive = statements.filter((statement) => actionsOf(statement).includes('sqs:ReceiveMessage'));
    expect(
      receive.every((statement) => names(app, app.stateful.queues.transfers)(importedIds(statement))),
    ).toBe(true);
    const put = statements.filter((statement) => actionsOf(statement).includes('events:PutEvents'));
    expect(put.every((statement) => names(app, app.stateful.bus)(importedIds(statement)))).toBe(true);
  });

  it("lets only the migration function read the owner's secret; every function with database access reads the login's", () => {
    const app = dev();
    const database = app.stateful.database;
    if (database.kind !== 'proxy') throw new Error('test: the aws flavour has a proxy');
    const readsSecret = (definition: FunctionDefinition, secret: { node: { defaultChild?: unknown } }) =>
      functionStatements(app, definition)
        .filter((statement) => actionsOf(statement).includes('secretsmanager:GetSecretValue'))
        .some((statement) => names(app, secret)(importedIds(statement)));
    const functionsSecret = database.functions.secret;
    const readers = functionDefinitions.filter((definition) =>
      readsSecret(definition, database.admin.secret),
    );
    expect(readers.map((definition) => definition.name)).toEqual([migrateDatabase.name]);
    for (const definition of functionDefinitions) {
      const withDatabase = definition.access.some(
        (access) => access.kind === 'database' || access.kind === 'database-admin',
      );
      expect(readsSecret(definition, functionsSecret), definition.name).toBe(withDatabase);
    }
  });

  it('gives a function without access (openapi) no grants beyond tracing', () => {
    const actions = functionStatements(dev(), openapi).flatMap(actionsOf);
    expect(actions.sort()).toEqual(['xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
  });
});

describe('stateless stack: triggers', () => {
  it('maps each SQS-triggered function to its queue with partial batch failures, its batch size and concurrency', () => {
    const app = dev();
    let count = 0;
    for (const definition of functionDefinitions) {
      if (definition.kind !== 'sqs') continue;
      count += 1;
      app.statelessTemplate.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        FunctionName: { Ref: logicalId(app.stateless, lambdaOf(app, definition)) },
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        BatchSize: definition.batchSizeMax,
        ScalingConfig: { MaximumConcurrency: definition.concurrencyMax },
      });
    }
    app.statelessTemplate.resourceCountIs('AWS::Lambda::EventSourceMapping', count);
    expect(count).toBeGreaterThanOrEqual(2);
  });

  it('runs the scheduled functions on EventBridge Scheduler at their rate', () => {
    const app = dev();
    for (const definition of functionDefinitions) {
      if (definition.kind !== 'schedule') continue;
      app.statelessTemplate.hasResourceProperties('AWS::Scheduler::Schedule', {
        ScheduleExpression: `rate(${definition.rateS / 60} minute${definition.rateS === 60 ? '' : 's'})`,
        Target: Match.objectLike({
          Arn: { 'Fn::GetAtt': [logicalId(app.stateless, lambdaOf(app, definition)), 'Arn'] },
        }),
      });
    }
  });

  it('runs the migrations as a custom resource on deploy, changing when migrations/ changes', () => {
    const app = dev();
    app.statelessTemplate.hasResourceProperties('Custom::LedgerXDeployStep', {
      function: 'migrate-database',
      assetsFingerprint: Match.stringLikeRegexp('^[0-9a-f]{64}$'),
    });
    expect(migrateDatabase.bundledAssets).toEqual(['migrations']);
  });
});

describe('stateless stack: API', () => {
  it('routes every HTTP function, requiring the API key where its definition says', () => {
    const app = dev();
    const methods = Object.values(app.statelessTemplate.findResources('AWS::ApiGateway::Method'));
    for (const route of functionDefinitions) {
      if (route.kind !== 'http') continue;
      const fnId = logicalId(app.stateless, lambdaOf(app, route));
      const method = methods.find(
        (candidate) =>
          candidate.Properties.HttpMethod === route.method &&
          JSON.stringify(candidate.Properties.Integration).includes(fnId),
      );
      expect(method, `${route.method} ${route.path}`).toBeDefined();
      expect(method?.Properties.ApiKeyRequired).toBe(route.apiKeyRequired);
      expect(method?.Properties.RequestValidatorId).toBeDefined();
    }
  });

  it('issues an API key in a usage plan that throttles each client', () => {
    const app = dev();
    app.statelessTemplate.resourceCountIs('AWS::ApiGateway::ApiKey', 1);
    app.statelessTemplate.hasResourceProperties('AWS::ApiGateway::UsagePlan', {
      Throttle: { RateLimit: clientThrottle.dev.rateLimit, BurstLimit: clientThrottle.dev.burstLimit },
    });
    app.statelessTemplate.resourceCountIs('AWS::ApiGateway::UsagePlanKey', 1);
    const outputs = app.statelessTemplate.toJSON().Outputs as Record<string, unknown>;
    expect(Object.keys(outputs)).toEqual(expect.arrayContaining(['ApiUrl', 'ApiKeyId', 'UsagePlanId']));
  });

  it('writes access logs, traces and error logs of the stage', () => {
    dev().statelessTemplate.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'dev',
      AccessLogSetting: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('requestId') },
      TracingEnabled: true,
      MethodSettings: [Match.objectLike({ LoggingLevel: 'ERROR', MetricsEnabled: true })],
    });
  });
});

describe('stateless stack: alarms', () => {
  it('alarms on errors of each queue consumer and the age of the oldest message in its queue', () => {
    const app = dev();
    for (const definition of functionDefinitions) {
      if (definition.kind !== 'sqs') continue;
      app.statelessTemplate.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'Errors',
        Namespace: 'AWS/Lambda',
        Dimensions: [
          { Name: 'FunctionName', Value: { Ref: logicalId(app.stateless, lambdaOf(app, definition)) } },
        ],
      });
      app.statelessTemplate.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: `dev-ledgerx-${definition.queue}-behind`,
        MetricName: 'ApproximateAgeOfOldestMessage',
        Threshold: oldestMessageAgeSMax,
      });
    }
  });

  it('alarms, to the alarm topic, when an invariant violation is on record and when the checker falls silent', () => {
    const app = dev();
    const alarmTopic = logicalId(app.stateful, app.stateful.alarmTopic);
    const dimensions = [{ Name: 'service', Value: 'invariant-checker' }];

    app.statelessTemplate.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'dev-ledgerx-invariant-violated',
      Namespace: metricsNamespace,
      MetricName: invariantMetricNames.recordedViolations,
      Dimensions: dimensions,
      Statistic: 'Maximum',
      Period: 300,
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0,
      TreatMissingData: 'notBreaching',
      AlarmActions: [Match.objectLike({ 'Fn::ImportValue': Match.stringLikeRegexp(alarmTopic) })],
    });
    app.statelessTemplate.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'dev-ledgerx-invariant-checker-silent',
      Namespace: metricsNamespace,
      MetricName: invariantMetricNames.recordedViolations,
      Dimensions: dimensions,
      Statistic: 'SampleCount',
      Period: invariantCheckerSilenceMinutesMax * 60,
      ComparisonOperator: 'LessThanThreshold',
      Threshold: 1,
      TreatMissingData: 'breaching',
    });
  });

  it('alarms on API 5xx answers', () => {
    dev().statelessTemplate.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: '5XXError',
      Namespace: 'AWS/ApiGateway',
      Threshold: 0,
    });
  });
});
