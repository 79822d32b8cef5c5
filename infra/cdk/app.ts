/**
 * Builds the CDK app: the stateful and stateless stacks of one stage and flavour, with cdk-nag's
 * AwsSolutions checks registered so that an unacknowledged finding fails synth.
 */
import { App, type AppProps, Tags, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { httpFunctions } from '../../functions/index';
import { writeApiDocument } from './entries';
import { type DeploymentSettings, settingsFromContext, stackName } from './settings';
import { StatefulStack } from './stateful-stack';
import { StatelessStack } from './stateless-stack';

export interface LedgerApp {
  readonly app: App;
  readonly settings: DeploymentSettings;
  readonly stateful: StatefulStack;
  readonly stateless: StatelessStack;
}

export interface LedgerAppOptions {
  readonly appProps?: AppProps;
  /** Register cdk-nag (the CLI app does; unit tests of single properties need not). */
  readonly nag?: boolean;
  readonly env?: NodeJS.ProcessEnv;
}

export function buildApp(options: LedgerAppOptions = {}): LedgerApp {
  // The openapi function ships the document beside its bundle; it must exist before the stack is.
  writeApiDocument(httpFunctions);
  const app = new App(options.appProps);
  const settings = settingsFromContext((key) => app.node.tryGetContext(key), options.env ?? process.env);
  const stateful = new StatefulStack(app, 'Stateful', {
    stackName: stackName(settings, 'Stateful'),
    description: `LedgerX ${settings.stage} (${settings.flavour}): database, queues, tables, event bus`,
    settings,
    terminationProtection: settings.stage === 'prod',
  });
  const stateless = new StatelessStack(app, 'Stateless', {
    stackName: stackName(settings, 'Stateless'),
    description: `LedgerX ${settings.stage} (${settings.flavour}): functions, API, schedules, alarms`,
    settings,
    stateful,
  });
  Tags.of(app).add('application', 'ledgerx');
  Tags.of(app).add('stage', settings.stage);
  if (options.nag ?? true) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, settings, stateful, stateless };
}
