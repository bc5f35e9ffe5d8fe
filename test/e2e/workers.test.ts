/**
 * Work requests end to end with two REAL `conveyor worker` processes on the local stack
 * (`conveyor dev`): dispatch through the scheduler and the workers' SQS queues, task subprocesses,
 * heartbeats, completion, the watchdog reclaiming work from a SIGKILLed worker, abort, the CLI's
 * `work-request show --follow`, bad input, and a graceful stop.
 *
 * The stack runs with every schedule firing each second and a 6 s watchdog, the workers heartbeat
 * every second. The tests run in order and share the workers: after the kill -9 test only the
 * survivor is left, which the abort and graceful-stop tests use.
 */
import { API, E2eHarness, WORKSPACE, isFinished } from './harness';
import { describeProcesses, waitFor, type WorkerProcess } from './worker-process';

jest.setTimeout(300_000);

const STACK_ENV = { CONVEYOR_DEV_SCHEDULE_SECONDS: '1', CONVEYOR_WATCHDOG_STALE_SECONDS: '15' };

const h = new E2eHarness({ tmpPrefix: 'conveyor-e2e-workers-', dirs: ['home', 'config', 'cache'] });
const { workers, expectStatus, diagnostics } = h;
/** Workers still running (the kill -9 test removes its victim). */
let live: WorkerProcess[] = [];

beforeAll(async () => {
  await h.start(STACK_ENV);
  live = await h.startWorkers(['worker-a.e2e.test', 'worker-b.e2e.test']);
}, 240_000);

afterAll(() => h.stop(), 120_000);

// ------------------------------------------------------------------------------------ helpers

async function createWorkRequest(taskName: string, taskData: Record<string, unknown>): Promise<any> {
  const res = await h.api('POST', 'work-request/', 'contributor', { task_name: taskName, task_data: taskData, workspace: WORKSPACE });
  expectStatus(res, 200);
  expect(res.json).toMatchObject({ id: expect.any(Number), task_name: taskName, workspace: WORKSPACE });
  return res.json;
}

const getWorker = (name: string): Promise<any> => h.getJson(`worker/${name}/`);

function workerByName(name: string | null): WorkerProcess {
  const found = workers.find((w) => w.name === name);
  if (!found) throw new Error(`no worker process named ${name} (workers: ${workers.map((w) => w.name).join(', ')})`);
  return found;
}

// ------------------------------------------------------------------------------------ tests

describe('work requests on two real workers', () => {
  it('registered both workers under their FQDNs, enabled by the activation tokens', async () => {
    expect(workers.map((w) => w.name).sort()).toEqual(['worker-a-e2e-test', 'worker-b-e2e-test']);
    for (const w of workers) {
      expect(w.token()).toMatch(/^[0-9a-f]{64}$/);
      expect(await getWorker(w.name)).toMatchObject({ name: w.name, enabled: true, worker_type: 'external' });
    }
  });

  it('runs 50 noop requests to completed/success, spread over both workers', async () => {
    const created: number[] = [];
    for (let i = 0; i < 50; i++) created.push((await createWorkRequest('noop', {})).id);
    expect(new Set(created).size).toBe(50);

    // One list call per round (newest first), rather than 50 GETs, until every one has finished.
    const ids = new Set(created);
    await waitFor(
      'the 50 noop requests to finish',
      async () => {
        const res = await h.api('GET', `work-request/?workspace=${WORKSPACE}&task_name=noop&limit=200`, 'contributor');
        expectStatus(res, 200);
        const mine = (res.json.results as any[]).filter((wr) => ids.has(wr.id));
        return { seen: mine.length, finished: mine.filter(isFinished).length, statuses: mine.map((wr) => `${wr.id}:${wr.status}`) };
      },
      (state) => state.seen === 50 && state.finished === 50,
      { timeoutMs: 240_000, describe: diagnostics },
    );

    const finished = [];
    for (const id of created) finished.push(await h.getWorkRequest(id));
    for (const wr of finished) {
      expect({ id: wr.id, status: wr.status, result: wr.result }).toEqual({ id: wr.id, status: 'completed', result: 'success' });
      expect(workers.map((w) => w.name)).toContain(wr.worker_name);
      expect(typeof wr.duration).toBe('number');
      expect(wr.duration).toBeGreaterThanOrEqual(0);
      expect(wr.started_at).toEqual(expect.any(String));
      expect(wr.completed_at).toEqual(expect.any(String));
      expect(wr.output_data?.runtime_statistics).toMatchObject({ duration: expect.any(Number), cpu_count: expect.any(Number) });
    }
    const perWorker: Record<string, number> = {};
    for (const wr of finished) perWorker[wr.worker_name] = (perWorker[wr.worker_name] ?? 0) + 1;
    // Both workers took part (the scheduler spreads work to the least loaded worker first).
    expect(Object.keys(perWorker).sort()).toEqual(workers.map((w) => w.name).sort());

    const res = await h.api('GET', 'worker/', 'contributor');
    expectStatus(res, 200);
    for (const w of workers) {
      expect((res.json.results as any[]).find((r) => r.name === w.name)).toMatchObject({ name: w.name, enabled: true, connected: true });
    }
  }, 300_000);

  it('reports a failing noop as completed/failure', async () => {
    const wr = await createWorkRequest('noop', { result: false });
    const done = await h.waitForFinished(wr.id);
    expect({ status: done.status, result: done.result }).toEqual({ status: 'completed', result: 'failure' });
    expect(workers.map((w) => w.name)).toContain(done.worker_name);
    expect(done.output_data?.runtime_statistics).toEqual(expect.any(Object));
  });

  it('`conveyor work-request show --follow` prints the log tail and exits 0 when the request completes', async () => {
    // Not 4 s: heartbeats are applied in batches (a 5 s window), and one applied after the request
    // completed is dropped, so a task of 4-5 s in all often leaves an empty log tail.
    const wr = await createWorkRequest('sleep', { seconds: 8 });
    const run = await h.cli(['work-request', 'show', String(wr.id), '--follow'], { timeoutMs: 180_000 });
    const report = `exit ${run.code ?? run.signal}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`;
    if (run.code !== 0) throw new Error(`show --follow did not exit 0: ${report}`);
    // The heartbeats' log tail: the sleep task prints "sleep: N s left" every second.
    const logLines = run.stdout.split('\n').filter((l) => /^\s+.*sleep:/.test(l));
    if (logLines.length === 0) throw new Error(`show --follow printed no "sleep:" log line: ${report}\n${diagnostics()}`);
    expect(run.stdout).toMatch(new RegExp(`Work request ${wr.id}.*completed \\(success\\)`));
    const done = await h.getWorkRequest(wr.id);
    expect({ status: done.status, result: done.result }).toEqual({ status: 'completed', result: 'success' });
  });

  describe('bad input over HTTP', () => {
    let finishedByA: any;
    let workerA: WorkerProcess;
    let workerB: WorkerProcess;

    beforeAll(async () => {
      // A finished request and the worker that ran it, and the other worker.
      const wr = await createWorkRequest('noop', {});
      finishedByA = await h.waitForFinished(wr.id);
      expect(finishedByA).toMatchObject({ status: 'completed', result: 'success' });
      workerA = workerByName(finishedByA.worker_name);
      workerB = workers.find((w) => w !== workerA)!;
    });

    it('refuses a field Debusine does not accept, naming it', async () => {
      const res = await h.api('POST', 'work-request/', 'contributor', { task_name: 'noop', task_data: {}, workspace: WORKSPACE, result: 'success' });
      expectStatus(res, 400);
      expect(res.headers['content-type']).toBe('application/problem+json');
      expect(JSON.stringify(res.json.validation_errors)).toContain('Invalid fields: result');
    });

    it('refuses an unknown task', async () => {
      const res = await h.api('POST', 'work-request/', 'contributor', { task_name: 'no-such-task', workspace: WORKSPACE });
      expectStatus(res, 400);
      expect(JSON.stringify(res.json)).toMatch(/task_name/);
    });

    it('refuses task_data with an unknown key', async () => {
      const res = await h.api('POST', 'work-request/', 'contributor', { task_name: 'sleep', task_data: { seconds: 1, bogus: true }, workspace: WORKSPACE });
      expectStatus(res, 400);
      expect(JSON.stringify(res.json)).toContain('task_data.bogus');
    });

    it('refuses a worker token on POST work-request/ (403)', async () => {
      const res = await h.http('POST', `${API}/work-request/`, { token: workerA.token(), body: { task_name: 'noop', workspace: WORKSPACE } });
      expectStatus(res, 403);
    });

    it('refuses a user token on get-next-for-worker (403)', async () => {
      const res = await h.api('GET', 'work-request/get-next-for-worker/', 'contributor');
      expectStatus(res, 403);
      expect(res.json.detail).toMatch(/worker token/);
    });

    it("refuses a completion of another worker's request (401) and changes nothing", async () => {
      const res = await h.http('PUT', `${API}/work-request/${finishedByA.id}/completed/`, { token: workerB.token(), body: { result: 'failure' } });
      expectStatus(res, 401);
      expect(await h.getWorkRequest(finishedByA.id)).toMatchObject({ status: 'completed', result: 'success', worker_name: workerA.name });
    });

    it('answers 409 to a heartbeat or a second completion for a request that is not running', async () => {
      const beat = await h.http('POST', `${API}/work-request/${finishedByA.id}/heartbeat/`, { token: workerA.token(), body: { logtail: ['late'] } });
      expectStatus(beat, 409);
      const again = await h.http('PUT', `${API}/work-request/${finishedByA.id}/completed/`, { token: workerA.token(), body: { result: 'failure' } });
      expectStatus(again, 409);
      expect(await h.getWorkRequest(finishedByA.id)).toMatchObject({ status: 'completed', result: 'success' });
    });
  });

  it('kill -9 of a worker mid-task: the watchdog reclaims the request and the other worker runs its successor', async () => {
    const original = await createWorkRequest('sleep', { seconds: 8 });
    const running = await h.waitForWorkRequest(original.id, (wr) => wr.status === 'running' && wr.worker_name !== null, 'to be running', 120_000);
    const victim = workerByName(running.worker_name);
    const survivor = workers.find((w) => w !== victim)!;
    // Mid-task: the task process has started and printed its first line.
    await victim.waitForLog(new RegExp(`\\[${original.id}\\] sleep:`), 60_000);
    expect(victim.taskPids().length).toBeGreaterThan(0);
    const victimToken = victim.token();
    const killed = await victim.kill9();
    expect(killed.signal).toBe('SIGKILL');
    live = live.filter((w) => w !== victim);

    // No heartbeat for 6 s: the watchdog aborts the original with worker-failed and retries it.
    const reclaimed = await h.waitForWorkRequest(original.id, isFinished, 'to be reclaimed', 120_000);
    expect(reclaimed).toMatchObject({ status: 'aborted', worker_name: victim.name, superseded_by: expect.any(Number) });
    expect(reclaimed.output_data?.errors?.[0]?.code).toBe('worker-failed');

    const successor = await h.waitForFinished(reclaimed.superseded_by, 120_000);
    expect(successor).toMatchObject({ supersedes: original.id, task_name: 'sleep', task_data: { seconds: 8 } });
    expect({ status: successor.status, result: successor.result, worker: successor.worker_name }).toEqual({
      status: 'completed',
      result: 'success',
      worker: survivor.name,
    });

    // What the dead worker would send if it came back: refused, and nothing changes.
    const late = await h.http('PUT', `${API}/work-request/${original.id}/completed/`, { token: victimToken, body: { result: 'success' } });
    expectStatus(late, 409);
    const beat = await h.http('POST', `${API}/work-request/${original.id}/heartbeat/`, { token: victimToken, body: { logtail: ['still here'] } });
    expectStatus(beat, 409);
    expect(await h.getWorkRequest(original.id)).toMatchObject({ status: 'aborted', superseded_by: successor.id });

    // The watchdog also marked the silent worker disconnected.
    await waitFor('the killed worker to show as disconnected', () => getWorker(victim.name), (w) => w.connected === false, {
      timeoutMs: 60_000,
      describe: diagnostics,
    });
  }, 300_000);

  it('abort: the worker kills the running task, does not report it, and goes on taking work', async () => {
    expect(live).toHaveLength(1); // the survivor of the kill -9 test: the follow-up noop can only run there
    const [worker] = live as [WorkerProcess];
    const wr = await createWorkRequest('sleep', { seconds: 60 });
    const running = await h.waitForWorkRequest(wr.id, (r) => r.status === 'running', 'to be running', 120_000);
    expect(running.worker_name).toBe(worker.name);
    await worker.waitForLog(new RegExp(`\\[${wr.id}\\] sleep:`), 60_000);
    const taskPids = worker.taskPids();
    expect(taskPids.length).toBeGreaterThan(0);

    const res = await h.api('POST', `work-request/${wr.id}/abort/`, 'contributor');
    expectStatus(res, 200);
    expect(res.json).toMatchObject({ id: wr.id, status: 'aborted', aborted_by: expect.stringContaining('contributor') });

    // The abort message reaches the worker through its queue: it stops the task and does not report it.
    await worker.waitForLog(new RegExp(`work request ${wr.id}: aborted on the server`), 60_000);
    await worker.waitForLog(new RegExp(`work request ${wr.id}: stopped .*not reporting it`), 60_000);
    await waitFor('the aborted task process to exit', async () => worker.taskPids().filter((p) => taskPids.includes(p)), (left) => left.length === 0, {
      timeoutMs: 30_000,
      describe: () => `${describeProcesses(taskPids)}\n${diagnostics()}`,
    });
    expect(worker.exitStatus()).toBeUndefined();
    expect(await h.getWorkRequest(wr.id)).toMatchObject({ status: 'aborted', result: '' });

    const next = await createWorkRequest('noop', {});
    const done = await h.waitForFinished(next.id);
    expect({ status: done.status, result: done.result, worker: done.worker_name }).toEqual({ status: 'completed', result: 'success', worker: worker.name });
    expect(await getWorker(worker.name)).toMatchObject({ connected: true, current_work: [] });
  }, 300_000);

  it('SIGTERM on an idle worker: it disconnects and exits 0', async () => {
    expect(live).toHaveLength(1);
    const [worker] = live as [WorkerProcess];
    expect(await getWorker(worker.name)).toMatchObject({ connected: true });
    const exit = await worker.stop();
    expect(exit).toEqual({ code: 0, signal: null });
    expect(worker.output()).toMatch(/disconnected/);
    live = [];
    expect(await getWorker(worker.name)).toMatchObject({ name: worker.name, connected: false, current_work: [] });
  });
});
