/**
 * cdk-nag's AwsSolutions rule pack over the whole Conveyor app, and every finding Conveyor accepts,
 * each with its reason beside it.
 *
 * cdk-nag 3 acknowledges a finding through CDK's own `Validations.of(construct).acknowledge`
 * (it replaced v2's `NagSuppressions`). Rules with a single finding per resource are acknowledged
 * by their exact id. The wildcard rule (IAM5) names each wildcard action or resource in its finding
 * id, and the resource part is the synthesized cross-stack reference (an export name that embeds a
 * hash), which cannot be known when the app is built; so wildcard findings are acknowledged by
 * pattern (`acknowledgeWildcards`), still per construct and with a reason, and ConveyorNagChecks
 * drops a wildcard finding only when such an evidence matches it. Anything else stays a violation:
 * `cdk synth` fails on it, and so does test/infra/nag.test.ts.
 */
import { Validations } from 'aws-cdk-lib';
import type { CfnResource } from 'aws-cdk-lib';
import { AwsSolutionsChecks, NagRuleCompliance } from 'cdk-nag';
import type { IApplyRule, NagPackProps } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import type { Stack } from 'aws-cdk-lib';
import type { Distribution } from 'aws-cdk-lib/aws-cloudfront';

/** What acknowledgeNagFindings needs of the app (createConveyor's stacks; not imported, to avoid a cycle). */
export interface NaggedStacks {
  data: Stack;
  messaging: Stack;
  api: Stack & { websockets?: { distribution: Distribution } };
  web: Stack & { webUi: { distribution: Distribution } };
  schedules?: Stack;
}

/** The metadata type under which wildcard evidence is stored on a construct. */
export const WILDCARD_EVIDENCE_METADATA = 'conveyor:nag-wildcard-evidence';

interface WildcardEvidence {
  rule: string;
  pattern: string;
  reason: string;
}

/** Accepts the wildcard findings of `rule` on `scope` and below whose finding matches `pattern`. */
export function acknowledgeWildcards(scope: IConstruct, rule: string, pattern: RegExp, reason: string): void {
  const evidence: WildcardEvidence = { rule, pattern: pattern.source, reason };
  scope.node.addMetadata(WILDCARD_EVIDENCE_METADATA, evidence);
}

function evidenceFor(node: IConstruct, rule: string, finding: string): WildcardEvidence | undefined {
  for (let current: IConstruct | undefined = node; current; current = current.node.scope) {
    for (const entry of current.node.metadata) {
      if (entry.type !== WILDCARD_EVIDENCE_METADATA) continue;
      const evidence = entry.data as WildcardEvidence;
      if (evidence.rule === rule && new RegExp(evidence.pattern).test(finding)) return evidence;
    }
  }
  return undefined;
}

/** AwsSolutions, where a granular finding is dropped only when a wildcard evidence covers it. */
export class ConveyorNagChecks extends AwsSolutionsChecks {
  constructor(scope?: IConstruct, props?: NagPackProps) {
    super(scope, props);
  }

  protected override applyRule(params: IApplyRule): void {
    const rule = params.rule;
    const ruleId = `${this.readPackName}-${params.ruleSuffixOverride ?? rule.name}`;
    const withEvidence = (node: CfnResource) => {
      const result = rule(node);
      if (!Array.isArray(result)) return result;
      const left = result.filter((finding) => !evidenceFor(node, ruleId, finding));
      return left.length > 0 ? left : NagRuleCompliance.COMPLIANT;
    };
    Object.defineProperty(withEvidence, 'name', { value: rule.name });
    super.applyRule({ ...params, rule: withEvidence });
  }
}

const IAM5 = 'AwsSolutions-IAM5';
// ARN parts as synthesized without an environment (tokens) or with one (`cdk deploy` with an account and region).
const PARTITION = '(<AWS::Partition>|aws[a-z-]*)';
const REGION = '(<AWS::Region>|[a-z]{2}(-[a-z]+)+-\\d)';
const ACCOUNT = '(<AWS::AccountId>|\\d{12})';

/** Every finding Conveyor accepts, with why. Called by createConveyor, so `cdk synth` and the tests agree. */
export function acknowledgeNagFindings(stacks: NaggedStacks): void {
  const all = [stacks.data, stacks.messaging, stacks.api, stacks.web, ...(stacks.schedules ? [stacks.schedules] : [])];
  for (const stack of all) {
    Validations.of(stack).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason:
        'AWSLambdaBasicExecutionRole only lets a function write its own CloudWatch log streams; a hand-written copy would grant the same.',
    });
  }

  const api = stacks.api;
  Validations.of(api).acknowledge({
    id: 'AwsSolutions-APIG4',
    reason:
      'Authorization is Debusine\'s "Token" header, checked by every function (tokens, scopes, workspace roles; anonymous reads of public workspaces are allowed by design); an API Gateway authorizer would add a second, weaker copy of that check.',
  });
  for (const distribution of [stacks.web.webUi.distribution, ...(stacks.api.websockets ? [stacks.api.websockets.distribution] : [])]) {
    const scope = distribution.node.defaultChild ?? distribution;
    Validations.of(scope).acknowledge({
      id: 'AwsSolutions-CFR1',
      reason: 'Debian contributors and workers are world-wide; there is no country to exclude.',
    });
    Validations.of(scope).acknowledge({
      id: 'AwsSolutions-CFR2',
      reason:
        'Abuse is bounded by API Gateway stage throttling, per-route limits and quotas in the functions; WAF is an operator choice with its own cost (docs/security.md).',
    });
    Validations.of(scope).acknowledge({
      id: 'AwsSolutions-CFR4',
      reason:
        'The distribution uses the default *.cloudfront.net certificate, for which CloudFront fixes the security policy at TLSv1; a custom domain with its own certificate (TLSv1.2_2021) is a deployment option.',
    });
  }

  for (const stack of [stacks.api, stacks.web, ...(stacks.schedules ? [stacks.schedules] : [])]) {
    acknowledgeWildcards(stack, IAM5, /^Action::s3:(Abort|DeleteObject|GetBucket|GetObject|List)\*$/, 'CDK\'s Bucket.grantRead/grantReadWrite/grantDelete action groups (s3:GetObject*, s3:List*, ...), scoped to one bucket.');
    acknowledgeWildcards(stack, IAM5, /"OutputName":"PublishOutputFnGetAttTable\w+Arn\w*"}}\/index\/\*$/, 'Table grants cover the table\'s own secondary indexes (<table arn>/index/*), which queries need.');
    acknowledgeWildcards(stack, IAM5, /"OutputName":"PublishOutputFnGetAttFileStore\w+Arn\w*"}}\/\*$/, 'Objects of the file-store bucket: blob keys are content hashes, not known in advance.');
    acknowledgeWildcards(stack, IAM5, new RegExp(`^Resource::arn:${PARTITION}:sqs:${REGION}:${ACCOUNT}:[a-z0-9_-]+-worker-\\*$`), 'Per-worker queues are created at run time on enable; the grant is limited to this deployment\'s worker-queue name prefix.');
    acknowledgeWildcards(stack, IAM5, new RegExp(`^Resource::arn:${PARTITION}:execute-api:${REGION}:${ACCOUNT}:<DebusineWebSockets\\w+>/ws/(\\*|POST)/@connections/\\*$`), 'WebSocket connection ids are assigned by API Gateway at connect time; the grant is limited to this API\'s stage.');
    acknowledgeWildcards(stack, IAM5, /"OutputName":"PublishOutputFnGetAtt[\w-]+Function[0-9A-F]{8}Arn\w*"}}:\*$/, 'The scheduler role may invoke the function and its versions/aliases (<function arn>:*), as CDK\'s grantInvoke writes it.');
  }

  // The web UI's BucketDeployment: a CDK-provided custom resource that copies the UI's files.
  const deployment = stacks.web.node.findAll().find((c) => c.node.id.startsWith('Custom::CDKBucketDeployment'));
  if (deployment) {
    acknowledgeWildcards(deployment, IAM5, new RegExp(`^Resource::(\\*|<WebUiFiles\\w+\\.Arn>/\\*|arn:${PARTITION}:s3:::cdk-[a-z0-9]+-assets-${ACCOUNT}-${REGION}/\\*)$`), 'CDK\'s BucketDeployment reads the bootstrap asset bucket, writes the UI bucket and invalidates the distribution (CloudFront invalidation has no resource-level permission).');
    Validations.of(deployment).acknowledge({ id: 'AwsSolutions-L1', reason: 'The BucketDeployment function and its runtime are provided and updated by aws-cdk-lib.' });
  }
}
