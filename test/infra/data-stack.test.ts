import 'aws-cdk-lib/testhelpers/jest-autoclean';
import { Match } from 'aws-cdk-lib/assertions';
import { TABLES } from '../../shared/manifest';
import { pascal } from '../../infra/manifest';
import { ABORT_INCOMPLETE_MULTIPART_DAYS, ARCHIVE_EXPIRATION_DAYS, ARCHIVE_PREFIX, STAGING_PREFIX } from '../../infra/stacks/data-stack';
import { archiveObjectKey, blobObjectKey } from '../../shared/domain/object-keys';
import { logicalId, resources, synth } from './helpers';

const { stacks, data } = synth();

describe('DataStack: tables from TABLES', () => {
  it('creates exactly one table per TABLES entry', () => {
    expect(Object.keys(resources(data, 'AWS::DynamoDB::Table')).sort()).toEqual(
      Object.keys(TABLES).map((name) => logicalId(stacks.data.tables[name]!)).sort(),
    );
  });

  describe.each(Object.values(TABLES))('table $name', (spec) => {
    const table = () => resources(data)[logicalId(stacks.data.tables[spec.name]!)]!;

    it('has the keys, on-demand billing, PITR and SSE', () => {
      const p = table().Properties!;
      expect(p.KeySchema).toEqual([
        { AttributeName: spec.partitionKey, KeyType: 'HASH' },
        { AttributeName: spec.sortKey, KeyType: 'RANGE' },
      ]);
      expect(p.BillingMode).toBe('PAY_PER_REQUEST');
      expect(p.ProvisionedThroughput).toBeUndefined();
      expect(p.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
      expect(p.SSESpecification).toEqual({ SSEEnabled: true });
    });

    it('is retained on stack deletion', () => {
      expect(table().DeletionPolicy).toBe('Retain');
      expect(table().UpdateReplacePolicy).toBe('Retain');
    });

    it('has every GSI of the spec with its projection (ALL unless the spec lists attributes), and no other', () => {
      const gsis = (table().Properties!.GlobalSecondaryIndexes ?? []) as any[];
      expect(gsis.map((g) => g.IndexName).sort()).toEqual(spec.indexes.map((i) => i.name).sort());
      for (const index of spec.indexes) {
        const gsi = gsis.find((g) => g.IndexName === index.name);
        expect(gsi.KeySchema).toEqual([
          { AttributeName: index.partitionKey, KeyType: 'HASH' },
          { AttributeName: index.sortKey, KeyType: 'RANGE' },
        ]);
        expect(gsi.Projection).toEqual(index.projection ? { ProjectionType: 'INCLUDE', NonKeyAttributes: index.projection.include } : { ProjectionType: 'ALL' });
      }
    });

    it('has the TTL attribute only when the spec has one', () => {
      const ttl = table().Properties!.TimeToLiveSpecification;
      if (spec.ttlAttribute) expect(ttl).toEqual({ AttributeName: spec.ttlAttribute, Enabled: true });
      else expect(ttl).toBeUndefined();
    });

    it('outputs its name', () => {
      data.hasOutput(`Table${pascal(spec.name)}Name`, { Value: { Ref: logicalId(stacks.data.tables[spec.name]!) } });
    });
  });

  it('main keeps its TTL on "ttl" and two GSIs (concrete values)', () => {
    data.hasResourceProperties('AWS::DynamoDB::Table', {
      TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
      GlobalSecondaryIndexes: Match.arrayWith([Match.objectLike({ IndexName: 'gsi1' }), Match.objectLike({ IndexName: 'gsi2' })]),
    });
  });
});

describe('DataStack: the work-request listing index (gsi4)', () => {
  const gsis = () => (resources(data)[logicalId(stacks.data.tables.main!)]!.Properties!.GlobalSecondaryIndexes ?? []) as any[];

  it('projects only workspace and taskName, keyed on gsi4pk/gsi4sk', () => {
    expect(gsis().find((g) => g.IndexName === 'gsi4')).toEqual({
      IndexName: 'gsi4',
      KeySchema: [
        { AttributeName: 'gsi4pk', KeyType: 'HASH' },
        { AttributeName: 'gsi4sk', KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['workspace', 'taskName'] },
    });
  });

  it('is the only index added to the deployed table (CloudFormation adds one GSI per update); the others keep ALL', () => {
    const deployed = ['gsi1', 'gsi2', 'gsi3'];
    expect(gsis().map((g) => g.IndexName).filter((n: string) => !deployed.includes(n))).toEqual(['gsi4']);
    for (const name of deployed) expect(gsis().find((g) => g.IndexName === name)?.Projection).toEqual({ ProjectionType: 'ALL' });
  });
});

describe('DataStack: file-store bucket', () => {
  const bucketId = logicalId(stacks.data.bucket);
  const bucket = () => resources(data)[bucketId]!;

  it('blocks all public access', () => {
    expect(bucket().Properties!.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
  });

  it('is encrypted with S3-managed keys', () => {
    expect(bucket().Properties!.BucketEncryption).toEqual({
      ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
    });
  });

  it('denies every request without TLS', () => {
    const policies = Object.values(resources(data, 'AWS::S3::BucketPolicy')).filter(
      (p) => JSON.stringify(p.Properties!.Bucket) === JSON.stringify({ Ref: bucketId }),
    );
    expect(policies).toHaveLength(1);
    const statements = policies[0]!.Properties!.PolicyDocument.Statement as any[];
    const tls = statements.find((s) => s.Condition?.Bool?.['aws:SecureTransport'] === 'false');
    expect(tls).toMatchObject({ Effect: 'Deny', Action: 's3:*', Principal: { AWS: '*' } });
    expect(JSON.stringify(tls.Resource)).toContain(bucketId);
  });

  it('aborts incomplete multipart uploads within 1-7 days and expires tmp/ after 1 day', () => {
    const rules = bucket().Properties!.LifecycleConfiguration.Rules as any[];
    const abort = rules.find((r) => r.AbortIncompleteMultipartUpload);
    expect(abort).toMatchObject({ Status: 'Enabled', AbortIncompleteMultipartUpload: { DaysAfterInitiation: ABORT_INCOMPLETE_MULTIPART_DAYS } });
    expect(abort.Prefix).toBeUndefined();
    expect(ABORT_INCOMPLETE_MULTIPART_DAYS).toBeGreaterThanOrEqual(1);
    expect(ABORT_INCOMPLETE_MULTIPART_DAYS).toBeLessThanOrEqual(7);
    const staging = rules.find((r) => r.Prefix === STAGING_PREFIX);
    expect(STAGING_PREFIX).toBe('tmp/');
    expect(staging).toMatchObject({ Status: 'Enabled', ExpirationInDays: 1 });
  });

  it('expires cached archives (a cache: rebuilt on download) but never blobs', () => {
    const rules = bucket().Properties!.LifecycleConfiguration.Rules as any[];
    const archives = rules.find((r) => r.Prefix === ARCHIVE_PREFIX);
    expect(archiveObjectKey('a'.repeat(64)).startsWith(ARCHIVE_PREFIX)).toBe(true);
    expect(archives).toMatchObject({ Status: 'Enabled', ExpirationInDays: ARCHIVE_EXPIRATION_DAYS });
    // Only the expiry pass may delete a blob: no lifecycle rule may match its key.
    const blob = blobObjectKey('b'.repeat(64), 1);
    expect(rules.filter((r) => r.ExpirationInDays !== undefined && blob.startsWith(r.Prefix ?? ''))).toEqual([]);
  });

  it('allows browser uploads and downloads (CORS)', () => {
    expect(bucket().Properties!.CorsConfiguration.CorsRules).toEqual([
      expect.objectContaining({
        AllowedMethods: expect.arrayContaining(['PUT', 'GET', 'HEAD']),
        AllowedOrigins: ['*'],
        AllowedHeaders: ['*'],
        ExposedHeaders: ['ETag'],
      }),
    ]);
  });

  it('is retained on stack deletion', () => {
    expect(bucket().DeletionPolicy).toBe('Retain');
  });

  it('outputs BucketName', () => {
    data.hasOutput('BucketName', { Value: { Ref: bucketId } });
  });
});
