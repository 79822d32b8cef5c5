/**
 * How one deployment differs from another, read from CDK context (`-c stage=prod`) so that
 * `cdk synth` needs no AWS account: the stacks are environment-agnostic.
 */

import { readDeploySettings } from '../../shared/settings';

export type Stage = 'dev' | 'prod';

/** `aws`: the real thing. `localstack`: no VPC, Aurora or RDS Proxy; Postgres is given by URL. */
export type Flavour = 'aws' | 'localstack';

export interface DeploymentSettings {
  readonly stage: Stage;
  readonly flavour: Flavour;
  /** A reader instance beside the writer (`-c reader=true`), for failover within seconds. */
  readonly reader: boolean;
  /** LocalStack only: the Postgres the functions use. */
  readonly databaseUrl?: string;
  /** Where alarm notifications go, if anywhere (`-c alarmEmail=ops@example.com`). */
  readonly alarmEmail?: string;
}

/** Reads a context value as the CLI passes it (always a string) or as cdk.json does. */
export type ContextReader = (key: string) => unknown;

export function settingsFromContext(
  context: ContextReader,
  env: NodeJS.ProcessEnv = process.env,
): DeploymentSettings {
  const stage = context('stage') ?? 'dev';
  if (stage !== 'dev' && stage !== 'prod') {
    throw new Error(`context stage must be dev or prod, not ${JSON.stringify(stage)}`);
  }
  const flavour = context('flavour') ?? 'aws';
  if (flavour !== 'aws' && flavour !== 'localstack') {
    throw new Error(`context flavour must be aws or localstack, not ${JSON.stringify(flavour)}`);
  }
  const reader = context('reader');
  const alarmEmail = context('alarmEmail');
  const databaseUrl =
    flavour === 'localstack'
      ? (stringOr(context('databaseUrl')) ?? readDeploySettings(env).localStackDatabaseUrl)
      : undefined;
  return {
    stage,
    flavour,
    reader: reader === true || reader === 'true',
    ...(databaseUrl === undefined ? {} : { databaseUrl }),
    ...(typeof alarmEmail === 'string' && alarmEmail !== '' ? { alarmEmail } : {}),
  };
}

function stringOr(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** The stage's prefix on every physical name, so dev and prod can share an account. */
export function physicalName(settings: DeploymentSettings, name: string): string {
  return `${settings.stage}-${name}`;
}

/** Stack names: `LedgerX-dev-Stateful`, `LedgerX-prod-Stateless`, ... */
export function stackName(settings: DeploymentSettings, part: 'Stateful' | 'Stateless'): string {
  return `LedgerX-${settings.stage}-${part}`;
}
