/**
 * The queue and schedule handlers of functions/: scheduler, heartbeat-applier, watchdog,
 * server-task-runner. Batch semantics with stubbed use cases, then each with the real use case
 * over the memory deps.
 */
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { heartbeatHandler } from '../../functions/heartbeat-applier';
import { schedulerHandler } from '../../functions/scheduler';
import { serverTaskHandler } from '../../functions/server-task-runner';
import { staleAfterMs, watchdogHandler } from '../../functions/watchdog';
import { EVENT_PASS, TICK_PASS, schedule } from '../../shared/app/scheduler';
import { runServerTask } from '../../shared/app/server-tasks';
import { applyHeartbeats } from '../../shared/app/heartbeats';
import { createWorkRequest } from '../../shared/app/work-requests';
import { getNextForWorker } from '../../shared/app/workers';
import type { Deps } from '../../shared/ports';
import { logger } from '../../shared/observability/logger';
import { createSchedulingWorld, type SchedulingWorld } from '../support/scheduling';

let errors: jest.SpyInstance;
beforeEach(() => {
  errors = jest.spyOn(logger, 'error').mockImplementation(() => undefined);
  jest.spyOn(logger, 'info').mockImplementation(() => undefined);
});
afterEach(() => jest.restoreAllMocks());

function record(id: string, body: unknown): SQSRecord {
  return {
    messageId: id,
    receiptHandle: `rh-${id}`,
    body: typeof body === 'string' ? body : JSON.stringify(body),
    attributes: { ApproximateReceiveCount: '1', SentTimestamp: '0', SenderId: 'x', ApproximateFirstReceiveTimestamp: '0' },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:q',
    awsRegion: 'us-east-1',
  };
}
const sqsEvent = (...records: SQSRecord[]): SQSEvent => ({ Records: records });
const noDeps = () => ({}) as Deps;
const summary = { assigned: [], completed: [], started: [] };
const pending = (id: number) => ({ type: 'scheduler-event', event: { type: 'work-request-pending', workRequestId: id } });
const heartbeat = (id: number, at = '2026-01-01T00:00:00.000Z') => ({ type: 'heartbeat', workRequestId: id, worker: 'bee', at, logtail: ['l'] });

describe('scheduler handler', () => {
  it('runs one pass per batch of events, whatever they say', async () => {
    const run = jest.fn(async () => summary);
    const result = await schedulerHandler(noDeps, run)(sqsEvent(record('a', pending(1)), record('b', pending(2)), record('c', { type: 'scheduler-event', event: { type: 'periodic' } })));
    expect(run).toHaveBeenCalledTimes(1);
    // An event's pass trusts the candidate markers and leaves due waits to the tick.
    expect(run).toHaveBeenCalledWith(expect.anything(), EVENT_PASS);
    expect(result).toEqual({ batchItemFailures: [] });
  });

  it('drops malformed messages with a log, and runs no pass for a batch of only those', async () => {
    const run = jest.fn(async () => summary);
    const result = await schedulerHandler(noDeps, run)(sqsEvent(record('a', 'not json'), record('b', heartbeat(1))));
    expect(run).not.toHaveBeenCalled();
    expect(result).toEqual({ batchItemFailures: [] });
    expect(errors).toHaveBeenCalledTimes(2);
    expect(String(errors.mock.calls[0]![0])).toMatch(/dropping malformed scheduler message/);
  });

  it('reports the valid messages as failures when the pass fails (they come back), not the dropped ones', async () => {
    const run = jest.fn(async () => {
      throw new Error('throttled');
    });
    const result = await schedulerHandler(noDeps, run)(sqsEvent(record('a', pending(1)), record('bad', '{}'), record('c', pending(2))));
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'a' }, { itemIdentifier: 'c' }] });
  });

  it('runs a pass on a schedule tick (the cloud event and the local one are the same), and lets a failure throw', async () => {
    const run = jest.fn(async () => summary);
    await schedulerHandler(noDeps, run)({ scheduleId: 'scheduler-tick', scheduledTime: '2026-01-01T00:01:00Z' });
    expect(run).toHaveBeenCalledTimes(1);
    // The tick reads every partition whatever the markers say, and completes due waits.
    expect(run).toHaveBeenCalledWith(expect.anything(), TICK_PASS);
    const failing = schedulerHandler(noDeps, async () => {
      throw new Error('down');
    });
    await expect(failing({ scheduleId: 'scheduler-tick', scheduledTime: '2026-01-01T00:01:00Z' })).rejects.toThrow('down');
  });

  it('assigns pending work to a worker and tells it through its queue (memory deps)', async () => {
    const world = await createSchedulingWorld();
    const worker = await world.addWorker('bee.lan');
    const wr = await world.submit('noop');
    const result = await schedulerHandler(() => world.deps, schedule)(sqsEvent(record('a', pending(wr.id))));
    expect(result).toEqual({ batchItemFailures: [] });
    expect((await world.deps.workRequests.get(wr.id))!.worker).toBe(worker.name);
    expect(world.deps.workerChannels.messagesFor(worker.name)).toContainEqual({ type: 'work_request_available', workRequestId: wr.id });
  });
});

describe('heartbeat-applier handler', () => {
  it('applies a batch of 100 in one call, dropping malformed messages with a log', async () => {
    const apply = jest.fn(async (_deps: Deps, messages: unknown[]) => ({ applied: messages.length, ignored: 0 }));
    const records = Array.from({ length: 99 }, (_, i) => record(`m${i}`, heartbeat(i + 1)));
    records.push(record('bad', { type: 'heartbeat', workRequestId: 1 }));
    const result = await heartbeatHandler(noDeps, apply)(sqsEvent(...records));
    expect(result).toEqual({ batchItemFailures: [] });
    expect(apply).toHaveBeenCalledTimes(1);
    const messages = apply.mock.calls[0]![1] as { workRequestId: number }[];
    expect(messages).toHaveLength(99);
    expect(messages[0]).toEqual({ workRequestId: 1, worker: 'bee', at: '2026-01-01T00:00:00.000Z', logtail: ['l'] });
    expect(errors).toHaveBeenCalledTimes(1);
    expect(String(errors.mock.calls[0]![0])).toMatch(/dropping malformed heartbeat/);
  });

  it('reports the valid messages as failures when applying fails', async () => {
    const apply = jest.fn(async () => {
      throw new Error('throttled');
    });
    const result = await heartbeatHandler(noDeps, apply)(sqsEvent(record('a', heartbeat(1)), record('bad', '[]'), record('b', heartbeat(2))));
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'a' }, { itemIdentifier: 'b' }] });
  });

  it('stores the newest heartbeat of a running request (memory deps); replays change nothing', async () => {
    const world = await createSchedulingWorld();
    const { id, worker } = await runningRequest(world);
    const newer = { ...heartbeat(id, '2026-01-01T00:00:30.000Z'), worker, logtail: ['newer'] };
    const older = { ...heartbeat(id, '2026-01-01T00:00:20.000Z'), worker, logtail: ['older'] };
    const handler = heartbeatHandler(() => world.deps, applyHeartbeats);
    expect(await handler(sqsEvent(record('a', older), record('b', newer)))).toEqual({ batchItemFailures: [] });
    expect(await world.deps.workRequests.get(id)).toMatchObject({ heartbeatAt: '2026-01-01T00:00:30.000Z', logtail: ['newer'] });
    await handler(sqsEvent(record('c', older)));
    expect(await world.deps.workRequests.get(id)).toMatchObject({ heartbeatAt: '2026-01-01T00:00:30.000Z', logtail: ['newer'] });
  });
});

describe('watchdog handler', () => {
  it('reads CONVEYOR_WATCHDOG_STALE_SECONDS', () => {
    expect(staleAfterMs({})).toBeUndefined();
    expect(staleAfterMs({ CONVEYOR_WATCHDOG_STALE_SECONDS: '5' })).toBe(5000);
    expect(() => staleAfterMs({ CONVEYOR_WATCHDOG_STALE_SECONDS: '0' })).toThrow(/CONVEYOR_WATCHDOG_STALE_SECONDS/);
    expect(() => staleAfterMs({ CONVEYOR_WATCHDOG_STALE_SECONDS: 'soon' })).toThrow(/CONVEYOR_WATCHDOG_STALE_SECONDS/);
  });

  it('passes the limit to the use case', async () => {
    const reclaim = jest.fn(async () => [4]);
    const reconcile = jest.fn(async () => [9]);
    expect(await watchdogHandler(noDeps, reclaim, { CONVEYOR_WATCHDOG_STALE_SECONDS: '30' }, reconcile)({})).toEqual({ reclaimed: [4], reconciled: [9] });
    expect(reclaim).toHaveBeenCalledWith(expect.anything(), { staleAfterMs: 30_000 });
    await watchdogHandler(noDeps, reclaim, {}, reconcile)({});
    expect(reclaim).toHaveBeenLastCalledWith(expect.anything(), {});
  });

  it('reclaims a request whose heartbeat is too old and retries it (memory deps)', async () => {
    const world = await createSchedulingWorld();
    const { id } = await runningRequest(world);
    const handler = watchdogHandler(() => world.deps, undefined, {});
    world.deps.clock.advance(299_000);
    expect(await handler({})).toEqual({ reclaimed: [], reconciled: [] });
    world.deps.clock.advance(2_000);
    expect(await handler({})).toEqual({ reclaimed: [id], reconciled: [] });
    const reclaimed = (await world.deps.workRequests.get(id))!;
    expect(reclaimed.status).toBe('aborted');
    expect(reclaimed.supersededBy).toEqual(expect.any(Number));
  });
});

describe('server-task-runner handler', () => {
  it('runs each message, drops malformed ones, and reports failures one by one', async () => {
    const seen: number[] = [];
    const run = jest.fn(async (_deps: Deps, id: number) => {
      seen.push(id);
      if (id === 2) throw new Error('boom');
    });
    const result = await serverTaskHandler(noDeps, run)(
      sqsEvent(record('a', { type: 'server-task', workRequestId: 1 }), record('bad', { type: 'server-task' }), record('b', { type: 'server-task', workRequestId: 2 })),
    );
    expect(seen).toEqual([1, 2]);
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'b' }] });
  });

  it('completes a servernoop the scheduler started (memory deps)', async () => {
    const world = await createSchedulingWorld();
    const wr = await createWorkRequest(world.deps, await world.caller('admin'), {
      scope: 'debusine',
      workspace: 'priv',
      taskName: 'servernoop',
      taskData: { result: true },
    });
    await schedule(world.deps);
    expect(world.deps.queues.serverTasks).toEqual([{ workRequestId: wr.id }]);
    const result = await serverTaskHandler(() => world.deps, runServerTask)(sqsEvent(record('a', { type: 'server-task', workRequestId: wr.id })));
    expect(result).toEqual({ batchItemFailures: [] });
    expect(await world.deps.workRequests.get(wr.id)).toMatchObject({ status: 'completed', result: 'success' });
  });
});

async function runningRequest(world: SchedulingWorld): Promise<{ id: number; worker: string }> {
  const worker = await world.addWorker('bee.lan');
  const wr = await world.submit('noop');
  await schedule(world.deps);
  const running = await getNextForWorker(world.deps, await worker.caller(), []);
  expect(running?.id).toBe(wr.id);
  return { id: wr.id, worker: worker.name };
}
