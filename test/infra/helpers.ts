import * as fs from 'node:fs';
import * as path from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import type { CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { PLACEHOLDER_ENTRY_WARNING } from '../../infra/constructs/conveyor-function';
import { createConveyor } from '../../infra/conveyor';
import type { ConveyorOptions, ConveyorStacks } from '../../infra/conveyor';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const CDK_JSON = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')) as {
  app: string;
  notices: boolean;
  'cli-telemetry': boolean;
  context: Record<string, unknown>;
};

export interface Synth {
  stacks: ConveyorStacks;
  data: Template;
  messaging: Template;
  api: Template;
  schedules?: Template;
}

/**
 * Builds the Conveyor app with cdk.json's feature flags, without bundling (fast, and the entry
 * files need not exist) and, unless asked, without the built-in CloudFormation validation (~3 s).
 */
export function synth(options: ConveyorOptions & { validate?: boolean } = {}): Synth {
  const { validate = false, ...conveyor } = options;
  const app = new App({
    context: { ...CDK_JSON.context, 'aws:cdk:bundling-stacks': [] },
    builtinCloudFormationValidation: validate,
  });
  // Without bundling, missing entry files get a placeholder handler on purpose.
  Validations.of(app).acknowledge({ id: PLACEHOLDER_ENTRY_WARNING, reason: 'tests skip bundling' });
  const stacks = createConveyor(app, conveyor);
  return {
    stacks,
    data: Template.fromStack(stacks.data),
    messaging: Template.fromStack(stacks.messaging),
    api: Template.fromStack(stacks.api),
    ...(stacks.schedules ? { schedules: Template.fromStack(stacks.schedules) } : {}),
  };
}

/** The logical id of a construct's CloudFormation resource (its default child, or itself). */
export function logicalId(construct: { node: { defaultChild?: unknown } } | CfnElement): string {
  const element = ('logicalId' in construct ? construct : construct.node.defaultChild) as CfnElement;
  return Stack.of(element).resolve(element.logicalId) as string;
}

export type Resources = Record<string, { Type: string; Properties?: Record<string, any>; DeletionPolicy?: string; UpdateReplacePolicy?: string }>;

export function resources(template: Template, type?: string): Resources {
  const all = template.toJSON().Resources as Resources;
  return Object.fromEntries(Object.entries(all).filter(([, r]) => !type || r.Type === type));
}

export interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
}

/** Every statement of the AWS::IAM::Policy resources attached to a role. */
export function statementsOfRole(template: Template, roleLogicalId: string): Statement[] {
  return Object.values(resources(template, 'AWS::IAM::Policy'))
    .filter((p) => (p.Properties!.Roles as unknown[]).some((r) => JSON.stringify(r) === JSON.stringify({ Ref: roleLogicalId })))
    .flatMap((p) => p.Properties!.PolicyDocument.Statement as Statement[]);
}

export function actions(statements: Statement[]): string[] {
  return statements.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
}
