/**
 * A bucket that receives access logs: S3 server access logs of the stack's buckets and the legacy
 * (standard) logs of its CloudFront distributions. CloudFront's standard logging writes with an ACL,
 * so this bucket keeps ACLs (BUCKET_OWNER_PREFERRED); it is private, encrypted, TLS-only, and its
 * objects expire after ACCESS_LOG_RETENTION_DAYS. It does not log itself (cdk-nag S1 is
 * acknowledged on it: logging the log bucket would need another bucket, and so on).
 */
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership, type BucketProps } from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';

/** Access logs are kept this many days (long enough to investigate an incident, bounded in cost). */
export const ACCESS_LOG_RETENTION_DAYS = 90;

export class AccessLogBucket extends Bucket {
  constructor(scope: Construct, id: string, removalPolicy: RemovalPolicy) {
    super(scope, id, {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_PREFERRED,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      removalPolicy,
      ...(removalPolicy === RemovalPolicy.DESTROY ? { autoDeleteObjects: true } : {}),
      lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(ACCESS_LOG_RETENTION_DAYS) }],
    });
    Validations.of(this).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This is the access-log bucket itself; logging it would need a further bucket without end.',
    });
  }
}

/**
 * What every private bucket of the stack starts with: its S3 server access logs go to `accessLogs`
 * under `prefix`; no public access, S3-managed encryption, TLS only.
 */
export function privateBucketProps(accessLogs: AccessLogBucket, prefix: string, removalPolicy: RemovalPolicy): BucketProps {
  return {
    serverAccessLogsBucket: accessLogs,
    serverAccessLogsPrefix: prefix,
    blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
    encryption: BucketEncryption.S3_MANAGED,
    enforceSSL: true,
    removalPolicy,
  };
}
