/**
 * The web UI in the cloud: its files (web/, served as they are) in a private S3 bucket, and one
 * CloudFront distribution that serves them at `/` and forwards `/api/*` to the HTTP API, so the UI
 * and the API share one origin (no CORS, the `Token` header goes where the UI's requests go).
 *
 * API requests are never cached by CloudFront and reach the API with every viewer header (Token,
 * If-None-Match, X-Debusine-Scope) and the query string; the API answers conditional GETs itself.
 */
import { CfnOutput, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type { IHttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import {
  AllowedMethods,
  CachePolicy,
  Distribution,
  OriginRequestPolicy,
  PriceClass,
  ViewerProtocolPolicy,
} from 'aws-cdk-lib/aws-cloudfront';
import { HttpOrigin, S3BucketOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { BucketDeployment, Source } from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';
import { AccessLogBucket, privateBucketProps } from './access-log-bucket';
import { resolve } from 'node:path';

/** The UI's source folder, deployed as it is (no build step). */
export const WEB_UI_SOURCE_DIR = resolve(__dirname, '../../web');
/** The path pattern CloudFront sends to the HTTP API. */
export const API_PATH_PATTERN = '/api/*';

export interface WebUiDistributionProps {
  api: IHttpApi;
  /** Default: web/ of this repository. */
  sourceDir?: string;
}

export class WebUiDistribution extends Construct {
  readonly bucket: Bucket;
  readonly distribution: Distribution;

  constructor(scope: Construct, id: string, props: WebUiDistributionProps) {
    super(scope, id);
    // Only CloudFront reads it (origin access control); the files are rebuilt from the repository.
    const accessLogs = new AccessLogBucket(this, 'AccessLogs', RemovalPolicy.DESTROY);
    this.bucket = new Bucket(this, 'Files', { ...privateBucketProps(accessLogs, 'files/', RemovalPolicy.DESTROY), autoDeleteObjects: true });
    const stack = Stack.of(this);
    const apiDomain = `${props.api.apiId}.execute-api.${stack.region}.${stack.urlSuffix}`;
    this.distribution = new Distribution(this, 'Distribution', {
      comment: 'Conveyor web UI (S3) and REST API (/api/*) on one origin',
      defaultRootObject: 'index.html',
      priceClass: PriceClass.PRICE_CLASS_100,
      enableLogging: true,
      logBucket: accessLogs,
      logFilePrefix: 'cloudfront/',
      defaultBehavior: {
        origin: S3BucketOrigin.withOriginAccessControl(this.bucket),
        viewerProtocolPolicy: ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        allowedMethods: AllowedMethods.ALLOW_GET_HEAD,
        // A new deployment invalidates everything; between deployments files are cached.
        cachePolicy: CachePolicy.CACHING_OPTIMIZED,
        compress: true,
      },
      additionalBehaviors: {
        [API_PATH_PATTERN]: {
          origin: new HttpOrigin(apiDomain, { readTimeout: Duration.seconds(30) }),
          viewerProtocolPolicy: ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
          allowedMethods: AllowedMethods.ALLOW_ALL,
          cachePolicy: CachePolicy.CACHING_DISABLED,
          originRequestPolicy: OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
          compress: true,
        },
      },
    });
    new BucketDeployment(this, 'Deploy', {
      sources: [Source.asset(props.sourceDir ?? WEB_UI_SOURCE_DIR)],
      destinationBucket: this.bucket,
      distribution: this.distribution,
      distributionPaths: ['/*'],
    });
    new CfnOutput(this, 'WebUiUrl', {
      value: `https://${this.distribution.distributionDomainName}/`,
      description: 'The web UI, and the REST API under /api/1.0/ on the same host',
    });
  }
}
