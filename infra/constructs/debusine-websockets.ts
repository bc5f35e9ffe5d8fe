import { CfnOutput, Fn, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { type HttpApi, WebSocketApi, WebSocketStage } from 'aws-cdk-lib/aws-apigatewayv2';
import { WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import {
  AllowedMethods,
  CachePolicy,
  Distribution,
  Function as CloudFrontFunction,
  FunctionCode,
  FunctionEventType,
  FunctionRuntime,
  OriginProtocolPolicy,
  OriginRequestPolicy,
  ViewerProtocolPolicy,
} from 'aws-cdk-lib/aws-cloudfront';
import { HttpOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { AccessLogBucket } from './access-log-bucket';

/** Where Debusine's clients open their WebSockets: `<api-url>/ws/1.0/…` (api-url is `<host>/api`). */
export const WEBSOCKET_PATH_PATTERN = '/api/ws/*';
export const WEBSOCKET_STAGE = 'ws';
/** The query parameter the CloudFront function moves the requested path into (see functions/websocket-api.ts). */
export const PATH_QUERY_PARAMETER = 'conveyor_path';

export interface DebusineWebSocketsProps {
  /** The function serving `$connect`, `$disconnect` and `$default`. */
  handler: IFunction;
  /** The REST API that answers every other path on the same host. */
  httpApi: HttpApi;
}

/**
 * Debusine's WebSocket endpoints: an API Gateway WebSocket API, and one CloudFront distribution
 * in front of both APIs, because Debusine derives its WebSocket URL from `api-url` (http→ws, same
 * host, `/api/ws/…`). CloudFront forwards every viewer header (`Token`, the WebSocket handshake)
 * and caches nothing; a viewer-request function moves the `/api/ws/…` path into a query parameter,
 * as a WebSocket API answers on its stage URL only.
 */
export class DebusineWebSockets extends Construct {
  readonly api: WebSocketApi;
  readonly stage: WebSocketStage;
  readonly distribution: Distribution;
  /** The management endpoint functions post to (PostToConnection). */
  readonly managementEndpoint: string;

  constructor(scope: Construct, id: string, props: DebusineWebSocketsProps) {
    super(scope, id);
    const integration = () => new WebSocketLambdaIntegration('Integration', props.handler);
    this.api = new WebSocketApi(this, 'Api', {
      description: "Conveyor: Debusine's WebSocket endpoints (worker/connect, work-request/on-completed)",
      connectRouteOptions: { integration: integration() },
      disconnectRouteOptions: { integration: integration() },
      defaultRouteOptions: { integration: integration() },
    });
    this.stage = new WebSocketStage(this, 'Stage', { webSocketApi: this.api, stageName: WEBSOCKET_STAGE, autoDeploy: true });
    this.managementEndpoint = this.stage.callbackUrl;

    const region = Stack.of(this).region;
    const movePath = new CloudFrontFunction(this, 'WebSocketPath', {
      runtime: FunctionRuntime.JS_2_0,
      comment: 'Debusine WebSocket paths: /api/ws/... becomes the stage root with the path in a query parameter',
      code: FunctionCode.fromInline(
        [
          'function handler(event) {',
          '  var request = event.request;',
          `  request.querystring['${PATH_QUERY_PARAMETER}'] = { value: request.uri };`,
          "  request.uri = '/';",
          '  return request;',
          '}',
        ].join('\n'),
      ),
    });
    const httpHost = Fn.select(2, Fn.split('/', props.httpApi.apiEndpoint));
    const wsHost = `${this.api.apiId}.execute-api.${region}.amazonaws.com`;
    this.distribution = new Distribution(this, 'SingleHost', {
      enableLogging: true,
      // Kept when the stack goes (RETAIN also needs no auto-delete function in this stack).
      logBucket: new AccessLogBucket(this, 'AccessLogs', RemovalPolicy.RETAIN),
      logFilePrefix: 'cloudfront/',
      comment: 'Conveyor: the REST API and the WebSocket API on one host (Debusine derives one from the other)',
      defaultBehavior: {
        origin: new HttpOrigin(httpHost, { protocolPolicy: OriginProtocolPolicy.HTTPS_ONLY }),
        viewerProtocolPolicy: ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        allowedMethods: AllowedMethods.ALLOW_ALL,
        cachePolicy: CachePolicy.CACHING_DISABLED,
        originRequestPolicy: OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
      },
      additionalBehaviors: {
        [WEBSOCKET_PATH_PATTERN]: {
          origin: new HttpOrigin(wsHost, { originPath: `/${WEBSOCKET_STAGE}`, protocolPolicy: OriginProtocolPolicy.HTTPS_ONLY }),
          viewerProtocolPolicy: ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
          allowedMethods: AllowedMethods.ALLOW_ALL,
          cachePolicy: CachePolicy.CACHING_DISABLED,
          originRequestPolicy: OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
          functionAssociations: [{ function: movePath, eventType: FunctionEventType.VIEWER_REQUEST }],
        },
      },
    });
    new CfnOutput(this, 'DebusineApiUrl', {
      value: `https://${this.distribution.distributionDomainName}/api`,
      description: "Debusine's api-url for clients and workers: REST and WebSockets on one host",
    });
  }

  /** Lets a function post to, inspect and close the sockets of this API. */
  grantManageConnections(fn: IFunction): void {
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['execute-api:ManageConnections'],
        resources: [Stack.of(this).formatArn({ service: 'execute-api', resource: this.api.apiId, resourceName: `${WEBSOCKET_STAGE}/POST/@connections/*` }), Stack.of(this).formatArn({ service: 'execute-api', resource: this.api.apiId, resourceName: `${WEBSOCKET_STAGE}/*/@connections/*` })],
      }),
    );
  }
}
