/**
 * Restarts under a running `conveyor worker` (finding 8 of issue 9, and part (f) of the reliability
 * report at a reduced size): the whole local stack stopped with Ctrl-C and started again on the same
 * data dir while requests wait, and each emulator restarted in place once while requests stream.
 * The worker is never touched: it must find the server and its queue again on its own.
 */
import { runEmulatorRestarts } from '../../reliability/emulator-restarts';
import { E2eHarness, WORKSPACE } from './harness';

jest.setTimeout(900_000);

describe('finding 8: the whole stack restarted (Ctrl-C, npm start again) while a worker runs and requests wait', () => {
  const h = new E2eHarness({ tmpPrefix: 'conveyor-e2e-stack-restart-', dirs: [] });
  // A long staleness limit: the requests must complete as they are, not as successors of reclaimed ones.
  beforeAll(() => h.start({ CONVEYOR_DEV_SCHEDULE_SECONDS: '1', CONVEYOR_WATCHDOG_STALE_SECONDS: '300' }), 240_000);
  afterAll(() => h.stop({ stopWorkers: 'assert' }), 180_000);

  it('all 6 sleep requests complete without touching the worker', async () => {
    const [worker] = await h.startWorkers(['survivor.e2e.test']);
    const ids: number[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await h.api('POST', 'work-request/', 'contributor', { task_name: 'sleep', task_data: { seconds: 2 }, workspace: WORKSPACE });
      h.expectStatus(res, 200);
      ids.push(res.json.id as number);
    }
    // One runs, five wait (the worker runs one at a time), as in the report of finding 8.
    await h.waitForWorkRequest(ids[0]!, (wr) => wr.status === 'running', 'to run');
    const dataDir = h.stack!.dataDir;
    const queueUrlBefore = h.stack!.env['AWS_ENDPOINT_URL_SQS'];
    h.stack = await h.stack!.restart('SIGINT');
    expect(h.stack.dataDir).toBe(dataDir);
    // The worker's log shows it lost the queue; it was not restarted (same process, still running).
    expect(worker!.exitStatus()).toBeUndefined();
    for (const id of ids) {
      const wr = await h.waitForFinished(id, 240_000);
      expect({ id, status: wr.status, result: wr.result, superseded_by: wr.superseded_by }).toEqual({ id, status: 'completed', result: 'success', superseded_by: null });
    }
    expect(worker!.exitStatus()).toBeUndefined();
    // Whether or not the SQS emulator got its old port back, the worker asked for its channel again.
    if (h.stack.env['AWS_ENDPOINT_URL_SQS'] !== queueUrlBefore) expect(worker!.output()).toMatch(/asking the server for assigned work/);
  });

  it('restarts an emulator in place only for the admin token of the stack', async () => {
    const restart = (name: string, token?: string) =>
      fetch(`${h.stack!.url}/@local/emulators/${name}/restart`, { method: 'POST', headers: token ? { Token: token } : {} });
    expect((await restart('sqs')).status).toBe(403);
    expect((await restart('sqs', h.keys['owner'])).status).toBe(403);
    expect((await restart('s3', h.stack!.adminToken)).status).toBe(404);
    const ok = await restart('sqs', h.stack!.adminToken);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ emulator: 'sqs', workerQueues: 1 });
    // Queues and all are back: a request is accepted and completed by the same worker.
    const res = await h.api('POST', 'work-request/', 'contributor', { task_name: 'sleep', task_data: { seconds: 1 }, workspace: WORKSPACE });
    h.expectStatus(res, 200);
    expect(await h.waitForFinished(res.json.id as number, 180_000)).toMatchObject({ status: 'completed', result: 'success' });
  });
});

describe('part (f): each emulator restarted in place once while requests stream (reduced size)', () => {
  it('loses no request and recovers after each restart', async () => {
    const r = await runEmulatorRestarts(1);
    expect(r.errors).toEqual([]);
    expect(r.lost).toEqual([]);
    expect(r.rounds.map((round) => round.emulator)).toEqual(['dynamodb', 'sqs']);
    for (const round of r.rounds) expect(round.recoverySeconds).toBeGreaterThan(0);
    expect(r.completed).toBeGreaterThan(0);
  });
});
