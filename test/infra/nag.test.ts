import 'aws-cdk-lib/testhelpers/jest-autoclean';
import { App, Stack, Validations } from 'aws-cdk-lib';
import type { PolicyViolationBeta1 } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { ConveyorNagChecks } from '../../infra/nag';
import { PLACEHOLDER_ENTRY_WARNING } from '../../infra/constructs/conveyor-function';
import { createConveyor } from '../../infra/conveyor';
import type { ConveyorOptions, ConveyorStacks } from '../../infra/conveyor';
import { CDK_JSON } from './helpers';

/** Builds and synthesizes the whole app (cross-stack references resolved), then runs AwsSolutions over it. */
function nagFindings(change?: (stacks: ConveyorStacks) => void, options: ConveyorOptions = {}): PolicyViolationBeta1[] {
  const app = new App({ context: { ...CDK_JSON.context, 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
  Validations.of(app).acknowledge({ id: PLACEHOLDER_ENTRY_WARNING, reason: 'tests skip bundling' });
  const stacks = createConveyor(app, options);
  change?.(stacks);
  app.synth();
  return new ConveyorNagChecks().validateScope(app).violations as PolicyViolationBeta1[];
}

function describeFindings(violations: PolicyViolationBeta1[]): string[] {
  return violations.flatMap((v) =>
    (v as unknown as { violatingResources: { constructPath: string }[] }).violatingResources.map((r) => `${v.severity} ${v.ruleName} at ${r.constructPath}`),
  );
}

describe('cdk-nag AwsSolutions over the whole app', () => {
  it('has no unacknowledged error or warning', () => {
    expect(describeFindings(nagFindings())).toEqual([]);
  });

  it('has none either as deployed: with an account, a region and an e-mail sender (ARNs resolve to real values)', () => {
    const deployed = { env: { account: '123456789012', region: 'eu-west-1' }, notifyFrom: 'conveyor@example.org' };
    expect(describeFindings(nagFindings(undefined, deployed))).toEqual([]);
  });

  it('fails on a new finding: an unencrypted, unlogged bucket and a new wildcard grant', () => {
    const findings = describeFindings(
      nagFindings((s) => {
        new Bucket(s.data, 'Careless');
        s.api.functions[Object.keys(s.api.functions)[0]!]!.fn.addToRolePolicy(
          new PolicyStatement({ actions: ['dynamodb:*'], resources: [Stack.of(s.api).formatArn({ service: 'dynamodb', resource: 'table', resourceName: '*' })] }),
        );
      }),
    );
    expect(findings).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^error AwsSolutions-S1 at Conveyor-Data\/Careless\//),
        expect.stringMatching(/^error AwsSolutions-S10 at Conveyor-Data\/Careless\//),
        expect.stringMatching(/^error AwsSolutions-IAM5\[Action::dynamodb:\*\] at Conveyor-Api\//),
      ]),
    );
  });
});
