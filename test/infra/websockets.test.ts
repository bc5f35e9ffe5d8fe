import 'aws-cdk-lib/testhelpers/jest-autoclean';
import { Match } from 'aws-cdk-lib/assertions';
import { FUNCTIONS, TABLES, WS_MANAGEMENT_ENDPOINT_ENV_VAR } from '../../shared/manifest';
import { WEBSOCKET_PATH_PATTERN, WEBSOCKET_STAGE } from '../../infra/constructs/debusine-websockets';
import { PATH_QUERY_PARAMETER } from '../../shared/formats/debusine-websocket-edge';
import { logicalId, resources, statementsOfRole, actions, synth } from './helpers';

const s = synth();
const { stacks, api, data } = s;
const websockets = stacks.api.websockets!;

describe("Debusine's WebSocket API", () => {
  it('is a WebSocket API with $connect, $disconnect and $default routed to the websocket function, on a stage', () => {
    api.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'WEBSOCKET' });
    const routes = Object.values(resources(api, 'AWS::ApiGatewayV2::Route'))
      .filter((r) => String(r.Properties?.['ApiId']?.Ref ?? '') === logicalId(websockets.api))
      .map((r) => r.Properties?.['RouteKey']);
    expect(routes.sort()).toEqual(['$connect', '$default', '$disconnect']);
    api.hasResourceProperties('AWS::ApiGatewayV2::Stage', { StageName: WEBSOCKET_STAGE, AutoDeploy: true });
    const integrations = Object.values(resources(api, 'AWS::ApiGatewayV2::Integration')).filter(
      (r) => String(r.Properties?.['ApiId']?.Ref ?? '') === logicalId(websockets.api),
    );
    expect(integrations.length).toBeGreaterThan(0);
    const socketFn = logicalId(stacks.api.functions['websocket-api']!.fn);
    for (const i of integrations) expect(JSON.stringify(i.Properties?.['IntegrationUri'])).toContain(socketFn);
  });

  it('keeps connections in their own DynamoDB table with the index and TTL of the manifest', () => {
    data.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: TABLES.connections.partitionKey, KeyType: 'HASH' },
        { AttributeName: TABLES.connections.sortKey, KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: [Match.objectLike({ IndexName: 'gsi1' })],
      TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
    });
  });

  it('lets every function that talks to sockets post to them (ManageConnections) and tells it where', () => {
    const talking = FUNCTIONS.filter((f) => f.uses.sockets);
    expect(talking.map((f) => f.name)).toEqual(expect.arrayContaining(['scheduler', 'work-requests-api', 'watchdog', 'websocket-api', 'socket-greeter']));
    for (const spec of talking) {
      const fn = stacks.api.functions[spec.name]!.fn;
      const props = resources(api, 'AWS::Lambda::Function')[logicalId(fn)]!.Properties!;
      expect(Object.keys(props['Environment']['Variables'])).toEqual(expect.arrayContaining([WS_MANAGEMENT_ENDPOINT_ENV_VAR, TABLES.connections.envVar]));
      expect(actions(statementsOfRole(api, logicalId(fn.role as never)))).toContain('execute-api:ManageConnections');
    }
    // A function that does not talk to sockets gets neither.
    const artifacts = resources(api, 'AWS::Lambda::Function')[logicalId(stacks.api.functions['artifacts-api']!.fn)]!.Properties!;
    expect(Object.keys(artifacts['Environment']['Variables'])).not.toContain(WS_MANAGEMENT_ENDPOINT_ENV_VAR);
  });

  it('puts both APIs behind one CloudFront host: /api/ws/* to the WebSocket stage, the rest to the HTTP API, Token forwarded, nothing cached', () => {
    const [dist] = Object.values(resources(api, 'AWS::CloudFront::Distribution'));
    const config = dist!.Properties!['DistributionConfig'];
    // The third origin is the bucket of Debusine's ranged uploads (test/infra/debusine-ranges.test.ts).
    expect(config.Origins).toHaveLength(3);
    const wsOrigin = config.Origins.find((o: { OriginPath?: string }) => o.OriginPath === `/${WEBSOCKET_STAGE}`);
    expect(wsOrigin).toBeDefined();
    const behavior = config.CacheBehaviors.find((b: { PathPattern: string }) => b.PathPattern === WEBSOCKET_PATH_PATTERN);
    expect(behavior).toMatchObject({ PathPattern: WEBSOCKET_PATH_PATTERN, TargetOriginId: wsOrigin.Id, ViewerProtocolPolicy: 'redirect-to-https' });
    expect(behavior.FunctionAssociations).toEqual([expect.objectContaining({ EventType: 'viewer-request' })]);
    expect(config.DefaultCacheBehavior.TargetOriginId).not.toBe(wsOrigin.Id);
    // AWS's managed policies: CachingDisabled, and AllViewerExceptHostHeader (forwards Token and the WebSocket headers).
    for (const b of [behavior, config.DefaultCacheBehavior]) {
      expect(b.CachePolicyId).toBe('4135ea2d-6df8-44a3-9df3-4b5a84be39ad');
      expect(b.OriginRequestPolicyId).toBe('b689b0a8-53d0-40ab-baf2-68738e2966ac');
      expect(b.AllowedMethods).toEqual(expect.arrayContaining(['GET', 'PUT', 'POST', 'PATCH', 'DELETE']));
    }
    // The function moves the path where the handler reads it (both from shared/formats/debusine-websocket-edge.ts).
    const fn = Object.values(resources(api, 'AWS::CloudFront::Function')).find((f) => String(f.Properties!['FunctionCode']).includes(PATH_QUERY_PARAMETER));
    expect(fn!.Properties!['FunctionCode']).toContain(`request.querystring['${PATH_QUERY_PARAMETER}']`);
    api.hasOutput('*', { Value: Match.objectLike({ 'Fn::Join': Match.anyValue() }), Description: Match.stringLikeRegexp('api-url') });
  });
});
