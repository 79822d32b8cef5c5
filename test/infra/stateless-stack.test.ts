import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { clientThrottle, metricsNamespace, oldestMessageAgeSMax } from '../../infra/cdk/stateless-stack';
import { type FunctionKey, type FunctionSpec, topology } from '../../infra/topology';
import { type Resources, resourcesToEnv } from '../../shared/config';
import {
  actionsOf,
  functionStatements,
  importedIds,
  logicalId,
  type SynthesizedApp,
  synthesize,
} from './cdk-app';

const dev = () => synthesize();
const functionEntries = Object.entries(topology.functions) as [FunctionKey, FunctionSpec][];

function functionProperties(app: SynthesizedApp, key: FunctionKey): Record<string, unknown> {
  const id = logicalId(app.stateless, app.stateless.functions[key]);
  const resource = app.statelessTemplate.toJSON().Resources[id];
  if (resource === undefined) throw new Error(`test: no function ${key}`);
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
  it('makes one Lambda per function of the topology, and no other but the provider framework', () => {
    const app = dev();
    for (const [, spec] of functionEntries) {
      app.statelessTemplate.hasResourceProperties('AWS::Lambda::Function', {
        FunctionName: `dev-ledgerx-${spec.entry}`,
      });
    }
    const ours = Object.values(app.statelessTemplate.findResources('AWS::Lambda::Function')).filter(
      (fn) => typeof fn.Properties.FunctionName === 'string',
    );
    expect(ours).toHaveLength(functionEntries.length);
  });

  it('runs every function on Node.js 22, arm64, traced, with Powertools settings and the topology size', () => {
    const app = dev();
    for (const [key, spec] of functionEntries) {
      expect(functionProperties(app, key)).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        MemorySize: spec.memoryMiB,
        Timeout: spec.timeoutS,
        TracingConfig: { Mode: 'Active' },
        Environment: {
          Variables: expect.objectContaining({
            POWERTOOLS_SERVICE_NAME: spec.entry,
            POWERTOOLS_LOG_LEVEL: 'DEBUG',
            POWERTOOLS_METRICS_NAMESPACE: metricsNamespace,
          }),
        },
      });
    }
  });

  it('gives every function the resource variables shared/config.ts reads, and the proxy with its secret', () => {
    const app = dev();
    // Every name resourcesToEnv writes, whatever fields Resources grows.
    const names = Object.keys(resourcesToEnv(new Proxy({}, { get: () => '' }) as Resources));
    for (const [key] of functionEntries) {
      const variables = (functionProperties(app, key).Environment as { Variables: Record<string, unknown> })
        .Variables;
      for (const name of [
        ...names,
        'LEDGER_DATABASE_HOST',
        'LEDGER_DATABASE_PORT',
        'LEDGER_DATABASE_NAME',
        'LEDGER_DATABASE_USER',
        'LEDGER_DATABASE_SECRET_ARN',
      ]) {
        expect(variables, `${key} ${name}`).toHaveProperty(name);
      }
      expect(variables).not.toHaveProperty('DATABASE_URL');
    }
  });

  it('puts the functions with database access in the VPC, and only those', () => {
    const app = dev();
    for (const [key, spec] of functionEntries) {
      const inVpc = functionProperties(app, key).VpcConfig !== undefined;
      expect(inVpc, key).toBe(spec.access.some((access) => access.kind === 'database'));
    }
  });
});

describe('stateless stack: least privilege', () => {
  it('lets submitTransfer send to the transfer queue and update its two tables, and nothing of the database', () => {
    const app = dev();
    const statements = functionStatements(app, 'submitTransfer');
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

  it('lets the transfer consumer read the secret, put events on the bus and consume its queue, and nothing else', () => {
    const app = dev();
    const statements = functionStatements(app, 'transferConsumer');
    const actions = statements.flatMap(actionsOf);
    expect(actions).toContain('secretsmanager:GetSecretValue');
    expect(actions).toContain('events:PutEvents');
    expect(actions).toContain('sqs:ReceiveMessage');
    expect(actions).not.toContain('sqs:SendMessage');
    expect(actions.filter((action) => action.startsWith('dynamodb:'))).toEqual([]);
    const receive = statements.filter((statement) => actionsOf(statement).includes('sqs:ReceiveMessage'));
    expect(
      receive.every((statement) => names(app, app.stateful.queues.transfers)(importedIds(statement))),
    ).toBe(true);
    const put = statements.filter((statement) => actionsOf(statement).includes('events:PutEvents'));
    expect(put.every((statement) => names(app, app.stateful.bus)(importedIds(statement)))).toBe(true);
  });

  it('gives a function without access (openapi) no grants beyond tracing', () => {
    const actions = functionStatements(dev(), 'openapi').flatMap(actionsOf);
    expect(actions.sort()).toEqual(['xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
  });
});

describe('stateless stack: triggers', () => {
  it('maps each SQS-triggered function to its queue with partial batch failures, its batch size and concurrency', () => {
    const app = dev();
    let count = 0;
    for (const [key, spec] of functionEntries) {
      if (spec.trigger.kind !== 'sqs') continue;
      count += 1;
      app.statelessTemplate.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        FunctionName: { Ref: logicalId(app.stateless, app.stateless.functions[key]) },
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        BatchSize: spec.trigger.batchSizeMax,
        ScalingConfig: { MaximumConcurrency: spec.trigger.concurrencyMax },
      });
    }
    app.statelessTemplate.resourceCountIs('AWS::Lambda::EventSourceMapping', count);
    expect(count).toBeGreaterThanOrEqual(2);
  });

  it('runs the scheduled functions on EventBridge Scheduler at their rate', () => {
    const app = dev();
    for (const [key, spec] of functionEntries) {
      if (spec.trigger.kind !== 'schedule') continue;
      app.statelessTemplate.hasResourceProperties('AWS::Scheduler::Schedule', {
        ScheduleExpression: `rate(${spec.trigger.rateS / 60} minute${spec.trigger.rateS === 60 ? '' : 's'})`,
        Target: Match.objectLike({
          Arn: { 'Fn::GetAtt': [logicalId(app.stateless, app.stateless.functions[key]), 'Arn'] },
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
    expect(topology.functions.migrateDatabase.bundledAssets).toEqual(['migrations']);
  });
});

describe('stateless stack: API', () => {
  it('routes every HTTP function, requiring the API key where the topology says', () => {
    const app = dev();
    const methods = Object.values(app.statelessTemplate.findResources('AWS::ApiGateway::Method'));
    for (const [key, spec] of functionEntries) {
      if (spec.trigger.kind !== 'http') continue;
      const route = spec.trigger.route;
      const fnId = logicalId(app.stateless, app.stateless.functions[key]);
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
    for (const [key, spec] of functionEntries) {
      if (spec.trigger.kind !== 'sqs') continue;
      app.statelessTemplate.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'Errors',
        Namespace: 'AWS/Lambda',
        Dimensions: [
          { Name: 'FunctionName', Value: { Ref: logicalId(app.stateless, app.stateless.functions[key]) } },
        ],
      });
      app.statelessTemplate.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: `dev-ledgerx-${spec.trigger.queue}-behind`,
        MetricName: 'ApproximateAgeOfOldestMessage',
        Threshold: oldestMessageAgeSMax,
      });
    }
  });

  it('alarms on API 5xx answers', () => {
    dev().statelessTemplate.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: '5XXError',
      Namespace: 'AWS/ApiGateway',
      Threshold: 0,
    });
  });
});
