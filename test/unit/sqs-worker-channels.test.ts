import 'aws-sdk-client-mock-jest';
import {
  CreateQueueCommand,
  GetQueueUrlCommand,
  QueueDoesNotExist,
  QueueNameExists,
  SendMessageCommand,
  SetQueueAttributesCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { SqsWorkerChannels, WORKER_QUEUE_ATTRIBUTES, workerMessageBody } from '../../shared/adapters/sqs/worker-channels';

const sqsMock = mockClient(SQSClient);
const stsMock = mockClient(STSClient);
const creds = { accessKeyId: 'a', secretAccessKey: 'b' };
const sqs = new SQSClient({ region: 'eu-west-1', credentials: creds });
const sts = new STSClient({ region: 'eu-west-1', credentials: creds });
const ROLE = 'arn:aws:iam::123456789012:role/Conveyor-Api-WorkerQueueAccessRole';
const URL_BEE = 'https://sqs.eu-west-1.amazonaws.com/123456789012/conveyor-worker-bee';

beforeEach(() => {
  sqsMock.reset();
  stsMock.reset();
});

const cloud = () => new SqsWorkerChannels(sqs, { prefix: 'conveyor-worker-', roleArn: ROLE, sts, region: 'eu-west-1' });
const local = () => new SqsWorkerChannels(sqs, { prefix: 'conveyor-worker-', region: 'us-east-1', endpoint: 'http://127.0.0.1:9324' });

describe('SqsWorkerChannels.createQueue', () => {
  it('creates <prefix><name> with long polling, one-day retention and SSE', async () => {
    sqsMock.on(CreateQueueCommand).resolves({ QueueUrl: URL_BEE });
    expect(await cloud().createQueue('bee')).toBe(URL_BEE);
    expect(sqsMock).toHaveReceivedCommandWith(CreateQueueCommand, {
      QueueName: 'conveyor-worker-bee',
      Attributes: { ReceiveMessageWaitTimeSeconds: '20', MessageRetentionPeriod: '86400', SqsManagedSseEnabled: 'true' },
    });
  });

  it('reuses a queue that exists with other attributes, and sets ours', async () => {
    sqsMock.on(CreateQueueCommand).rejects(new QueueNameExists({ message: 'exists', $metadata: {} }));
    sqsMock.on(GetQueueUrlCommand).resolves({ QueueUrl: URL_BEE });
    sqsMock.on(SetQueueAttributesCommand).resolves({});
    expect(await cloud().createQueue('bee')).toBe(URL_BEE);
    expect(sqsMock).toHaveReceivedCommandWith(GetQueueUrlCommand, { QueueName: 'conveyor-worker-bee' });
    expect(sqsMock).toHaveReceivedCommandWith(SetQueueAttributesCommand, { QueueUrl: URL_BEE, Attributes: WORKER_QUEUE_ATTRIBUTES });
  });

  it('propagates other failures', async () => {
    sqsMock.on(CreateQueueCommand).rejects(new Error('AccessDenied'));
    await expect(cloud().createQueue('bee')).rejects.toThrow('AccessDenied');
  });

  it('keeps names within SQS limits: long names are cut and made unique with a hash', () => {
    const channels = cloud();
    expect(channels.queueName('worker-bee-lan-2')).toBe('conveyor-worker-worker-bee-lan-2');
    const long1 = channels.queueName(`${'a'.repeat(100)}-1`);
    const long2 = channels.queueName(`${'a'.repeat(100)}-2`);
    expect(long1).toHaveLength(80);
    expect(long1.startsWith('conveyor-worker-aaaa')).toBe(true);
    expect(long1).not.toBe(long2);
    expect(channels.queueName(`${'a'.repeat(100)}-1`)).toBe(long1); // deterministic: idempotent creation
    expect(channels.queueName('x'.repeat(64))).toBe(`conveyor-worker-${'x'.repeat(64)}`); // exactly 80: kept
    expect(() => channels.queueName('bad.name')).toThrow(/invalid worker name/);
    expect(() => channels.queueName('')).toThrow(/invalid worker name/);
  });

  it('refuses a prefix SQS could not use, and a role without an STS client', () => {
    expect(() => new SqsWorkerChannels(sqs, { prefix: 'conveyor.worker.', region: 'eu-west-1' })).toThrow(/prefix/);
    expect(() => new SqsWorkerChannels(sqs, { prefix: 'w-', region: 'eu-west-1', roleArn: ROLE })).toThrow(/STS/);
  });
});

describe('SqsWorkerChannels.send', () => {
  it('sends the snake_case JSON the worker reads', async () => {
    sqsMock.on(SendMessageCommand).resolves({});
    await cloud().send(URL_BEE, { type: 'work_request_available', workRequestId: 42 });
    await cloud().send(URL_BEE, { type: 'abort', workRequestId: 7 });
    const calls = sqsMock.commandCalls(SendMessageCommand).map((c) => c.args[0].input);
    expect(calls.map((i) => i.QueueUrl)).toEqual([URL_BEE, URL_BEE]);
    expect(calls.map((i) => JSON.parse(i.MessageBody!))).toEqual([
      { type: 'work_request_available', work_request_id: 42 },
      { type: 'abort', work_request_id: 7 },
    ]);
    expect(workerMessageBody({ type: 'abort', workRequestId: 1 })).toBe('{"type":"abort","work_request_id":1}');
  });

  it('logs, and does not throw, when the queue is gone (nobody listens: get-next resynchronises the worker)', async () => {
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      sqsMock.on(SendMessageCommand).rejects(new QueueDoesNotExist({ message: 'gone', $metadata: {} }));
      await expect(cloud().send(URL_BEE, { type: 'work_request_available', workRequestId: 3 })).resolves.toBeUndefined();
      expect(warn).toHaveBeenCalledWith(expect.stringMatching(/conveyor-worker-bee does not exist.*work request 3/));
    } finally {
      warn.mockRestore();
    }
  });

  it('propagates other send failures', async () => {
    sqsMock.on(SendMessageCommand).rejects(new Error('throttled'));
    await expect(cloud().send(URL_BEE, { type: 'abort', workRequestId: 3 })).rejects.toThrow('throttled');
  });
});

describe('SqsWorkerChannels.access on AWS', () => {
  const expiration = new Date('2026-05-01T12:00:00Z');

  beforeEach(() => sqsMock.on(CreateQueueCommand).resolves({ QueueUrl: URL_BEE }));

  it('re-creates the queue (idempotent) before handing out access to it', async () => {
    stsMock.on(AssumeRoleCommand).resolves({ Credentials: { AccessKeyId: 'k', SecretAccessKey: 's', SessionToken: 't', Expiration: new Date(0) } });
    await cloud().access(URL_BEE);
    expect(sqsMock).toHaveReceivedCommandWith(CreateQueueCommand, { QueueName: 'conveyor-worker-bee', Attributes: WORKER_QUEUE_ATTRIBUTES });
  });

  it('assumes the access role with a session policy naming exactly that queue, for one hour', async () => {
    stsMock.on(AssumeRoleCommand).resolves({
      Credentials: { AccessKeyId: 'ASIA1', SecretAccessKey: 'secret', SessionToken: 'token', Expiration: expiration },
    });
    const access = await cloud().access(URL_BEE);
    expect(access).toEqual({
      queueUrl: URL_BEE,
      region: 'eu-west-1',
      credentials: { accessKeyId: 'ASIA1', secretAccessKey: 'secret', sessionToken: 'token', expiration: '2026-05-01T12:00:00.000Z' },
    });
    expect(stsMock).toHaveReceivedCommandTimes(AssumeRoleCommand, 1);
    const input = stsMock.commandCalls(AssumeRoleCommand)[0]!.args[0].input;
    expect(input.RoleArn).toBe(ROLE);
    expect(input.DurationSeconds).toBe(900); // the least STS grants: a disabled worker's session dies within 15 min
    expect(input.RoleSessionName).toBe('conveyor-worker-bee');
    const policy = JSON.parse(input.Policy!);
    expect(policy).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueAttributes'],
          Resource: 'arn:aws:sqs:eu-west-1:123456789012:conveyor-worker-bee',
        },
      ],
    });
    // Nothing broader: no wildcard anywhere, no send, no other queue.
    expect(input.Policy).not.toContain('*');
    expect(input.Policy).not.toContain('SendMessage');
  });

  it('uses the partition of the region', () => {
    const cn = new SqsWorkerChannels(sqs, { prefix: 'conveyor-worker-', roleArn: ROLE, sts, region: 'cn-north-1' });
    expect(cn.queueArn('https://sqs.cn-north-1.amazonaws.com.cn/123456789012/conveyor-worker-bee')).toBe(
      'arn:aws-cn:sqs:cn-north-1:123456789012:conveyor-worker-bee',
    );
  });

  it('refuses queues that are not worker queues, or not queue URLs, without calling STS', async () => {
    for (const bad of [
      'https://sqs.eu-west-1.amazonaws.com/123456789012/conveyor-scheduler',
      'https://sqs.eu-west-1.amazonaws.com/123456789012/conveyor-worker-*',
      'https://sqs.eu-west-1.amazonaws.com/conveyor-worker-bee',
      'https://sqs.eu-west-1.amazonaws.com/123456789012/conveyor-worker-bee/x',
      'not a url',
    ]) {
      await expect(cloud().access(bad)).rejects.toThrow();
    }
    expect(stsMock).toHaveReceivedCommandTimes(AssumeRoleCommand, 0);
    expect(sqsMock).toHaveReceivedCommandTimes(CreateQueueCommand, 0);
  });

  it('fails when STS returns no credentials', async () => {
    stsMock.on(AssumeRoleCommand).resolves({});
    await expect(cloud().access(URL_BEE)).rejects.toThrow(/no credentials/);
  });
});

describe('SqsWorkerChannels.access on the local stack', () => {
  it('returns the URL (as SQS answers it now), region and endpoint, and no credentials', async () => {
    const stored = 'http://127.0.0.1:9000/123456789012/conveyor-worker-bee';
    const url = 'http://127.0.0.1:9324/123456789012/conveyor-worker-bee';
    sqsMock.on(CreateQueueCommand).resolves({ QueueUrl: url });
    expect(await local().access(stored)).toEqual({ queueUrl: url, region: 'us-east-1', endpoint: 'http://127.0.0.1:9324' });
    expect(stsMock).toHaveReceivedCommandTimes(AssumeRoleCommand, 0);
  });
});
