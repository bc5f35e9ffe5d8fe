import { Annotations, CfnOutput, Fn, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { type HttpApi, WebSocketApi, WebSocketStage } from 'aws-cdk-lib/aws-apigatewayv2';
import { WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import {
  AccessLevel,
  AllowedMethods,
  type BehaviorOptions,
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
import { HttpOrigin, S3BucketOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import {
  DEBUSINE_RANGE_ORIGIN_ID,
  DEBUSINE_RANGE_PATH_PATTERN,
  DEBUSINE_RANGE_PREFIX,
  RANGE_VIEWER_REQUEST_SOURCE,
  RANGE_VIEWER_RESPONSE_SOURCE,
} from '../../shared/formats/debusine-range-edge';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { AccessLogBucket } from './access-log-bucket';
import { PATH_QUERY_PARAMETER, WEBSOCKET_PATH_PREFIX } from '../../shared/formats/debusine-websocket-edge';

/** The CloudFront path pattern of Debusine's WebSockets. */
export const WEBSOCKET_PATH_PATTERN = `${WEBSOCKET_PATH_PREFIX}*`;
export const WEBSOCKET_STAGE = 'ws';

export interface DebusineWebSocketsProps {
  /** The function serving `$connect`, `$disconnect` and `$default`. */
  handler: IFunction;
  /** The REST API that answers every other path on the same host. */
  httpApi: HttpApi;
  /**
   * The file store: Debusine's ranged uploads go into it through this host (shared/formats/debusine-range-edge.ts).
   * Pass it imported (`Bucket.fromBucketAttributes`): its policy is the data stack's (DataStack), not this one's.
   */
  uploadBucket?: IBucket;
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
    const httpOrigin = new HttpOrigin(httpHost, { protocolPolicy: OriginProtocolPolicy.HTTPS_ONLY });
    this.distribution = new Distribution(this, 'SingleHost', {
      enableLogging: true,
      // Kept when the stack goes (RETAIN also needs no auto-delete function in this stack).
      logBucket: new AccessLogBucket(this, 'AccessLogs', RemovalPolicy.RETAIN),
      logFilePrefix: 'cloudfront/',
      comment: 'Conveyor: the REST API and the WebSocket API on one host (Debusine derives one from the other)',
      defaultBehavior: {
        origin: httpOrigin,
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
        ...(props.uploadBucket ? this.rangedUploadBehaviors(props.uploadBucket, httpOrigin) : {}),
      },
    });
    // The bucket's policy for this origin is the data stack's (see DataStack).
    if (props.uploadBucket) {
      Annotations.of(this.distribution).acknowledgeWarning('@aws-cdk/aws-cloudfront-origins:updateImportedBucketPolicyOac', 'the data stack grants CloudFront PutObject on the ranges prefix');
    }
    new CfnOutput(this, 'DebusineApiUrl', {
      value: `https://${this.distribution.distributionDomainName}/api`,
      description: "Debusine's api-url for clients and workers: REST and WebSockets on one host",
    });
  }

  /**
   * Debusine's 50 MiB ranges cannot pass API Gateway (10 MB) or Lambda (6 MB): on their path a viewer-request
   * function sends each range to the bucket (origin access control signs the PUT) and a viewer-response
   * function answers as Debusine's server does; the probe and other methods still reach the API. The bucket
   * origin has a behaviour of its own only because an origin must belong to one; it refuses every request.
   */
  private rangedUploadBehaviors(bucket: IBucket, httpOrigin: HttpOrigin): Record<string, BehaviorOptions> {
    const inline = (id: string, comment: string, source: string) =>
      new CloudFrontFunction(this, id, { runtime: FunctionRuntime.JS_2_0, comment, code: FunctionCode.fromInline(source) });
    const toBucket = inline('DebusineRangeRequest', "Debusine's ranged uploads: a range goes to the bucket's staging key", RANGE_VIEWER_REQUEST_SOURCE);
    const answer = inline('DebusineRangeResponse', "Debusine's ranged uploads: S3's 200 becomes 200+Range or 201", RANGE_VIEWER_RESPONSE_SOURCE);
    const refuse = inline('DebusineRangeRefuse', 'The staging keys are not reachable by their own path', "function handler(event) {\n  return { statusCode: 404, statusDescription: 'Not Found' };\n}");
    const bucketOrigin = S3BucketOrigin.withOriginAccessControl(bucket, { originId: DEBUSINE_RANGE_ORIGIN_ID, originAccessLevels: [AccessLevel.WRITE] });
    const uncached = {
      viewerProtocolPolicy: ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
      allowedMethods: AllowedMethods.ALLOW_ALL,
      cachePolicy: CachePolicy.CACHING_DISABLED,
      originRequestPolicy: OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
    };
    return {
      [DEBUSINE_RANGE_PATH_PATTERN]: {
        ...uncached,
        origin: httpOrigin,
        functionAssociations: [
          { function: toBucket, eventType: FunctionEventType.VIEWER_REQUEST },
          { function: answer, eventType: FunctionEventType.VIEWER_RESPONSE },
        ],
      },
      [`/${DEBUSINE_RANGE_PREFIX}*`]: { ...uncached, origin: bucketOrigin, functionAssociations: [{ function: refuse, eventType: FunctionEventType.VIEWER_REQUEST }] },
    };
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
