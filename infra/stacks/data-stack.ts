import { CfnOutput, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type { StackProps } from 'aws-cdk-lib';
import { AttributeType, BillingMode, ProjectionType, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { DEBUSINE_RANGE_PREFIX } from '../../shared/formats/debusine-range-edge';
import { Bucket, HttpMethods, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import { ARCHIVE_PREFIX } from '../../shared/domain/artifacts';
import { AccessLogBucket, privateBucketProps } from '../constructs/access-log-bucket';
import { pascal } from '../manifest';
import type { ConveyorManifest } from '../manifest';

/** Incomplete multipart uploads are aborted after this many days (DESIGN: stale uploads are aborted). */
export const ABORT_INCOMPLETE_MULTIPART_DAYS = 2;
/** Staging objects live under this prefix and expire after a day. */
export const STAGING_PREFIX = 'tmp/';
export const STAGING_EXPIRATION_DAYS = 1;
/**
 * Cached tar.gz archives (a download rebuilds a missing one) expire after this many days, so an
 * expired artifact's archive does not outlive it by more than that.
 */
export const ARCHIVE_EXPIRATION_DAYS = 7;
export { ARCHIVE_PREFIX };

export interface DataStackProps extends StackProps {
  manifest: ConveyorManifest;
}

/**
 * Stateful resources: the DynamoDB tables of TABLES and the S3 file-store bucket.
 * Everything here is RETAINed on stack deletion. Encryption is set explicitly to the
 * AWS-owned/managed keys (DynamoDB: AWS managed KMS key; S3: SSE-S3): no customer key to
 * manage, and no cross-stack key policies for the functions' grants.
 */
export class DataStack extends Stack {
  readonly tables: Record<string, Table> = {};
  readonly bucket: Bucket;

  constructor(scope: Construct, id: string, props: DataStackProps) {
    super(scope, id, props);

    for (const spec of Object.values(props.manifest.tables)) {
      const table = new Table(this, `Table${pascal(spec.name)}`, {
        partitionKey: { name: spec.partitionKey, type: AttributeType.STRING },
        sortKey: { name: spec.sortKey, type: AttributeType.STRING },
        billingMode: BillingMode.PAY_PER_REQUEST,
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        encryption: TableEncryption.AWS_MANAGED,
        deletionProtection: true,
        removalPolicy: RemovalPolicy.RETAIN,
        ...(spec.ttlAttribute ? { timeToLiveAttribute: spec.ttlAttribute } : {}),
      });
      for (const index of spec.indexes) {
        table.addGlobalSecondaryIndex({
          indexName: index.name,
          partitionKey: { name: index.partitionKey, type: AttributeType.STRING },
          sortKey: { name: index.sortKey, type: AttributeType.STRING },
          ...(index.projection
            ? { projectionType: ProjectionType.INCLUDE, nonKeyAttributes: index.projection.include }
            : { projectionType: ProjectionType.ALL }),
        });
      }
      this.tables[spec.name] = table;
      new CfnOutput(this, `Table${pascal(spec.name)}Name`, {
        value: table.tableName,
        description: `DynamoDB table "${spec.name}" (${spec.envVar})`,
      });
    }

    // Who fetched or uploaded which object (presigned URLs bypass the API's own access logs).
    const accessLogs = new AccessLogBucket(this, 'FileStoreAccessLogs', RemovalPolicy.RETAIN);
    this.bucket = new Bucket(this, 'FileStore', {
      ...privateBucketProps(accessLogs, 'file-store/', RemovalPolicy.RETAIN),
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      minimumTLSVersion: 1.2,
      versioned: false,
      lifecycleRules: [
        {
          id: 'abort-incomplete-multipart-uploads',
          abortIncompleteMultipartUploadAfter: Duration.days(ABORT_INCOMPLETE_MULTIPART_DAYS),
        },
        {
          id: 'expire-staging-objects',
          prefix: STAGING_PREFIX,
          expiration: Duration.days(STAGING_EXPIRATION_DAYS),
        },
        {
          id: 'expire-cached-archives',
          prefix: ARCHIVE_PREFIX,
          expiration: Duration.days(ARCHIVE_EXPIRATION_DAYS),
        },
      ],
      // Browsers upload and download directly with presigned URLs.
      cors: [
        {
          allowedMethods: [HttpMethods.PUT, HttpMethods.GET, HttpMethods.HEAD],
          allowedOrigins: ['*'],
          allowedHeaders: ['*'],
          exposedHeaders: ['ETag'],
          maxAge: 3600,
        },
      ],
    });
    // Debusine's ranged uploads reach the bucket through the API stack's CloudFront host (origin access
    // control). Naming that distribution here would make the two stacks depend on each other, so the grant
    // is to CloudFront in this account, for PutObject under the ranges' staging prefix only.
    this.bucket.addToResourcePolicy(
      new PolicyStatement({
        sid: 'DebusineRangesFromCloudFront',
        principals: [new ServicePrincipal('cloudfront.amazonaws.com')],
        actions: ['s3:PutObject'],
        resources: [this.bucket.arnForObjects(`${DEBUSINE_RANGE_PREFIX}*`)],
        conditions: {
          StringEquals: { 'AWS:SourceAccount': this.account },
          ArnLike: { 'AWS:SourceArn': `arn:${this.partition}:cloudfront::${this.account}:distribution/*` },
        },
      }),
    );
    new CfnOutput(this, 'BucketName', { value: this.bucket.bucketName, description: 'S3 file-store bucket (CONVEYOR_BUCKET)' });
  }
}
