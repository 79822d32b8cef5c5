/**
 * Builds the CDK app for a test, without bundling (the functions get placeholder code, so a
 * synth takes seconds), without cdk-nag and CloudFormation's schema check (the real `cdk synth`
 * test runs all of them), and caches the templates per context, since synthesizing is the slow
 * part.
 */
import type { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { buildApp, type LedgerApp } from '../../infra/cdk/app';
import type { FunctionDefinition } from '../../shared/definitions';

export interface SynthesizedApp extends LedgerApp {
  readonly statefulTemplate: Template;
  readonly statelessTemplate: Template;
}

const cache = new Map<string, SynthesizedApp>();

export function synthesize(
  context: Record<string, string> = {},
  env: NodeJS.ProcessEnv = {},
): SynthesizedApp {
  const cacheKey = JSON.stringify([context, env]);
  const cached = cache.get(cacheKey);
  if (cached !== undefined) return cached;
  const built = buildApp({
    appProps: {
      // The CloudFormation schema check takes most of a synth; the real `cdk synth` test runs it.
      builtinCloudFormationValidation: false,
      context: {
        ...context,
        'aws:cdk:bundling-stacks': [],
        '@aws-cdk/core:defaultCrossStackReferences': 'strong',
      },
    },
    nag: false,
    env,
  });
  const synthesized = {
    ...built,
    statefulTemplate: Template.fromStack(built.stateful),
    statelessTemplate: Template.fromStack(built.stateless),
  };
  cache.set(cacheKey, synthesized);
  return synthesized;
}

/** The logical id of a construct's CloudFormation resource in its stack. */
export function logicalId(stack: Stack, resource: { node: { defaultChild?: unknown } }): string {
  return stack.getLogicalId(resource.node.defaultChild as CfnFunction);
}

export interface PolicyStatement {
  readonly Action: string | string[];
  readonly Effect: string;
  readonly Resource: unknown;
}

/** Every statement of the policies attached to a function's role. */
/** The Lambda the stack made for a definition. */
export function lambdaOf(app: SynthesizedApp, definition: FunctionDefinition): NodejsFunction {
  const fn = app.stateless.functions.get(definition);
  if (fn === undefined) throw new Error(`test: the stack made no Lambda for ${definition.name}`);
  return fn;
}

export function functionStatements(app: SynthesizedApp, definition: FunctionDefinition): PolicyStatement[] {
  const fn = lambdaOf(app, definition);
  const roleId = app.stateless.getLogicalId(fn.role?.node.defaultChild as CfnFunction);
  const policies = app.statelessTemplate.findResources('AWS::IAM::Policy');
  return Object.values(policies)
    .filter((policy) => (policy.Properties.Roles as { Ref: string }[]).some((role) => role.Ref === roleId))
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement as PolicyStatement[]);
}

export function actionsOf(statement: PolicyStatement): string[] {
  return Array.isArray(statement.Action) ? statement.Action : [statement.Action];
}

/** The stateful resource a statement's resource imports (its logical id is in the export name). */
export function importedIds(statement: PolicyStatement): string[] {
  const resources = Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource];
  return resources.map((resource) => JSON.stringify(resource));
}
