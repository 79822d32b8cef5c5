import { describe, expect, it } from 'vitest';
import { functionDefinitions } from '../../functions/index';
import { readDeploySettings } from '../../shared/settings';
import { topology } from '../../shared/topology';
import { synthesize } from './cdk-app';

const databaseUrl = 'postgres://ledgerx:secret@postgres:5432/ledgerx';

describe('LocalStack flavour', () => {
  it('has no VPC, no Aurora, no RDS Proxy and no endpoints', () => {
    const { statefulTemplate } = synthesize({ flavour: 'localstack', databaseUrl });
    for (const type of [
      'AWS::EC2::VPC',
      'AWS::EC2::VPCEndpoint',
      'AWS::RDS::DBCluster',
      'AWS::RDS::DBInstance',
      'AWS::RDS::DBProxy',
      'AWS::SecretsManager::Secret',
    ]) {
      statefulTemplate.resourceCountIs(type, 0);
    }
  });

  it('keeps the queues, tables and bus of the topology', () => {
    const { statefulTemplate } = synthesize({ flavour: 'localstack', databaseUrl });
    statefulTemplate.resourceCountIs('AWS::SQS::Queue', Object.keys(topology.queues).length);
    statefulTemplate.resourceCountIs('AWS::DynamoDB::Table', Object.keys(topology.tables).length);
    statefulTemplate.resourceCountIs('AWS::Events::EventBus', 1);
  });

  it('points every function at the Postgres given by context, outside any VPC', () => {
    const { statelessTemplate } = synthesize({ flavour: 'localstack', databaseUrl });
    const functions = Object.values(statelessTemplate.findResources('AWS::Lambda::Function')).filter(
      (fn) => typeof fn.Properties.FunctionName === 'string',
    );
    expect(functions).toHaveLength(functionDefinitions.length);
    for (const fn of functions) {
      expect(fn.Properties.VpcConfig).toBeUndefined();
      expect(fn.Properties.Environment.Variables.DATABASE_URL).toBe(databaseUrl);
      expect(fn.Properties.Environment.Variables).not.toHaveProperty('LEDGER_DB_SECRET_ARN');
    }
  });

  it('takes the URL from LEDGER_LOCALSTACK_DATABASE_URL when the context names none, else a default', () => {
    const fromEnv = synthesize({ flavour: 'localstack' }, { LEDGER_LOCALSTACK_DATABASE_URL: databaseUrl });
    const fallback = synthesize({ flavour: 'localstack' });
    expect(fromEnv.stateful.database).toEqual({ kind: 'url', url: databaseUrl });
    expect(fallback.stateful.database).toEqual({
      kind: 'url',
      url: readDeploySettings({}).localStackDatabaseUrl,
    });
  });
});
