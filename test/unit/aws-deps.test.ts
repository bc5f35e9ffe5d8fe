import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { createAwsClients, createAwsDeps, readAwsConfig } from '../../shared/adapters/aws';
import { S3FileStore } from '../../shared/adapters/s3/file-store';
import { SqsJobQueues } from '../../shared/adapters/sqs/job-queues';
import { SqsWorkerChannels } from '../../shared/adapters/sqs/worker-channels';
import { DynamoWorkRequestRepository } from '../../shared/adapters/dynamodb/work-request-repository';
import { DynamoWorkerRepository } from '../../shared/adapters/dynamodb/worker-repository';
import { DynamoWorkflowTemplateRepository } from '../../shared/adapters/dynamodb/workflow-template-repository';
import { DynamoNotificationChannelRepository } from '../../shared/adapters/dynamodb/notification-channel-repository';
import { SendEmailCommand, SESv2Client } from '@aws-sdk/client-sesv2';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';

const env: NodeJS.ProcessEnv = {
  CONVEYOR_TABLE_MAIN: 'main-table',
  CONVEYOR_TABLE_AUDIT: 'audit-table',
  CONVEYOR_BUCKET: 'files-bucket',
  CONVEYOR_QUEUE_FILE_VERIFICATION_URL: 'http://127.0.0.1:9324/000000000000/file-verification',
  CONVEYOR_QUEUE_SCHEDULER_URL: 'http://127.0.0.1:9324/000000000000/scheduler',
  CONVEYOR_QUEUE_HEARTBEATS_URL: 'http://127.0.0.1:9324/000000000000/heartbeats',
  CONVEYOR_QUEUE_SERVER_TASKS_URL: 'http://127.0.0.1:9324/000000000000/server-tasks',
  CONVEYOR_QUEUE_ORCHESTRATOR_URL: 'http://127.0.0.1:9324/000000000000/orchestrator.fifo',
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
  ])('builds without %s and refuses to use it', (name, use) => {
    const deps = createAwsDeps(without(name));
    expect(() => use(deps)).toThrow(new RegExp(`${name} is not set`));
  });

  // Queues fail on the send (async), naming the variable; the other queues keep working.
  it.each([
    ['CONVEYOR_QUEUE_FILE_VERIFICATION_URL', (d: ReturnType<typeof createAwsDeps>) => d.queues.enqueueFileVerification({ artifactId: 1, path: 'p' })],
    ['CONVEYOR_QUEUE_SCHEDULER_URL', (d: ReturnType<typeof createAwsDeps>) => d.queues.enqueueSchedulerEvent({ type: 'periodic' })],
    [
      'CONVEYOR_QUEUE_HEARTBEATS_URL',
      (d: ReturnType<typeof createAwsDeps>) => d.queues.enqueueHeartbeat({ workRequestId: 1, worker: 'w', at: '2026-01-01T00:00:00Z', logtail: [] }),
    ],
    ['CONVEYOR_QUEUE_SERVER_TASKS_URL', (d: ReturnType<typeof createAwsDeps>) => d.queues.enqueueServerTask({ workRequestId: 1 })],
    [
      'CONVEYOR_QUEUE_ORCHESTRATOR_URL',
      (d: ReturnType<typeof createAwsDeps>) => d.queues.enqueueOrchestration({ rootId: 1, kind: 'populate', workRequestId: 1 }),
    ],
  ])('builds without %s and refuses to send to it', async (name, use) => {
    await expect(use(createAwsDeps(without(name)))).rejects.toThrow(new RegExp(`${name} is not set`));
  });

  it('refuses an unknown verification mode', () => {
    expect(() => createAwsDeps({ ...env, CONVEYOR_S3_VERIFY: 'trust-me' })).toThrow(/CONVEYOR_S3_VERIFY/);
  });

  it('defaults to checksum verification and virtual-hosted S3', () => {
    expect(readAwsConfig(env)).toEqual({
      mainTable: 'main-table',
      auditTable: 'audit-table',
      bucket: 'files-bucket',
      queueUrls: {
        fileVerification: env['CONVEYOR_QUEUE_FILE_VERIFICATION_URL'],
        scheduler: env['CONVEYOR_QUEUE_SCHEDULER_URL'],
        heartbeats: env['CONVEYOR_QUEUE_HEARTBEATS_URL'],
        serverTasks: env['CONVEYOR_QUEUE_SERVER_TASKS_URL'],
        orchestrator: env['CONVEYOR_QUEUE_ORCHESTRATOR_URL'],
      },
      verifyMode: 'checksum',
      forcePathStyle: false,
      region: 'us-east-1',
      workerQueuePrefix: 'conveyor-worker-',
      workerQueueRoleArn: undefined,
      sqsEndpoint: undefined,
      notifyFrom: undefined,
      mailboxFile: undefined,
      accountingQueueUrl: undefined,
      quotaSettings: { defaultLimits: { cpu: 0, disk: 0 }, terminationPolicy: ['cpu', 'disk'], periodic: true },
      schedulingPolicy: { policy: 'fifo', maxConcurrent: 30 },
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
    expect(deps.workRequests).toBeInstanceOf(DynamoWorkRequestRepository);
    expect(deps.workers).toBeInstanceOf(DynamoWorkerRepository);
    expect(deps.workerChannels).toBeInstanceOf(SqsWorkerChannels);
    for (const port of ['identity', 'artifacts', 'audit', 'sequences', 'collections'] as const) expect(deps[port]).toBeDefined();
    expect(deps.templates).toBeInstanceOf(DynamoWorkflowTemplateRepository);
    expect(deps.channels).toBeInstanceOf(DynamoNotificationChannelRepository);
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

  describe('notifier', () => {
    const sesMock = mockClient(SESv2Client);
    afterAll(() => sesMock.restore());
    beforeEach(() => sesMock.reset());
    const email = { to: ['alice@example.org'], subject: 'WorkRequest 7 completed in success', body: 'done\n' };

    it('appends to the mailbox file when CONVEYOR_MAILBOX_FILE is set (local stack), never calling SES', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'conveyor-aws-mailbox-'));
      try {
        const deps = createAwsDeps({ ...env, CONVEYOR_MAILBOX_FILE: join(dir, 'mailbox'), CONVEYOR_NOTIFY_FROM: 'ci@conveyor.test' });
        await deps.notifier.send(email);
        const text = readFileSync(join(dir, 'mailbox'), 'utf8');
        expect(text).toMatch(/^From ci@conveyor\.test /);
        expect(text).toContain('\nTo: alice@example.org\n');
        expect(sesMock.commandCalls(SendEmailCommand)).toHaveLength(0);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('sends through SES otherwise, from CONVEYOR_NOTIFY_FROM unless the e-mail names a sender', async () => {
      sesMock.on(SendEmailCommand).resolves({ MessageId: 'x' });
      const deps = createAwsDeps({ ...env, CONVEYOR_NOTIFY_FROM: 'conveyor@example.org' });
      await deps.notifier.send(email);
      await deps.notifier.send({ ...email, from: 'team@example.org' });
      const inputs = sesMock.commandCalls(SendEmailCommand).map((c) => c.args[0].input);
      expect(inputs.map((i) => i.FromEmailAddress)).toEqual(['conveyor@example.org', 'team@example.org']);
      expect(inputs[0]!.Destination).toEqual({ ToAddresses: ['alice@example.org'] });
    });

    it('without any sender, SES is not even asked', async () => {
      const deps = createAwsDeps(env);
      await expect(deps.notifier.send(email)).rejects.toThrow(/CONVEYOR_NOTIFY_FROM/);
      expect(sesMock.commandCalls(SendEmailCommand)).toHaveLength(0);
    });
  });

  describe('worker queues', () => {
    const sqsMock = mockClient(SQSClient);
    const stsMock = mockClient(STSClient);
    afterAll(() => {
      sqsMock.restore();
      stsMock.restore();
    });
    beforeEach(() => {
      sqsMock.reset();
      stsMock.reset();
    });
    const url = 'https://sqs.eu-west-1.amazonaws.com/123456789012/conveyor-worker-bee';

    it('locally: the prefix and SQS endpoint from the environment, no credentials', async () => {
      const deps = createAwsDeps({ ...env, CONVEYOR_WORKER_QUEUE_PREFIX: 'dev-worker-', AWS_ENDPOINT_URL_SQS: 'http://127.0.0.1:9324' });
      sqsMock.on(CreateQueueCommand).resolves({ QueueUrl: 'http://127.0.0.1:9324/000000000000/dev-worker-bee' });
      const queueUrl = await deps.workerChannels.createQueue('bee');
      expect(sqsMock.commandCalls(CreateQueueCommand)[0]!.args[0].input.QueueName).toBe('dev-worker-bee');
      expect(await deps.workerChannels.access(queueUrl)).toEqual({ queueUrl, region: 'us-east-1', endpoint: 'http://127.0.0.1:9324' });
      expect(stsMock.commandCalls(AssumeRoleCommand)).toHaveLength(0);
    });

    it('on AWS: assumes the role named by CONVEYOR_WORKER_QUEUE_ROLE_ARN', async () => {
      const role = 'arn:aws:iam::123456789012:role/access';
      const deps = createAwsDeps({ ...env, AWS_REGION: 'eu-west-1', CONVEYOR_WORKER_QUEUE_ROLE_ARN: role });
      sqsMock.on(CreateQueueCommand).resolves({ QueueUrl: url });
      stsMock.on(AssumeRoleCommand).resolves({ Credentials: { AccessKeyId: 'k', SecretAccessKey: 's', SessionToken: 't', Expiration: new Date(0) } });
      const access = await deps.workerChannels.access(url);
      expect(access.credentials).toMatchObject({ accessKeyId: 'k', secretAccessKey: 's', sessionToken: 't' });
      expect(access.endpoint).toBeUndefined();
      expect(stsMock.commandCalls(AssumeRoleCommand)[0]!.args[0].input.RoleArn).toBe(role);
      expect(JSON.parse(stsMock.commandCalls(AssumeRoleCommand)[0]!.args[0].input.Policy!).Statement[0].Resource).toBe(
        'arn:aws:sqs:eu-west-1:123456789012:conveyor-worker-bee',
      );
    });
  });
});
