/**
 * Worker queues on the local stack: created at run time in local-aws-sqs (in-process, so this stays
 * a fast test), and reachable by a worker process that knows only what `GET worker/queue/` tells it
 * (queue URL, region, endpoint) plus the local dummy credentials.
 */
import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { restoreWorkerQueues } from '../../cli/dev/command';
import { MemoryWorkerRepository } from '../../shared/adapters/memory';
import { SqsWorkerChannels } from '../../shared/adapters/sqs/worker-channels';
import type { Worker } from '../../shared/domain/workers';
import { externalWorker } from '../support/worker-fixture';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startSqs, type StartedEmulator } from '../../cli/dev/emulators';
import { localEnv, visibilityTimeoutSeconds, workerQueuePrefix } from '../../cli/dev/provision';
import { createAwsDeps } from '../../shared/adapters/aws';
import { QUEUES, FUNCTIONS, WORKER_QUEUE_PREFIX_ENV_VAR } from '../../shared/manifest';
import type { Deps } from '../../shared/ports';

describe('the local environment map', () => {
  const endpoints = { dynamodb: 'http://127.0.0.1:1', s3: 'http://127.0.0.1:2', sqs: 'http://127.0.0.1:3' };
  const urls = Object.fromEntries(Object.keys(QUEUES).map((q) => [q, `http://127.0.0.1:3/000000000000/conveyor-${q}`]));

  it('carries every queue of the manifest, the worker-queue prefix and no access role', () => {
    const env = localEnv(endpoints, urls);
    for (const q of Object.values(QUEUES)) expect(env[q.envVar]).toBe(urls[q.name]);
    expect(env['CONVEYOR_QUEUE_SCHEDULER_URL']).toBe(urls['scheduler']);
    expect(env['CONVEYOR_QUEUE_HEARTBEATS_URL']).toBe(urls['heartbeats']);
    expect(env['CONVEYOR_QUEUE_SERVER_TASKS_URL']).toBe(urls['server-tasks']);
    expect(env[WORKER_QUEUE_PREFIX_ENV_VAR]).toBe('conveyor-worker-');
    expect(env['CONVEYOR_WORKER_QUEUE_ROLE_ARN']).toBeUndefined();
    expect(workerQueuePrefix('test')).toBe('test-worker-');
    expect(localEnv(endpoints, urls, 'test')[WORKER_QUEUE_PREFIX_ENV_VAR]).toBe('test-worker-');
  });

  it('refuses to build without a provisioned work-request queue', () => {
    const { heartbeats: _missing, ...rest } = urls;
    expect(() => localEnv(endpoints, rest)).toThrow(/queue heartbeats was not provisioned/);
  });

  it('uses the cloud visibility timeouts (6 × consumer timeout + batching window)', () => {
    expect(visibilityTimeoutSeconds(QUEUES.scheduler, FUNCTIONS)).toBe(6 * 60); // no batching window
    expect(visibilityTimeoutSeconds(QUEUES.heartbeats, FUNCTIONS)).toBe(6 * 60 + 5);
    expect(visibilityTimeoutSeconds(QUEUES['server-tasks'], FUNCTIONS)).toBe(6 * 300);
    expect(visibilityTimeoutSeconds(QUEUES['file-verification'], FUNCTIONS)).toBe(5400);
  });
});

describe('worker queues on local-aws-sqs', () => {
  let sqs: StartedEmulator;
  let deps: Deps;
  const clients: SQSClient[] = [];

  beforeAll(async () => {
    sqs = await startSqs(0);
    // What the handlers of the local stack see (localEnv), minus what this test does not touch.
    deps = createAwsDeps({
      CONVEYOR_TABLE_MAIN: 'conveyor-main',
      AWS_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_SQS: sqs.endpoint,
      [WORKER_QUEUE_PREFIX_ENV_VAR]: workerQueuePrefix(),
    });
  });
  afterAll(async () => {
    for (const c of clients) c.destroy();
    await sqs.stop();
  });

  it('creates the queue idempotently and hands out an endpoint a worker reaches with the dummy credentials', async () => {
    const queueUrl = await deps.workerChannels.createQueue('worker-bee-lan');
    expect(queueUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\d{12}\/conveyor-worker-worker-bee-lan$/);
    expect(await deps.workerChannels.createQueue('worker-bee-lan')).toBe(queueUrl);

    const access = await deps.workerChannels.access(queueUrl);
    expect(access).toEqual({ queueUrl, region: LOCAL_REGION, endpoint: sqs.endpoint });
    expect(access.credentials).toBeUndefined();

    await deps.workerChannels.send(queueUrl, { type: 'work_request_available', workRequestId: 12 });
    // The worker process: nothing but the API's answer and the local dummy credentials.
    const worker = new SQSClient({ region: access.region, endpoint: access.endpoint!, credentials: LOCAL_CREDENTIALS });
    clients.push(worker);
    const { Messages } = await worker.send(new ReceiveMessageCommand({ QueueUrl: access.queueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 1 }));
    expect(Messages?.map((m) => JSON.parse(m.Body!))).toEqual([{ type: 'work_request_available', work_request_id: 12 }]);
  });

  it("keeps each worker's messages in its own queue", async () => {
    const a = await deps.workerChannels.createQueue('a');
    const b = await deps.workerChannels.createQueue('b');
    expect(a).not.toBe(b);
    await deps.workerChannels.send(b, { type: 'abort', workRequestId: 3 });
    const reader = new SQSClient({ region: LOCAL_REGION, endpoint: sqs.endpoint, credentials: LOCAL_CREDENTIALS });
    clients.push(reader);
    const fromA = await reader.send(new ReceiveMessageCommand({ QueueUrl: a, MaxNumberOfMessages: 1, WaitTimeSeconds: 0 }));
    expect(fromA.Messages ?? []).toEqual([]);
    const fromB = await reader.send(new ReceiveMessageCommand({ QueueUrl: b, MaxNumberOfMessages: 1, WaitTimeSeconds: 0 }));
    expect(fromB.Messages?.map((m) => JSON.parse(m.Body!))).toEqual([{ type: 'abort', work_request_id: 3 }]);
  });
});

describe('worker queues across a restart of the local stack', () => {
  it('re-creates the queues of registered workers; the URLs they hold keep working', async () => {
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    let sqs = await startSqs(0);
    const port = Number(new URL(sqs.endpoint).port);
    const client = () => new SQSClient({ region: LOCAL_REGION, endpoint: sqs.endpoint, credentials: LOCAL_CREDENTIALS });
    let sqsClient = client();
    const channels = () => new SqsWorkerChannels(sqsClient, { prefix: workerQueuePrefix(), region: LOCAL_REGION, endpoint: sqs.endpoint });
    try {
      const workers = new MemoryWorkerRepository();
      const url = await channels().createQueue('bee');
      const base: Worker = externalWorker('bee', { tokenHash: 'h', registeredAt: '2026-01-01T00:00:00Z', connectedAt: null, queueUrl: url });
      await workers.create(base);
      await workers.create({ ...base, name: 'never-got-a-queue', queueUrl: null });

      // Restart: a fresh, empty emulator on the same port.
      await sqs.stop();
      sqsClient.destroy();
      sqs = await startSqs(port);
      sqsClient = client();
      // Before the restore, notifying the worker is a logged no-op, not a failed scheduling pass.
      await channels().send(url, { type: 'work_request_available', workRequestId: 1 });
      expect(warn).toHaveBeenCalledWith(expect.stringMatching(/does not exist/));

      const logged: string[] = [];
      expect(await restoreWorkerQueues({ workers, workerChannels: channels() }, (_level, message) => logged.push(message))).toBe(1);
      expect(logged).toEqual(['re-created the queues of 1 registered worker(s)']);
      await channels().send(url, { type: 'work_request_available', workRequestId: 2 });
      const { Messages } = await sqsClient.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 1, WaitTimeSeconds: 1 }));
      expect(Messages?.map((m) => JSON.parse(m.Body!))).toEqual([{ type: 'work_request_available', work_request_id: 2 }]);
    } finally {
      warn.mockRestore();
      sqsClient.destroy();
      await sqs.stop();
    }
  });
});
