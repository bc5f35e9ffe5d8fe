import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { createAwsClients, createAwsDeps, readAwsConfig } from '../../shared/adapters/aws';
import { S3FileStore } from '../../shared/adapters/s3/file-store';
import { SqsJobQueues } from '../../shared/adapters/sqs/job-queues';

const env: NodeJS.ProcessEnv = {
  CONVEYOR_TABLE_MAIN: 'main-table',
  CONVEYOR_TABLE_AUDIT: 'audit-table',
  CONVEYOR_BUCKET: 'files-bucket',
  CONVEYOR_QUEUE_FILE_VERIFICATION_URL: 'http://127.0.0.1:9324/000000000000/file-verification',
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'local',
  AWS_SECRET_ACCESS_KEY: 'local',
};

function without(name: string): NodeJS.ProcessEnv {
  const copy = { ...env };
  delete copy[name];
  return copy;
}

describe('createAwsDeps', () => {
  it('needs the main table', () => {
    expect(() => createAwsDeps(without('CONVEYOR_TABLE_MAIN'))).toThrow(new Error('Missing environment variable CONVEYOR_TABLE_MAIN'));
  });

  // A function only gets the variables of what it uses; the rest fail on first use, naming the variable.
  it.each([
    ['CONVEYOR_TABLE_AUDIT', (d: ReturnType<typeof createAwsDeps>) => d.audit.list({ limit: 1 })],
    ['CONVEYOR_BUCKET', (d: ReturnType<typeof createAwsDeps>) => d.files.head('x')],
    ['CONVEYOR_QUEUE_FILE_VERIFICATION_URL', (d: ReturnType<typeof createAwsDeps>) => d.queues.enqueueFileVerification({ artifactId: 1, path: 'p' })],
  ])('builds without %s and refuses to use it', (name, use) => {
    const deps = createAwsDeps(without(name));
    expect(() => use(deps)).toThrow(new RegExp(`${name} is not set`));
  });

  it('refuses an unknown verification mode', () => {
    expect(() => createAwsDeps({ ...env, CONVEYOR_S3_VERIFY: 'trust-me' })).toThrow(/CONVEYOR_S3_VERIFY/);
  });

  it('defaults to checksum verification and virtual-hosted S3', () => {
    expect(readAwsConfig(env)).toEqual({
      mainTable: 'main-table',
      auditTable: 'audit-table',
      bucket: 'files-bucket',
      queueUrls: { fileVerification: env['CONVEYOR_QUEUE_FILE_VERIFICATION_URL'] },
      verifyMode: 'checksum',
      forcePathStyle: false,
    });
    expect(readAwsConfig({ ...env, CONVEYOR_S3_VERIFY: 'readback', CONVEYOR_S3_FORCE_PATH_STYLE: '1' })).toMatchObject({
      verifyMode: 'readback',
      forcePathStyle: true,
    });
  });

  it('builds every port', () => {
    const deps = createAwsDeps(env);
    expect(deps.files).toBeInstanceOf(S3FileStore);
    expect(deps.queues).toBeInstanceOf(SqsJobQueues);
    for (const port of ['identity', 'artifacts', 'audit', 'sequences'] as const) expect(deps[port]).toBeDefined();
    const before = Date.now();
    expect(deps.clock.now().getTime()).toBeGreaterThanOrEqual(before);
    const ids = new Set(Array.from({ length: 100 }, () => deps.ids.random()));
    expect(ids.size).toBe(100);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it('presigns against the S3 endpoint from the environment, path-style', async () => {
    const deps = createAwsDeps({ ...env, AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:4568', CONVEYOR_S3_FORCE_PATH_STYLE: '1' });
    const { url, headers } = await deps.files.presignPut('blobs/x', 3, 'a'.repeat(64), 60);
    expect(url.startsWith('http://127.0.0.1:4568/files-bucket/blobs/x?')).toBe(true);
    expect(new URL(url).searchParams.get('X-Amz-SignedHeaders')).toBe('content-length;host;x-amz-checksum-sha256');
    expect(Object.keys(headers).sort()).toEqual(['content-length', 'x-amz-checksum-sha256']);
  });

  it('routes DynamoDB calls through an injected client', async () => {
    const dynamo = new DynamoDBClient({ region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
    const seen: string[] = [];
    dynamo.middlewareStack.add(
      () => async () => {
        throw new Error('intercepted');
      },
      { step: 'initialize', name: 'testInterceptor' },
    );
    dynamo.middlewareStack.add(
      (next, context) => async (args) => {
        seen.push(context.commandName ?? '');
        return next(args);
      },
      { step: 'initialize', name: 'testRecorder', priority: 'high' },
    );
    const clients = createAwsClients(env, { dynamo });
    expect(clients.dynamo).toBe(dynamo);
    await expect(clients.doc.send(new GetCommand({ TableName: 't', Key: { pk: 'a', sk: 'b' } }))).rejects.toThrow('intercepted');
    expect(seen).toEqual(['GetItemCommand']);

    const deps = createAwsDeps(env, { dynamoClient: dynamo });
    await expect(deps.sequences.next('artifact')).rejects.toThrow('intercepted');
  });

  it('builds a presigning client that only computes checksums when required', async () => {
    const clients = createAwsClients({ ...env, CONVEYOR_S3_FORCE_PATH_STYLE: '1' });
    expect(await clients.s3Presigner.config.requestChecksumCalculation()).toBe('WHEN_REQUIRED');
    expect(clients.s3.config.forcePathStyle).toBe(true);
    expect(await clients.s3.config.region()).toBe('us-east-1');
  });
});
