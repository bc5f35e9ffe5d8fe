import { DeleteMessageBatchCommand, ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import type { FunctionSpec } from '../../shared/manifest';
import type { LambdaHandler, Log } from '../../cli/dev/handlers';
import {
  queueArnFromUrl,
  receiveBatch,
  recordsToDelete,
  schedulePeriodFromEnv,
  startQueuePollers,
  startScheduleTimers,
  toSqsRecord,
  type ScheduleInvocationEvent,
} from '../../cli/dev/pollers';

const QUEUE_URL = 'http://127.0.0.1:9324/123456789012/conveyor-file-verification';

function message(id: string): Message {
  return {
    MessageId: id,
    ReceiptHandle: `rh-${id}`,
    Body: `body-${id}`,
    MD5OfBody: 'md5',
    Attributes: { ApproximateReceiveCount: '2', SentTimestamp: '1000', SenderId: 'sender', ApproximateFirstReceiveTimestamp: '1001' },
  };
}

/**
 * A fake SQS client: receives are served from `batches` (then hang until aborted, like an empty
 * long poll), deletes are recorded.
 */
class FakeSqs {
  readonly receives: { MaxNumberOfMessages?: number; WaitTimeSeconds?: number }[] = [];
  readonly deleted: string[][] = [];
  constructor(private readonly batches: Message[][]) {}

  async send(command: unknown, options?: { abortSignal?: AbortSignal }): Promise<unknown> {
    if (command instanceof ReceiveMessageCommand) {
      this.receives.push({ MaxNumberOfMessages: command.input.MaxNumberOfMessages, WaitTimeSeconds: command.input.WaitTimeSeconds });
      const batch = this.batches.shift();
      if (batch) return { Messages: batch.slice(0, command.input.MaxNumberOfMessages ?? 1) };
      return new Promise((_, reject) => {
        const signal = options?.abortSignal;
        if (!signal) return;
        signal.addEventListener('abort', () => reject(Object.assign(new Error('aborted'), { name: 'AbortError' })), { once: true });
      });
    }
    if (command instanceof DeleteMessageBatchCommand) {
      this.deleted.push((command.input.Entries ?? []).map((e) => e.ReceiptHandle ?? ''));
      return { Successful: command.input.Entries, Failed: [] };
    }
    throw new Error(`unexpected command ${String(command)}`);
  }

  asClient(): SQSClient {
    return this as unknown as SQSClient;
  }
}

function consumer(batchSize: number, maxBatchingWindowSeconds = 0): FunctionSpec {
  return {
    name: 'consumer',
    entry: 'functions/consumer.ts',
    description: 'test consumer',
    timeoutSeconds: 60,
    memoryMb: 128,
    queue: { name: 'file-verification', batchSize, maxBatchingWindowSeconds },
    uses: { tables: {} },
  };
}

const quietLog: Log = () => undefined;

async function eventually(condition: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('SQS events', () => {
  it('builds Lambda SQS records from received messages', () => {
    const record = toSqsRecord(
      {
        ...message('m1'),
        Attributes: { ...message('m1').Attributes, MessageGroupId: 'g1' },
        MD5OfMessageAttributes: 'md5attrs',
        MessageAttributes: {
          kind: { DataType: 'String', StringValue: 'verify' },
          blob: { DataType: 'Binary', BinaryValue: Uint8Array.from([1, 2, 3]) },
        },
      },
      'arn:aws:sqs:us-east-1:123456789012:q',
      'us-east-1',
    );
    expect(record).toEqual({
      messageId: 'm1',
      receiptHandle: 'rh-m1',
      body: 'body-m1',
      attributes: {
        ApproximateReceiveCount: '2',
        SentTimestamp: '1000',
        SenderId: 'sender',
        ApproximateFirstReceiveTimestamp: '1001',
        MessageGroupId: 'g1',
      },
      messageAttributes: {
        kind: { stringValue: 'verify', stringListValues: [], binaryListValues: [], dataType: 'String' },
        blob: { binaryValue: 'AQID', stringListValues: [], binaryListValues: [], dataType: 'Binary' },
      },
      md5OfBody: 'md5',
      md5OfMessageAttributes: 'md5attrs',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:q',
      awsRegion: 'us-east-1',
    });
  });

  it('derives the queue ARN from its URL', () => {
    expect(queueArnFromUrl(QUEUE_URL, 'us-east-1')).toBe('arn:aws:sqs:us-east-1:123456789012:conveyor-file-verification');
    expect(queueArnFromUrl('https://sqs.eu-west-1.amazonaws.com/999/q.fifo', 'eu-west-1')).toBe('arn:aws:sqs:eu-west-1:999:q.fifo');
  });

  it('deletes everything but the reported batch item failures', () => {
    const records = ['a', 'b', 'c'].map((id) => toSqsRecord(message(id), 'arn', 'us-east-1'));
    const ids = (rs: typeof records) => rs.map((r) => r.messageId);
    expect(ids(recordsToDelete(records, undefined))).toEqual(['a', 'b', 'c']);
    expect(ids(recordsToDelete(records, { batchItemFailures: [] }))).toEqual(['a', 'b', 'c']);
    expect(ids(recordsToDelete(records, { batchItemFailures: [{ itemIdentifier: 'b' }] }))).toEqual(['a', 'c']);
    // As in Lambda, an identifier that is not in the batch fails the whole batch.
    expect(() => recordsToDelete(records, { batchItemFailures: [{ itemIdentifier: 'zzz' }] })).toThrow(/not in the batch/);
    expect(() => recordsToDelete(records, { batchItemFailures: [{ itemIdentifier: '' }] })).toThrow();
  });
});

describe('receiveBatch', () => {
  it('long-polls for one message, then tops the batch up within the batching window', async () => {
    const sqs = new FakeSqs([[message('a')], [message('b'), message('c')]]);
    const messages = await receiveBatch(sqs.asClient(), QUEUE_URL, { batchSize: 3, maxBatchingWindowSeconds: 2 }, 20, new AbortController().signal);
    expect(messages.map((m) => m.MessageId)).toEqual(['a', 'b', 'c']);
    expect(sqs.receives).toEqual([
      { MaxNumberOfMessages: 1, WaitTimeSeconds: 20 },
      { MaxNumberOfMessages: 2, WaitTimeSeconds: 2 },
    ]);
  });

  it('fills batches above 10 with several receives of at most 10 (SQS limit)', async () => {
    const ids = Array.from({ length: 100 }, (_, i) => `m${i}`);
    const sqs = new FakeSqs([[message(ids[0]!)], ...Array.from({ length: 10 }, (_, i) => ids.slice(1 + i * 10, 11 + i * 10).map(message))]);
    const messages = await receiveBatch(sqs.asClient(), QUEUE_URL, { batchSize: 100, maxBatchingWindowSeconds: 5 }, 20, new AbortController().signal);
    expect(messages.map((m) => m.MessageId)).toEqual(ids);
    expect(sqs.receives[0]).toEqual({ MaxNumberOfMessages: 1, WaitTimeSeconds: 20 });
    expect(sqs.receives.slice(1).map((r) => r.MaxNumberOfMessages)).toEqual([10, 10, 10, 10, 10, 10, 10, 10, 10, 9]);
    for (const r of sqs.receives.slice(1)) {
      expect(r.WaitTimeSeconds).toBeGreaterThanOrEqual(1);
      expect(r.WaitTimeSeconds).toBeLessThanOrEqual(5);
    }
  });

  it('stops topping up when a receive comes back empty', async () => {
    const sqs = new FakeSqs([[message('a')], [message('b'), message('c')], []]);
    const messages = await receiveBatch(sqs.asClient(), QUEUE_URL, { batchSize: 100, maxBatchingWindowSeconds: 5 }, 20, new AbortController().signal);
    expect(messages.map((m) => m.MessageId)).toEqual(['a', 'b', 'c']);
    expect(sqs.receives).toHaveLength(3);
  });

  it('stops topping up once the batching window has passed', async () => {
    jest.useFakeTimers({ now: new Date('2026-03-01T00:00:00Z') });
    try {
      // Each top-up "waits" 3 s and returns 10 messages: a 5 s window allows two of them.
      const sqs = new FakeSqs([[message('first')], ...Array.from({ length: 9 }, (_, b) => Array.from({ length: 10 }, (_, i) => message(`b${b}-${i}`)))]);
      const client = {
        send: async (command: unknown, options?: { abortSignal?: AbortSignal }) => {
          if (sqs.receives.length > 0) jest.setSystemTime(Date.now() + 3_000);
          return sqs.send(command, options);
        },
      } as unknown as SQSClient;
      const messages = await receiveBatch(client, QUEUE_URL, { batchSize: 100, maxBatchingWindowSeconds: 5 }, 20, new AbortController().signal);
      expect(messages).toHaveLength(21);
      expect(sqs.receives.map((r) => r.WaitTimeSeconds)).toEqual([20, 5, 2]);
    } finally {
      jest.useRealTimers();
    }
  });

  it('does a single receive for a batch size of one', async () => {
    const sqs = new FakeSqs([[message('a')]]);
    const messages = await receiveBatch(sqs.asClient(), QUEUE_URL, { batchSize: 1, maxBatchingWindowSeconds: 0 }, 5, new AbortController().signal);
    expect(messages).toHaveLength(1);
    expect(sqs.receives).toEqual([{ MaxNumberOfMessages: 1, WaitTimeSeconds: 5 }]);
  });
});

describe('queue pollers', () => {
  it('calls the handler with an SQS event and deletes only the messages that did not fail', async () => {
    const sqs = new FakeSqs([[message('a')], [message('b'), message('c')]]);
    const events: SQSEvent[] = [];
    const handler: LambdaHandler = async (event) => {
      events.push(event as SQSEvent);
      return { batchItemFailures: [{ itemIdentifier: 'b' }] };
    };
    const pollers = startQueuePollers({
      functions: [consumer(3)],
      sqs: sqs.asClient(),
      queueUrls: { 'file-verification': QUEUE_URL },
      loadHandler: async () => handler,
      log: quietLog,
    });
    await eventually(() => sqs.deleted.length === 1);
    await pollers.stop();
    expect(events).toHaveLength(1);
    expect(events[0]!.Records.map((r) => [r.messageId, r.eventSource, r.eventSourceARN])).toEqual([
      ['a', 'aws:sqs', 'arn:aws:sqs:us-east-1:123456789012:conveyor-file-verification'],
      ['b', 'aws:sqs', 'arn:aws:sqs:us-east-1:123456789012:conveyor-file-verification'],
      ['c', 'aws:sqs', 'arn:aws:sqs:us-east-1:123456789012:conveyor-file-verification'],
    ]);
    expect(sqs.deleted).toEqual([['rh-a', 'rh-c']]);
  });

  it('deletes nothing when the handler throws, and keeps polling', async () => {
    const sqs = new FakeSqs([[message('a')], [message('b')]]);
    let calls = 0;
    const logged: string[] = [];
    const pollers = startQueuePollers({
      functions: [consumer(1)],
      sqs: sqs.asClient(),
      queueUrls: { 'file-verification': QUEUE_URL },
      loadHandler: async () => async () => {
        calls += 1;
        throw new Error('handler failed');
      },
      log: (_level, msg) => logged.push(msg),
    });
    await eventually(() => calls === 2);
    await pollers.stop();
    expect(sqs.deleted).toEqual([]);
    expect(logged.some((m) => m.includes('handler failed'))).toBe(true);
  });

  it('stops promptly by aborting the long poll', async () => {
    const sqs = new FakeSqs([]);
    const pollers = startQueuePollers({
      functions: [consumer(1)],
      sqs: sqs.asClient(),
      queueUrls: { 'file-verification': QUEUE_URL },
      loadHandler: async () => async () => undefined,
      log: quietLog,
    });
    await eventually(() => sqs.receives.length === 1);
    const started = Date.now();
    await pollers.stop();
    expect(Date.now() - started).toBeLessThan(500);
  });

  it('refuses a queue trigger without a queue URL', () => {
    expect(() =>
      startQueuePollers({ functions: [consumer(1)], sqs: new FakeSqs([]).asClient(), queueUrls: {}, loadHandler: async () => async () => undefined }),
    ).toThrow(/no URL/);
  });
});

describe('schedule timers', () => {
  beforeEach(() => jest.useFakeTimers({ now: new Date('2026-03-01T00:00:00Z') }));
  afterEach(() => jest.useRealTimers());

  const scheduled: FunctionSpec = {
    name: 'sweeper',
    entry: 'functions/sweeper.ts',
    description: 'test schedule',
    timeoutSeconds: 60,
    memoryMb: 128,
    schedule: { id: 'sweep', rateMinutes: 5 },
    uses: { tables: {} },
  };

  it('invokes the handler every rateMinutes with a scheduled event, never overlapping runs', async () => {
    const events: ScheduleInvocationEvent[] = [];
    let finishRun: (() => void) | undefined;
    const logged: string[] = [];
    const timers = startScheduleTimers({
      functions: [scheduled, consumer(1)],
      log: (_level, msg) => logged.push(msg),
      loadHandler: async () => (event) => {
        events.push(event as ScheduleInvocationEvent);
        return new Promise<void>((resolve) => (finishRun = resolve));
      },
    });
    await jest.advanceTimersByTimeAsync(4 * 60_000);
    expect(events).toHaveLength(0);
    await jest.advanceTimersByTimeAsync(60_000);
    expect(events).toHaveLength(1);
    // What the cloud's EventBridge Scheduler schedule sends (infra/stacks/schedules-stack.ts).
    expect(events[0]).toEqual({ scheduleId: 'sweep', scheduledTime: '2026-03-01T00:05:00Z' });
    // The first run is still going at the next tick: skipped.
    await jest.advanceTimersByTimeAsync(5 * 60_000);
    expect(events).toHaveLength(1);
    expect(logged.some((m) => m.includes('skipping'))).toBe(true);
    finishRun!();
    await jest.advanceTimersByTimeAsync(5 * 60_000);
    expect(events).toHaveLength(2);
    finishRun!();
    await timers.stop();
    await jest.advanceTimersByTimeAsync(60 * 60_000);
    expect(events).toHaveLength(2);
  });
});

describe('schedule period override (CONVEYOR_DEV_SCHEDULE_SECONDS)', () => {
  beforeEach(() => jest.useFakeTimers({ now: new Date('2026-03-01T00:00:00Z') }));
  afterEach(() => jest.useRealTimers());

  const every = (id: string, rateMinutes: number): FunctionSpec => ({
    name: id,
    entry: `functions/${id}.ts`,
    description: 'test schedule',
    timeoutSeconds: 60,
    memoryMb: 128,
    schedule: { id, rateMinutes },
    uses: { tables: {} },
  });

  it('fires every schedule at the overriding period', async () => {
    const seen: string[] = [];
    const timers = startScheduleTimers({
      functions: [every('scheduler-tick', 1), every('watchdog', 5)],
      periodSeconds: 2,
      log: () => undefined,
      loadHandler: async (fn) => async () => {
        seen.push(fn.name);
      },
    });
    await jest.advanceTimersByTimeAsync(1_999);
    expect(seen).toEqual([]);
    await jest.advanceTimersByTimeAsync(1);
    expect(seen.sort()).toEqual(['scheduler-tick', 'watchdog']);
    await jest.advanceTimersByTimeAsync(4_000);
    expect(seen).toHaveLength(6);
    await timers.stop();
  });

  it('reads and checks the variable', () => {
    expect(schedulePeriodFromEnv({})).toBeUndefined();
    expect(schedulePeriodFromEnv({ CONVEYOR_DEV_SCHEDULE_SECONDS: '' })).toBeUndefined();
    expect(schedulePeriodFromEnv({ CONVEYOR_DEV_SCHEDULE_SECONDS: '2' })).toBe(2);
    expect(schedulePeriodFromEnv({ CONVEYOR_DEV_SCHEDULE_SECONDS: '0.5' })).toBe(0.5);
    for (const bad of ['0', '-1', 'soon', 'Infinity', '1e9']) {
      expect(() => schedulePeriodFromEnv({ CONVEYOR_DEV_SCHEDULE_SECONDS: bad })).toThrow(/CONVEYOR_DEV_SCHEDULE_SECONDS/);
    }
  });
});
