/**
 * The queued recurring-run hooks (the work-requests API's wiring): a run's request that starts or
 * finishes there sends a message to the `recurring-runs` queue instead of writing the job; the
 * recurring-release function applies it from the request's present state, so the run's result is
 * recorded as soon as the message arrives, and a repeated, late or out-of-order message changes nothing.
 */
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { createSchedulingWorld, type SchedulingWorld } from '../support/scheduling';
import { startGitImportRun } from '../support/recurring';
import { recurringRunsInProcess } from '../../shared/app/recurring-runs';
import { recurringReleaseHandler } from '../../functions/recurring-release';
import { completeWorkRequest } from '../../shared/app/workers';
import { parseRecurringRunMessage, SqsRecurringRunHooks } from '../../shared/adapters/sqs/recurring-run-queue';
import { QUEUES, FUNCTIONS } from '../../shared/manifest';
import { logger } from '../../shared/observability/logger';

let world: SchedulingWorld;
/** What the queued hooks sent, as the SQS bodies the consumer will get. */
let sent: string[];

function record(id: string, body: string): SQSRecord {
  return {
    messageId: id,
    receiptHandle: `rh-${id}`,
    body,
    attributes: { ApproximateReceiveCount: '1', SentTimestamp: '0', SenderId: 'x', ApproximateFirstReceiveTimestamp: '0' },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:recurring-runs',
    awsRegion: 'us-east-1',
  };
}
const deliver = (bodies: string[]) => recurringReleaseHandler(() => world.deps)({ Records: bodies.map((b, i) => record(String(i), b)) } satisfies SQSEvent);

beforeEach(async () => {
  jest.spyOn(logger, 'info').mockImplementation(() => undefined);
  world = await createSchedulingWorld();
  world.deps.clock.current = new Date('2026-12-01T00:00:00Z');
  sent = [];
  const sqs = { send: async (command: { input: { QueueUrl: string; MessageBody: string } }) => void sent.push(command.input.MessageBody) } as unknown as SQSClient;
  world.deps.recurringRunHooks = new SqsRecurringRunHooks(sqs, 'http://sqs.local/recurring-runs');
});
afterEach(() => jest.restoreAllMocks());

function runThroughTheApi() {
  return startGitImportRun(world);
}

test('get-next and completion queue the moves; the consumer records the start and the result at once', async () => {
  const { j, wr, worker } = await runThroughTheApi();
  expect(sent.map(parseRecurringRunMessage)).toEqual([{ workRequestId: wr.id, move: 'started' }]);
  // Nothing written to the job by the API: the run is still waiting for its start.
  expect((await world.deps.recurringJobs.get(j.id))!.run).toMatchObject({ id: 1, state: 'PENDING' });
  expect(await deliver(sent)).toEqual({ batchItemFailures: [] });
  expect((await world.deps.recurringJobs.get(j.id))!.run).toMatchObject({ id: 1, state: 'RUNNING', machine: wr.worker });

  world.deps.clock.advance(60_000);
  await completeWorkRequest(world.deps, await worker.caller(), wr.id, { result: 'success', outputData: { recurring_status: 'SUCCESS_NOCHANGE' } });
  expect(sent.map(parseRecurringRunMessage)).toEqual([
    { workRequestId: wr.id, move: 'started' },
    { workRequestId: wr.id, move: 'finished' },
  ]);
  expect(await deliver(sent.slice(1))).toEqual({ batchItemFailures: [] });
  const after = (await world.deps.recurringJobs.get(j.id))!;
  expect(after.run).toMatchObject({ id: 2, state: 'PENDING', releasedAt: null });
  expect((await world.deps.recurringJobs.results(j.id, 10)).items).toEqual([expect.objectContaining({ status: 'SUCCESS_NOCHANGE', machine: wr.worker })]);

  // Every message again, in any order: nothing changes.
  expect(await deliver([...sent].reverse())).toEqual({ batchItemFailures: [] });
  expect((await world.deps.recurringJobs.get(j.id))!.version).toBe(after.version);
  expect((await world.deps.recurringJobs.results(j.id, 10)).items).toHaveLength(1);
});

test('a finish delivered before the start starts and finishes the run; the late start is a no-op', async () => {
  const { j, wr, worker } = await runThroughTheApi();
  await completeWorkRequest(world.deps, await worker.caller(), wr.id, { result: 'success', outputData: { recurring_status: 'SUCCESS' } });
  expect(await deliver([sent[1]!, sent[0]!])).toEqual({ batchItemFailures: [] });
  expect((await world.deps.recurringJobs.events(j.id, 10)).items.map((e) => e.type)).toEqual(['CREATE', 'START', 'FINISH']);
  expect((await world.deps.recurringJobs.results(j.id, 10)).items).toEqual([expect.objectContaining({ status: 'SUCCESS' })]);
});

test('a malformed message is dropped with a log; a failing one comes back alone', async () => {
  const errors = jest.spyOn(logger, 'error').mockImplementation(() => undefined);
  const { wr } = await runThroughTheApi();
  const get = world.deps.workRequests.get.bind(world.deps.workRequests);
  world.deps.workRequests.get = async (id) => (id === 999 ? Promise.reject(new Error('table unavailable')) : get(id));
  const bad = JSON.stringify({ type: 'recurring-run', workRequestId: 999, move: 'finished' });
  const result = await deliver(['not json', JSON.stringify({ type: 'recurring-run', workRequestId: -1, move: 'x' }), bad, sent[0]!]);
  expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: '2' }] });
  expect(errors).toHaveBeenCalled();
  expect((await world.deps.workRequests.get(wr.id))!.status).toBe('running');
});

test('the in-process hooks stay what every other function uses: the run follows at once', async () => {
  world.deps.recurringRunHooks = recurringRunsInProcess();
  const { j } = await runThroughTheApi();
  expect(sent).toEqual([]);
  expect((await world.deps.recurringJobs.get(j.id))!.run).toMatchObject({ state: 'RUNNING' });
});

test('the queue exists in the manifest, the API may send to it, and recurring-release consumes it', () => {
  expect(QUEUES['recurring-runs']).toMatchObject({ fifo: false });
  const byName = new Map(FUNCTIONS.map((f) => [f.name, f]));
  expect(byName.get('work-requests-api')!.uses!.sendsTo).toContain('recurring-runs');
  expect(byName.get('recurring-release')!.queue!.name).toBe('recurring-runs');
  expect(byName.get('recurring-release')!.schedule).toBeDefined();
});

test('without a queue URL the queued hooks fail loudly, naming the variable', async () => {
  const hooks = new SqsRecurringRunHooks({ send: async () => undefined } as unknown as SQSClient, undefined);
  const { wr } = await runThroughTheApi();
  await expect(hooks.moved(world.deps, wr, 'finished')).rejects.toThrow(QUEUES['recurring-runs'].envVar);
});
