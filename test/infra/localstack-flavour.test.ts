import { describe, expect, it } from 'vitest';
import { functionDefinitions } from '../../functions/index';
import migrateDatabase from '../../functions/migrate-database';
import { readDeploySettings } from '../../shared/settings';
import { topology } from '../../shared/topology';
import { synthesize } from './cdk-app';

const databaseUrl = 'postgres://ledgerx:secret@postgres:5432/ledgerx';
/** The same server and database as the local runtime's login (LocalStack is local too). */
const functionsUrl = 'postgres://ledgerx_app_user:ledgerx-local-only@postgres:5432/ledgerx';

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

  it("points every function at the Postgres given by context, outside any VPC, as the functions' login", () => {
    const { statelessTemplate } = synthesize({ flavour: 'localstack', databaseUrl });
    const functions = Object.values(statelessTemplate.findResources('AWS::Lambda::Function')).filter(
      (fn) => typeof fn.Properties.FunctionName === 'string',
    );
    expect(functions).toHaveLength(functionDefinitions.length);
    for (const fn of functions) {
      const variables = fn.Properties.Environment.Variables;
      expect(fn.Properties.VpcConfig).toBeUndefined();
      expect(variables).not.toHaveProperty('LEDGER_DB_SECRET_ARN');
      if (fn.Properties.FunctionName === `dev-ledgerx-${migrateDatabase.name}`) {
        // The owner migrates, and makes the login the URL names.
        expect(variables.DATABASE_URL).toBe(databaseUrl);
        expect(variables.LEDGER_DB_APP_URL).toBe(functionsUrl);
      } else {
        expect(variables.DATABASE_URL).toBe(functionsUrl);
        expect(variables).not.toHaveProperty('LEDGER_DB_APP_URL');
      }
    }
  });

  it('takes the URL from LEDGER_LOCALSTACK_DATABASE_URL when the context names none, else a default', () => {
    const fromEnv = synthesize({ flavour: 'localstack' }, { LEDGER_LOCALSTACK_DATABASE_URL: databaseUrl });
    const fallback = synthesize({ flavour: 'localstack' });
    expect(fromEnv.stateful.database).toEqual({ kind: 'url', adminUrl: databaseUrl, functionsUrl });
    expect(fallback.stateful.database).toMatchObject({
      kind: 'url',
      adminUrl: readDeploySettings({}).localStackDatabaseUrl,
    });
  });
});
