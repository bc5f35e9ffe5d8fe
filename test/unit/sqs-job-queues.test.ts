import 'aws-sdk-client-mock-jest';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { SqsJobQueues, parseJobMessage, parseJobMessageOf } from '../../shared/adapters/sqs/job-queues';

const sqsMock = mockClient(SQSClient);
const sqs = new SQSClient({ region: 'eu-west-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
const url = 'https://sqs.eu-west-1.amazonaws.com/123456789012/conveyor-file-verification';

beforeEach(() => sqsMock.reset());

describe('SqsJobQueues', () => {
  it('sends a typed JSON file-verification message to its queue', async () => {
    sqsMock.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
    await new SqsJobQueues(sqs, { fileVerification: url }).enqueueFileVerification({ artifactId: 42, path: 'pool/ü/a b.deb' });
    expect(sqsMock).toHaveReceivedCommandTimes(SendMessageCommand, 1);
    const input = sqsMock.commandCalls(SendMessageCommand)[0]!.args[0].input;
    expect(input.QueueUrl).toBe(url);
    expect(JSON.parse(input.MessageBody!)).toEqual({ type: 'file-verification', artifactId: 42, path: 'pool/ü/a b.deb' });
    expect(input.MessageGroupId).toBeUndefined();
    expect(input.MessageDeduplicationId).toBeUndefined();
  });

  it('adds a message group and a content-based deduplication id on a FIFO queue', async () => {
    sqsMock.on(SendMessageCommand).resolves({});
    const queues = new SqsJobQueues(sqs, { fileVerification: `${url}.fifo` });
    await queues.enqueueFileVerification({ artifactId: 7, path: 'a' });
    await queues.enqueueFileVerification({ artifactId: 7, path: 'a' });
    await queues.enqueueFileVerification({ artifactId: 7, path: 'b' });
    const inputs = sqsMock.commandCalls(SendMessageCommand).map((c) => c.args[0].input);
    expect(inputs.map((i) => i.MessageGroupId)).toEqual(['artifact-7', 'artifact-7', 'artifact-7']);
    expect(inputs[0]!.MessageDeduplicationId).toMatch(/^[0-9a-f]{64}$/);
    expect(inputs[1]!.MessageDeduplicationId).toBe(inputs[0]!.MessageDeduplicationId);
    expect(inputs[2]!.MessageDeduplicationId).not.toBe(inputs[0]!.MessageDeduplicationId);
  });

  it('propagates send failures', async () => {
    sqsMock.on(SendMessageCommand).rejects(new Error('throttled'));
    await expect(new SqsJobQueues(sqs, { fileVerification: url }).enqueueFileVerification({ artifactId: 1, path: 'a' })).rejects.toThrow('throttled');
  });

  it('refuses an empty queue URL', () => {
    expect(() => new SqsJobQueues(sqs, { fileVerification: '' })).toThrow(/file-verification queue URL/);
    expect(() => new SqsJobQueues(sqs, { heartbeats: '' })).toThrow(/heartbeats queue URL/);
  });
});

describe('SqsJobQueues: work-request queues', () => {
  const base = 'https://sqs.eu-west-1.amazonaws.com/123456789012/conveyor-';
  const urls = { scheduler: `${base}scheduler`, heartbeats: `${base}heartbeats`, serverTasks: `${base}server-tasks` };
  const sent = () => sqsMock.commandCalls(SendMessageCommand).map((c) => ({ url: c.args[0].input.QueueUrl, body: JSON.parse(c.args[0].input.MessageBody!) }));

  it('sends each kind of message to its own queue', async () => {
    sqsMock.on(SendMessageCommand).resolves({});
    const queues = new SqsJobQueues(sqs, urls);
    await queues.enqueueSchedulerEvent({ type: 'work-request-pending', workRequestId: 7 });
    await queues.enqueueSchedulerEvent({ type: 'worker-available', worker: 'bee' });
    await queues.enqueueHeartbeat({ workRequestId: 7, worker: 'bee', at: '2026-01-01T00:00:00.000Z', logtail: ['a', 'b'] });
    await queues.enqueueServerTask({ workRequestId: 9 });
    expect(sent()).toEqual([
      { url: urls.scheduler, body: { type: 'scheduler-event', event: { type: 'work-request-pending', workRequestId: 7 } } },
      { url: urls.scheduler, body: { type: 'scheduler-event', event: { type: 'worker-available', worker: 'bee' } } },
      { url: urls.heartbeats, body: { type: 'heartbeat', workRequestId: 7, worker: 'bee', at: '2026-01-01T00:00:00.000Z', logtail: ['a', 'b'] } },
      { url: urls.serverTasks, body: { type: 'server-task', workRequestId: 9 } },
    ]);
    // What is sent parses back as the message its consumer expects.
    for (const c of sqsMock.commandCalls(SendMessageCommand)) expect(() => parseJobMessage(c.args[0].input.MessageBody!)).not.toThrow();
  });

  it('fails on use, naming the variable, when a queue was not configured for this function', async () => {
    const queues = new SqsJobQueues(sqs, { scheduler: urls.scheduler });
    await expect(queues.enqueueHeartbeat({ workRequestId: 1, worker: 'w', at: '2026-01-01T00:00:00Z', logtail: [] })).rejects.toThrow(
      /CONVEYOR_QUEUE_HEARTBEATS_URL is not set/,
    );
    await expect(queues.enqueueServerTask({ workRequestId: 1 })).rejects.toThrow(/CONVEYOR_QUEUE_SERVER_TASKS_URL is not set/);
    await expect(queues.enqueueFileVerification({ artifactId: 1, path: 'p' })).rejects.toThrow(/CONVEYOR_QUEUE_FILE_VERIFICATION_URL is not set/);
    expect(sqsMock).toHaveReceivedCommandTimes(SendMessageCommand, 0);
  });
});

describe('SqsJobQueues: orchestration (FIFO)', () => {
  const fifo = 'https://sqs.eu-west-1.amazonaws.com/123456789012/conveyor-orchestrator.fifo';
  const inputs = () => sqsMock.commandCalls(SendMessageCommand).map((c) => c.args[0].input);

  it('groups by root workflow and sends the typed message', async () => {
    sqsMock.on(SendMessageCommand).resolves({});
    const queues = new SqsJobQueues(sqs, { orchestrator: fifo });
    await queues.enqueueOrchestration({ rootId: 3, kind: 'populate', workRequestId: 3 });
    await queues.enqueueOrchestration({ rootId: 3, kind: 'child-finished', workRequestId: 12 });
    await queues.enqueueOrchestration({ rootId: 40, kind: 'callback', workRequestId: 41 });
    await queues.enqueueOrchestration({ rootId: 40, kind: 'reconcile', workRequestId: 40 });
    expect(inputs().map((i) => [i.QueueUrl, i.MessageGroupId, JSON.parse(i.MessageBody!)])).toEqual([
      [fifo, '3', { type: 'orchestration', rootId: 3, kind: 'populate', workRequestId: 3 }],
      [fifo, '3', { type: 'orchestration', rootId: 3, kind: 'child-finished', workRequestId: 12 }],
      [fifo, '40', { type: 'orchestration', rootId: 40, kind: 'callback', workRequestId: 41 }],
      [fifo, '40', { type: 'orchestration', rootId: 40, kind: 'reconcile', workRequestId: 40 }],
    ]);
    for (const i of inputs()) expect(parseJobMessageOf(i.MessageBody!, 'orchestration')).toMatchObject({ type: 'orchestration' });
  });

  it('never lets SQS deduplicate a repeated event: a retried workflow is populated again under the same id', async () => {
    sqsMock.on(SendMessageCommand).resolves({});
    const queues = new SqsJobQueues(sqs, { orchestrator: fifo });
    await queues.enqueueOrchestration({ rootId: 3, kind: 'populate', workRequestId: 3 });
    await queues.enqueueOrchestration({ rootId: 3, kind: 'populate', workRequestId: 3 });
    await queues.enqueueOrchestration({ rootId: 3, kind: 'child-finished', workRequestId: 9 });
    await queues.enqueueOrchestration({ rootId: 3, kind: 'child-finished', workRequestId: 9 });
    const ids = inputs().map((i) => i.MessageDeduplicationId!);
    expect(new Set(ids).size).toBe(4);
    expect(ids[0]).toMatch(/^populate-3-[0-9a-f-]{36}$/);
    expect(ids[2]).toMatch(/^child-finished-9-[0-9a-f-]{36}$/);
    for (const id of ids) expect(id.length).toBeLessThanOrEqual(128);
  });

  it('refuses a standard queue (ordering per root needs FIFO) and a missing URL', async () => {
    await expect(
      new SqsJobQueues(sqs, { orchestrator: fifo.replace('.fifo', '') }).enqueueOrchestration({ rootId: 1, kind: 'populate', workRequestId: 1 }),
    ).rejects.toThrow(/must be FIFO/);
    await expect(new SqsJobQueues(sqs, {}).enqueueOrchestration({ rootId: 1, kind: 'populate', workRequestId: 1 })).rejects.toThrow(
      /CONVEYOR_QUEUE_ORCHESTRATOR_URL is not set/,
    );
    expect(sqsMock).toHaveReceivedCommandTimes(SendMessageCommand, 0);
  });

  it.each([
    '{"type":"orchestration","rootId":3,"kind":"explode","workRequestId":3}',
    '{"type":"orchestration","rootId":0,"kind":"populate","workRequestId":3}',
    '{"type":"orchestration","kind":"populate","workRequestId":3}',
    '{"type":"orchestration","rootId":3,"kind":"populate"}',
  ])('rejects the malformed orchestration message %s', (body) => {
    expect(() => parseJobMessage(body)).toThrow(/not a Conveyor job message/);
  });
});

describe('parseJobMessage', () => {
  it('reads back what was sent', () => {
    expect(parseJobMessage('{"type":"file-verification","artifactId":3,"path":"x/y"}')).toEqual({ type: 'file-verification', artifactId: 3, path: 'x/y' });
    expect(parseJobMessage('{"type":"scheduler-event","event":{"type":"periodic"}}')).toEqual({ type: 'scheduler-event', event: { type: 'periodic' } });
    expect(parseJobMessage('{"type":"server-task","workRequestId":4,"extra":1}')).toEqual({ type: 'server-task', workRequestId: 4 });
    expect(parseJobMessageOf('{"type":"heartbeat","workRequestId":4,"worker":"w","at":"2026-01-01T00:00:00Z","logtail":[]}', 'heartbeat')).toEqual({
      type: 'heartbeat',
      workRequestId: 4,
      worker: 'w',
      at: '2026-01-01T00:00:00Z',
      logtail: [],
    });
  });
  it('checks the type a consumer expects', () => {
    expect(() => parseJobMessageOf('{"type":"server-task","workRequestId":4}', 'heartbeat')).toThrow(/not a Conveyor heartbeat message/);
  });
  it.each([
    '{}',
    '{"type":"file-verification","artifactId":"3","path":"x"}',
    '{"type":"other","artifactId":3,"path":"x"}',
    'null',
    '[]',
    'not json',
    '{"type":"scheduler-event","event":{"type":"work-request-pending"}}',
    '{"type":"scheduler-event","event":{"type":"nonsense"}}',
    '{"type":"heartbeat","workRequestId":4,"worker":"w","at":"yesterday","logtail":[]}',
    '{"type":"heartbeat","workRequestId":4,"worker":"w","at":"2026-01-01T00:00:00Z","logtail":[1]}',
    '{"type":"server-task","workRequestId":0}',
    '{"type":"server-task","workRequestId":1.5}',
  ])(
    'rejects %s',
    (body) => {
      expect(() => parseJobMessage(body)).toThrow(/not a Conveyor job message/);
    },
  );
});
