/**
 * cdk-nag's AwsSolutions checks, run at synth as a CDK validation plugin: any finding not
 * acknowledged here, with its reason, fails `cdk synth`.
 */
import { Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * Acknowledges one cdk-nag finding on a construct and everything under it. `id` is the rule, or
 * the rule and the finding (`AwsSolutions-IAM5[Resource::*]`); the reason is kept in the assembly.
 */
export function acknowledge(scope: IConstruct, id: string, reason: string): void {
  Validations.of(scope).acknowledge({ id, reason });
}
