import 'aws-cdk-lib/testhelpers/jest-autoclean';
import { Match } from 'aws-cdk-lib/assertions';
import {
  DEBUSINE_RANGE_ORIGIN_ID,
  DEBUSINE_RANGE_PATH_PATTERN,
  DEBUSINE_RANGE_PREFIX,
  RANGE_VIEWER_REQUEST_SOURCE,
  RANGE_VIEWER_RESPONSE_SOURCE,
} from '../../shared/formats/debusine-range-edge';
import { QUEUES } from '../../shared/manifest';
import { logicalId, resources, synth } from './helpers';

const { stacks, api, data } = synth();

describe("Debusine's ranged uploads on AWS (through CloudFront into the bucket)", () => {
  const config = Object.values(resources(api, 'AWS::CloudFront::Distribution'))[0]!.Properties!['DistributionConfig'];
  const functionCodeOf = (arn: unknown) => {
    const id = JSON.stringify(arn).match(/"(\w+)","FunctionARN"/)?.[1];
    return String(resources(api, 'AWS::CloudFront::Function')[id!]!.Properties!['FunctionCode']);
  };

  it('sends the ranged-upload path to the HTTP API with the two range functions; the bucket is an origin with origin access control', () => {
    const behavior = config.CacheBehaviors.find((b: { PathPattern: string }) => b.PathPattern === DEBUSINE_RANGE_PATH_PATTERN);
    expect(behavior).toBeDefined();
    expect(behavior.TargetOriginId).toBe(config.DefaultCacheBehavior.TargetOriginId);
    expect(behavior.AllowedMethods).toEqual(expect.arrayContaining(['PUT', 'GET', 'DELETE']));
    const byEvent = Object.fromEntries(behavior.FunctionAssociations.map((a: { EventType: string; FunctionARN: unknown }) => [a.EventType, functionCodeOf(a.FunctionARN)]));
    expect(byEvent['viewer-request']).toBe(RANGE_VIEWER_REQUEST_SOURCE);
    expect(byEvent['viewer-response']).toBe(RANGE_VIEWER_RESPONSE_SOURCE);
    // The viewer-request function selects the bucket by this id, so the id must be the origin's.
    const bucketOrigin = config.Origins.find((o: { Id: string }) => o.Id === DEBUSINE_RANGE_ORIGIN_ID);
    expect(bucketOrigin.S3OriginConfig).toBeDefined();
    expect(bucketOrigin.OriginAccessControlId).toBeDefined();
    api.hasResourceProperties('AWS::CloudFront::OriginAccessControl', {
      OriginAccessControlConfig: Match.objectLike({ OriginAccessControlOriginType: 's3', SigningBehavior: 'always', SigningProtocol: 'sigv4' }),
    });
    // The bucket's own behaviour refuses everything: staging keys are reached only through the function.
    const own = config.CacheBehaviors.find((b: { PathPattern: string }) => b.PathPattern === `/${DEBUSINE_RANGE_PREFIX}*`);
    expect(own.TargetOriginId).toBe(DEBUSINE_RANGE_ORIGIN_ID);
    expect(functionCodeOf(own.FunctionAssociations[0].FunctionARN)).toContain('statusCode: 404');
  });

  it('lets CloudFront of this account put objects under the ranges prefix only', () => {
    data.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: Match.objectLike({
        Statement: Match.arrayWith([
          Match.objectLike({
            Sid: 'DebusineRangesFromCloudFront',
            Principal: { Service: 'cloudfront.amazonaws.com' },
            Action: 's3:PutObject',
            Resource: { 'Fn::Join': ['', [Match.anyValue(), `/${DEBUSINE_RANGE_PREFIX}*`]] },
            Condition: Match.objectLike({ StringEquals: { 'AWS:SourceAccount': Match.anyValue() } }),
          }),
        ]),
      }),
    });
  });

  it("notifies the debusine-ranges queue of every object created under the prefix, and debusine-range-recorder consumes it", () => {
    const [notifications] = Object.values(resources(api, 'Custom::S3BucketNotifications'));
    const queueConfigs = notifications!.Properties!['NotificationConfiguration']['QueueConfigurations'];
    expect(queueConfigs).toEqual([
      expect.objectContaining({ Events: ['s3:ObjectCreated:*'], Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: DEBUSINE_RANGE_PREFIX }] } } }),
    ]);
    expect(JSON.stringify(queueConfigs[0].QueueArn)).toContain(logicalId(stacks.messaging.queues['debusine-ranges']!.queue));
    const recorder = logicalId(stacks.api.functions['debusine-range-recorder']!.fn);
    const mappings = Object.values(resources(api, 'AWS::Lambda::EventSourceMapping')).filter((m) => JSON.stringify(m.Properties!['FunctionName']).includes(recorder));
    expect(mappings).toHaveLength(1);
    expect(JSON.stringify(mappings[0]!.Properties!['EventSourceArn'])).toContain(logicalId(stacks.messaging.queues['debusine-ranges']!.queue));
    expect(QUEUES['debusine-ranges'].fifo).toBe(false);
  });
});
