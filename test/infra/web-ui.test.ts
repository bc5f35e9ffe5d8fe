import 'aws-cdk-lib/testhelpers/jest-autoclean';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { API_PATH_PATTERN } from '../../infra/constructs/web-ui-distribution';
import { logicalId, resources, synth } from './helpers';

const { stacks } = synth();
const web = Template.fromStack(stacks.web);

describe('web UI: S3 behind CloudFront, the HTTP API on the same host', () => {
  it('serves the UI from a private bucket through origin access control, index.html at /', () => {
    web.hasResourceProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
    });
    web.resourceCountIs('AWS::CloudFront::Distribution', 1);
    web.resourceCountIs('AWS::CloudFront::OriginAccessControl', 1);
    web.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({
        DefaultRootObject: 'index.html',
        DefaultCacheBehavior: Match.objectLike({ ViewerProtocolPolicy: 'redirect-to-https', AllowedMethods: ['GET', 'HEAD'] }),
      }),
    });
    // Only the distribution may read the bucket.
    const files = logicalId(stacks.web.webUi.bucket);
    const policy = Object.values(resources(web, 'AWS::S3::BucketPolicy')).find((p) => p.Properties!.Bucket.Ref === files)!.Properties!;
    const read = policy.PolicyDocument.Statement.find((s: any) => s.Action === 's3:GetObject');
    expect(read.Principal).toEqual({ Service: 'cloudfront.amazonaws.com' });
  });

  it('forwards /api/* to the HTTP API uncached, with every viewer header (Token, If-None-Match) and all methods', () => {
    const config = Object.values(resources(web, 'AWS::CloudFront::Distribution'))[0]!.Properties!.DistributionConfig;
    const behaviours = config.CacheBehaviors as any[];
    expect(behaviours.map((b) => b.PathPattern)).toEqual([API_PATH_PATTERN]);
    const api = behaviours[0];
    expect(api.AllowedMethods.sort()).toEqual(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT']);
    expect(api.CachePolicyId).toBe('4135ea2d-6df8-44a3-9df3-4b5a84be39ad'); // Managed-CachingDisabled
    expect(api.OriginRequestPolicyId).toBe('b689b0a8-53d0-40ab-baf2-68738e2966ac'); // Managed-AllViewerExceptHostHeader
    const origin = (config.Origins as any[]).find((o) => o.Id === api.TargetOriginId);
    expect(origin.CustomOriginConfig.OriginProtocolPolicy).toBe('https-only');
    // The domain is built from the API's id, imported from the Api stack.
    expect(JSON.stringify(origin.DomainName)).toContain(logicalId(stacks.api.api));
  });

  it('deploys the files of web/ and invalidates the distribution', () => {
    web.hasResourceProperties('Custom::CDKBucketDeployment', { DistributionPaths: ['/*'] });
    web.hasOutput('*', { Description: Match.stringLikeRegexp('web UI') });
  });
});
