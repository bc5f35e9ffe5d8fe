/**
 * The worker loop (cli/worker/worker.ts) against a fake Conveyor HTTP server on 127.0.0.1,
 * a fake queue (the SQS long poll replaced) and fake task processes the test drives.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WireWorkRequest } from '../../cli/client/wire';
import type { QueueMessage, WorkerQueue } from '../../cli/worker/queue';
import { spawnTaskProcess, type SpawnTask, type TaskExit, type TaskHandle, type TaskSpec } from '../../cli/worker/task-process';
import { ConveyorWorker, DEFAULT_WORKER_TIMINGS, completionFor, type WorkerDeps, type WorkerSettings } from '../../cli/worker/worker';
import { wireWorkRequest } from '../support/wire';

const KEY = 'a'.repeat(64);
/** The fake server's task token for a request: distinct from KEY and from request to request. */
const taskTokenFor = (path: string) => `task-${/\d+/.exec(path)![0]}`.padEnd(64, 'b');

interface Call {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: unknown;
}

type Reply = { status: number; body?: unknown };

/** Answers each API call with the handler for `METHOD path-pattern`; records every call. */
class FakeServer {
  server!: Server;
  url = '';
  calls: Call[] = [];
  handlers = new Map<string, (call: Call) => Reply>();

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const url = new URL(req.url ?? '/', 'http://x');
        const text = Buffer.concat(chunks).toString('utf8');
        const call: Call = {
          method: req.method ?? 'GET',
          path: url.pathname.replace(/^\/api\/1\.0\//, ''),
          query: url.searchParams,
          headers: req.headers,
          body: text ? JSON.parse(text) : undefined,
        };
        this.calls.push(call);
        const key = `${call.method} ${call.path.replace(/\d+/g, 'N')}`;
        const handler = this.handlers.get(key);
        const reply = handler ? handler(call) : { status: 404, body: { title: 'Not found', detail: key } };
        if (reply.body === undefined) {
          res.writeHead(reply.status).end();
        } else {
          res.writeHead(reply.status, { 'content-type': reply.status >= 400 ? 'application/problem+json' : 'application/json' }).end(JSON.stringify(reply.body));
        }
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  on(key: string, handler: (call: Call) => Reply): void {
    this.handlers.set(key, handler);
  }

  callsTo(key: string): Call[] {
    return this.calls.filter((c) => `${c.method} ${c.path.replace(/\d+/g, 'N')}` === key);
  }
}

class FakeQueue implements WorkerQueue {
  pending: QueueMessage[] = [];
  deleted: string[] = [];
  /** The next receives fail with these (an emulator gone, a queue deleted). */
  failures: Error[] = [];
  private wake: (() => void) | undefined;
  private n = 0;

  push(message: Record<string, unknown>): string {
    const receiptHandle = `rh-${++this.n}`;
    this.pending.push({ body: JSON.stringify(message), receiptHandle });
    this.wake?.();
    return receiptHandle;
  }

  receive(signal: AbortSignal): Promise<QueueMessage[]> {
    const failure = this.failures.shift();
    if (failure) return Promise.reject(failure);
    return new Promise((resolve, reject) => {
      const deliver = (): void => {
        signal.removeEventListener('abort', onAbort);
        this.wake = undefined;
        resolve(this.pending.splice(0));
      };
      const onAbort = (): void => {
        this.wake = undefined;
        reject(new Error('aborted'));
      };
      if (signal.aborted) return onAbort();
      if (this.pending.length) return deliver();
      this.wake = deliver;
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  async delete(message: QueueMessage): Promise<void> {
    this.deleted.push(message.receiptHandle);
  }
}

/** A task process the test drives: it prints lines, finishes, and dies on the signals it is told to. */
class FakeTask implements TaskHandle {
  readonly done: Promise<TaskExit>;
  kills: NodeJS.Signals[] = [];
  finished = false;
  /** Signals the fake dies on. */
  diesOn: NodeJS.Signals[] = ['SIGTERM', 'SIGKILL'];
  private resolveDone!: (exit: TaskExit) => void;

  constructor(
    readonly spec: TaskSpec,
    private readonly onLine: (line: string) => void,
  ) {
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
  }

  print(...lines: string[]): void {
    for (const line of lines) this.onLine(line);
  }

  finish(exit: TaskExit): void {
    if (this.finished) return;
    this.finished = true;
    this.resolveDone(exit);
  }

  kill(signal: NodeJS.Signals): void {
    this.kills.push(signal);
    if (this.diesOn.includes(signal)) this.finish({ exitCode: null, signal });
  }
}

const success = (): TaskExit => ({ outcome: { result: 'success', output_data: { note: 'fine' }, resource_usage: { cpu_time: 1.4, memory: 5 * 1024 * 1024 } }, exitCode: 0, signal: null });

function workRequest(id: number, task = 'noop'): WireWorkRequest {
  return wireWorkRequest(id, { url: `http://x/api/1.0/work-request/${id}/`, task_name: task, status: 'running', worker: 1, worker_name: 'host-a', started_at: '2030-01-01T00:00:01Z' });
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('conveyor worker loop', () => {
  let server: FakeServer;
  let dir: string;
  let queue: FakeQueue;
  let tasks: FakeTask[];
  let logs: string[];
  let assigned: WireWorkRequest[];
  /** The signals the next fake tasks die on. */
  let taskDiesOn: NodeJS.Signals[];

  beforeEach(async () => {
    server = new FakeServer();
    await server.start();
    dir = mkdtempSync(join(tmpdir(), 'conveyor-worker-test-'));
    queue = new FakeQueue();
    tasks = [];
    logs = [];
    assigned = [];
    taskDiesOn = ['SIGTERM', 'SIGKILL'];
    server.on('PUT worker/dynamic-metadata/', () => ({ status: 204 }));
    server.on('POST worker/disconnect/', () => ({ status: 204 }));
    server.on('GET work-request/get-next-for-worker/', () => {
      const next = assigned.shift();
      return next ? { status: 200, body: next } : { status: 204 };
    });
    server.on('POST work-request/N/heartbeat/', () => ({ status: 202, body: {} }));
    server.on('PUT work-request/N/completed/', () => ({ status: 200, body: {} }));
    server.on('POST work-request/N/task-token/', (call) => ({ status: 201, body: { token: taskTokenFor(call.path), expire_at: '2030-01-01T12:00:00Z' } }));
  });

  const started: ConveyorWorker[] = [];

  afterEach(async () => {
    // A failed test must not leave its worker polling.
    for (const w of started.splice(0)) w.forceStop();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const settings = (overrides: Partial<WorkerSettings> = {}): WorkerSettings => ({
    ...DEFAULT_WORKER_TIMINGS,
    server: server.url,
    fqdn: 'host-a.example.org',
    tokenFile: join(dir, 'worker-token'),
    workRoot: join(dir, 'work'),
    heartbeatIntervalMs: 40,
    keepAliveIntervalMs: 60_000,
    graceMs: 2000,
    killTimeoutMs: 100,
    completionRetryMs: 5,
    backoffInitialMs: 10,
    backoffMaxMs: 20,
    ...overrides,
  });

  const spawnTask: SpawnTask = async (spec, onLine) => {
    const task = new FakeTask(spec, onLine);
    task.diesOn = taskDiesOn;
    tasks.push(task);
    return task;
  };

  const makeWorker = (overrides: Partial<WorkerSettings> = {}, withToken = true, spawn: SpawnTask = spawnTask, extraDeps: Partial<WorkerDeps> = {}): ConveyorWorker => {
    if (withToken) writeFileSync(join(dir, 'worker-token'), `${KEY}\n`, { mode: 0o600 });
    const worker = new ConveyorWorker(settings(overrides), {
      fetch: (input, init) => fetch(input, init),
      log: (m) => logs.push(m),
      spawnTask: spawn,
      collectMetadata: async () => ({ 'system:worker_type': 'external', 'noop:available': true }),
      machine: { cpuCount: () => 4, availableMemory: () => 8e9, freeDisk: async () => 5e10 },
      generateKey: () => KEY,
      openQueue: () => queue,
      ...extraDeps,
    });
    started.push(worker);
    return worker;
  };

  it('starts a task that never calls the server without asking for a task token; others still get one', async () => {
    const worker = makeWorker({ concurrency: 2 }, true, spawnTask, { taskUsesServer: (name) => name !== 'noop' });
    const running = worker.run();
    await waitFor(() => server.callsTo('GET work-request/get-next-for-worker/').length === 1, 'the startup get-next');
    assigned.push(workRequest(7, 'noop'), workRequest(8, 'lintian'));
    queue.push({ type: 'work_request_available', work_request_id: 7 });
    await waitFor(() => tasks.length === 2, 'both tasks to start');
    const byId = new Map(tasks.map((t) => [t.spec.workRequest.id, t]));
    expect(byId.get(7)!.spec.token).toBe('');
    expect(byId.get(8)!.spec.token).toBe(taskTokenFor('work-request/8/task-token/'));
    expect(server.callsTo('POST work-request/N/task-token/').map((c) => c.path)).toEqual([expect.stringContaining('work-request/8/task-token/')]);
    worker.requestStop();
    for (const t of tasks) t.finish(success());
    expect(await running).toBe(0);
  });

  it('registers with the activation token, keeps the key 0600, waits to be enabled, asks for work once, disconnects on stop', async () => {
    server.on('POST worker/register/', () => ({ status: 201, body: { name: 'host-a-example-org', enabled: false } }));
    let metadataAnswers = [401, 401, 204];
    server.on('PUT worker/dynamic-metadata/', () => {
      const status = metadataAnswers.shift() ?? 204;
      return status === 401 ? { status, body: { title: 'Unauthorized', detail: 'worker token is disabled' } } : { status };
    });
    const worker = makeWorker({ activationToken: 'act1' }, false);
    const running = worker.run();
    await waitFor(() => server.callsTo('GET work-request/get-next-for-worker/').length === 1, 'the first get-next');

    const [register] = server.callsTo('POST worker/register/');
    expect(register!.headers.token).toBe('act1');
    expect(register!.body).toEqual({ token: KEY, fqdn: 'host-a.example.org', worker_type: 'external', concurrency: 1 });
    expect(readFileSync(join(dir, 'worker-token'), 'utf8').trim()).toBe(KEY);
    expect(statSync(join(dir, 'worker-token')).mode & 0o777).toBe(0o600);
    expect(logs).toContainEqual(
      expect.stringMatching(/^registered as host-a-example-org; waiting to be enabled \(an administrator runs: conveyor admin worker enable host-a-example-org --fingerprint [0-9a-f]{16}\)$/),
    );
    const metadataCalls = server.callsTo('PUT worker/dynamic-metadata/');
    expect(metadataCalls).toHaveLength(3);
    expect(metadataCalls.every((c) => c.headers.token === KEY)).toBe(true);
    expect(metadataCalls[2]!.body).toMatchObject({ 'system:worker_type': 'external' });
    expect(logs.filter((l) => l.includes('waiting to be enabled')).length).toBe(2); // registration + the first 401 only

    // Nothing on the queue: the API is never polled for work.
    await pause(150);
    expect(server.callsTo('GET work-request/get-next-for-worker/')).toHaveLength(1);

    worker.requestStop();
    await expect(running).resolves.toBe(0);
    expect(server.callsTo('POST worker/disconnect/')).toHaveLength(1);
    metadataAnswers = [];
  });

  it('refuses to start when the server refuses the registration', async () => {
    server.on('POST worker/register/', () => ({ status: 401, body: { title: 'Unauthorized', detail: 'unknown activation token' } }));
    const worker = makeWorker({ activationToken: 'bad' }, false);
    await expect(worker.run()).rejects.toThrow(/refused to register this worker: 401 Unauthorized: unknown activation token/);
    expect(existsSync(join(dir, 'worker-token'))).toBe(false);
  });

  it('as root: warns without --task-user; with it, tasks run as that user and the work root lists nothing to them (0711)', async () => {
    // docs/security.md, "What runs where": the task user and the warning.
    const getuid = jest.spyOn(process, 'getuid').mockReturnValue(0);
    try {
      const bare = makeWorker();
      const bareRun = bare.run();
      await waitFor(() => server.callsTo('GET work-request/get-next-for-worker/').length === 1, 'the startup get-next');
      expect(logs).toContain('warning: running as root without --task-user: tasks run as root too');
      bare.requestStop();
      await expect(bareRun).resolves.toBe(0);

      logs.length = 0;
      const confined = makeWorker({ taskUser: { uid: 65534, gid: 65534 } });
      const running = confined.run();
      await waitFor(() => server.callsTo('GET work-request/get-next-for-worker/').length === 2, 'the second startup get-next');
      expect(logs.filter((l) => l.startsWith('warning:'))).toEqual([]);
      expect(statSync(join(dir, 'work')).mode & 0o777).toBe(0o711);
      assigned.push(workRequest(7));
      queue.push({ type: 'work_request_available', work_request_id: 7 });
      await waitFor(() => tasks.length === 1, 'the task to start');
      expect(tasks[0]!.spec.runAs).toEqual({ uid: 65534, gid: 65534 });
      tasks[0]!.finish(success());
      await waitFor(() => server.callsTo('PUT work-request/N/completed/').length === 1, 'the completion');
      confined.requestStop();
      await expect(running).resolves.toBe(0);
    } finally {
      getuid.mockRestore();
    }
  });

  it('runs a request on work_request_available, heartbeats the last 5 log lines, reports runtime statistics, deletes the message', async () => {
    const worker = makeWorker();
    const running = worker.run();
    await waitFor(() => server.callsTo('GET work-request/get-next-for-worker/').length === 1, 'the startup get-next');
    assigned.push(workRequest(7));
    const handle = queue.push({ type: 'work_request_available', work_request_id: 7 });
    await waitFor(() => tasks.length === 1, 'the task to start');
    const task = tasks[0]!;
    expect(task.spec.workRequest.id).toBe(7);
    // Security finding 4: the task gets a token for its own request, never the worker's.
    expect(task.spec.token).toBe(taskTokenFor('work-request/7/task-token/'));
    expect(task.spec.token).not.toBe(KEY);
    expect(server.callsTo('POST work-request/N/task-token/')[0]!.headers.token).toBe(KEY);
    expect(task.spec.server).toBe(server.url);
    expect(task.spec.dir.startsWith(join(dir, 'work', 'wr-7-'))).toBe(true);
    expect(existsSync(task.spec.dir)).toBe(true);

    // The first heartbeat goes out one interval after the start (get-next recorded the start).
    await waitFor(() => server.callsTo('POST work-request/N/heartbeat/').length >= 1, 'the first heartbeat');
    expect(server.callsTo('POST work-request/N/heartbeat/')[0]).toMatchObject({ path: 'work-request/7/heartbeat/', body: { logtail: [] } });

    task.print('line 1', 'line 2', 'line 3', 'line 4', 'line 5', 'line 6', 'line 7');
    await waitFor(
      () => server.callsTo('POST work-request/N/heartbeat/').some((c) => JSON.stringify((c.body as { logtail: string[] }).logtail) === JSON.stringify(['line 3', 'line 4', 'line 5', 'line 6', 'line 7'])),
      'a heartbeat with the last five lines',
    );
    expect(queue.deleted).toContain(handle);

    task.finish(success());
    await waitFor(() => server.callsTo('PUT work-request/N/completed/').length === 1, 'the completion');
    const [completed] = server.callsTo('PUT work-request/N/completed/');
    expect(completed!.path).toBe('work-request/7/completed/');
    // It pulls its next request in the same round trip: the server sends no scheduling pass for the freed slot.
    expect(completed!.query.get('next')).toBe('1');
    expect(completed!.headers.token).toBe(KEY);
    expect(completed!.body).toEqual({
      result: 'success',
      output_data: {
        note: 'fine',
        runtime_statistics: {
          duration: expect.any(Number),
          cpu_time: 1,
          memory: 5 * 1024 * 1024,
          cpu_count: 4,
          available_memory: 8e9,
          available_disk: 5e10,
        },
      },
    });
    await waitFor(() => !existsSync(task.spec.dir), 'the request directory to be removed');
    const beats = server.callsTo('POST work-request/N/heartbeat/').length;
    await pause(120);
    expect(server.callsTo('POST work-request/N/heartbeat/').length).toBe(beats);
    expect(logs).toContain('[7] line 7');

    worker.requestStop();
    await expect(running).resolves.toBe(0);
  });

  it('after its queue failed (stack restarted, queue lost) asks the server for assigned work once it is back (finding 8)', async () => {
    const worker = makeWorker();
    const running = worker.run();
    await waitFor(() => server.callsTo('GET work-request/get-next-for-worker/').length === 1, 'the startup get-next');
    // The stack restarts: the message about request 9 went to a queue that no longer exists.
    assigned.push(workRequest(9));
    queue.failures.push(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9324'), { code: 'ECONNREFUSED' }));
    queue.push({ type: 'abort', work_request_id: 12345 }); // wakes the poll that is waiting
    await waitFor(() => logs.some((l) => l.startsWith('cannot read the work queue (connect ECONNREFUSED')), 'the failed poll');
    // The next poll succeeds (SQS answers an empty long poll after 20 s; the fake needs a message).
    queue.push({ type: 'abort', work_request_id: 12346 });
    await waitFor(() => tasks.length === 1, 'the assigned request to start without any message about it');
    expect(tasks[0]!.spec.workRequest.id).toBe(9);
    expect(logs).toContain('the work queue is reachable again; asking the server for assigned work');
    tasks[0]!.finish(success());
    await waitFor(() => server.callsTo('PUT work-request/N/completed/').length === 1, 'the completion');
    worker.requestStop();
    await expect(running).resolves.toBe(0);
  }, 20_000);

  it('never runs more than --concurrency tasks and tells get-next what it runs', async () => {
    assigned.push(workRequest(1), workRequest(2), workRequest(3));
    const worker = makeWorker({ concurrency: 2 });
    const running = worker.run();
    await waitFor(() => tasks.length === 2, 'two tasks');
    const nextCalls = (): Call[] => server.callsTo('GET work-request/get-next-for-worker/');
    expect(nextCalls().map((c) => c.query.get('running'))).toEqual([null, '1']);

    // A message while both slots are busy: no get-next, the message is consumed.
    const handle = queue.push({ type: 'work_request_available', work_request_id: 3 });
    await waitFor(() => queue.deleted.includes(handle), 'the message to be deleted');
    await pause(50);
    expect(nextCalls()).toHaveLength(2);
    expect(tasks).toHaveLength(2);

    // A slot frees up: the worker asks again (with what it still runs) and gets request 3.
    tasks[0]!.finish(success());
    await waitFor(() => tasks.length === 3, 'the third task');
    expect(nextCalls()[2]!.query.get('running')).toBe('2');
    expect(worker.runningIds().sort()).toEqual([2, 3]);

    tasks[1]!.finish(success());
    tasks[2]!.finish(success());
    await waitFor(() => server.callsTo('PUT work-request/N/completed/').length === 3, 'three completions');
    worker.requestStop();
    await expect(running).resolves.toBe(0);
  });

  it('kills the task and does not report it when a heartbeat answers 409 (SIGKILL if SIGTERM is ignored)', async () => {
    server.on('POST work-request/N/heartbeat/', () => ({ status: 409, body: { title: 'Conflict', detail: 'not running on this worker' } }));
    assigned.push(workRequest(5));
    taskDiesOn = ['SIGKILL'];
    const worker = makeWorker();
    const running = worker.run();
    await waitFor(() => tasks.length === 1, 'the task');
    const task = tasks[0]!;
    await waitFor(() => task.finished, 'the task to be killed');
    expect(task.kills).toEqual(['SIGTERM', 'SIGKILL']);
    await waitFor(() => worker.runningIds().length === 0, 'the slot to free up');
    expect(server.callsTo('PUT work-request/N/completed/')).toHaveLength(0);
    expect(logs.some((l) => l.includes('work request 5: stopped') && l.includes('409'))).toBe(true);
    worker.requestStop();
    await expect(running).resolves.toBe(0);
  });

  it('kills the task on an abort message and does not report it', async () => {
    assigned.push(workRequest(9));
    const worker = makeWorker();
    const running = worker.run();
    await waitFor(() => tasks.length === 1, 'the task');
    const handle = queue.push({ type: 'abort', work_request_id: 9 });
    await waitFor(() => tasks[0]!.finished, 'the task to be killed');
    expect(tasks[0]!.kills).toEqual(['SIGTERM']);
    await waitFor(() => queue.deleted.includes(handle) && worker.runningIds().length === 0, 'the abort to be handled');
    expect(server.callsTo('PUT work-request/N/completed/')).toHaveLength(0);
    worker.requestStop();
    await expect(running).resolves.toBe(0);
  });

  it('on SIGTERM takes no new work, lets the running task finish and report, then disconnects', async () => {
    assigned.push(workRequest(11));
    const worker = makeWorker();
    const running = worker.run();
    await waitFor(() => tasks.length === 1, 'the task');
    worker.requestStop();
    assigned.push(workRequest(12));
    queue.push({ type: 'work_request_available', work_request_id: 12 });
    await pause(60);
    expect(server.callsTo('GET work-request/get-next-for-worker/')).toHaveLength(1);
    expect(server.callsTo('POST worker/disconnect/')).toHaveLength(0);

    tasks[0]!.finish(success());
    await expect(running).resolves.toBe(0);
    expect(tasks[0]!.kills).toEqual([]);
    const order = server.calls.map((c) => c.path).filter((p) => p === 'work-request/11/completed/' || p === 'worker/disconnect/');
    expect(order).toEqual(['work-request/11/completed/', 'worker/disconnect/']);
    expect(tasks).toHaveLength(1);
  });

  it('kills tasks still running at the end of the grace period and does not report them', async () => {
    assigned.push(workRequest(13));
    const worker = makeWorker({ graceMs: 100 });
    const running = worker.run();
    await waitFor(() => tasks.length === 1, 'the task');
    const stoppedAt = Date.now();
    worker.requestStop();
    await expect(running).resolves.toBe(0);
    expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual(90);
    expect(tasks[0]!.kills).toEqual(['SIGTERM']);
    expect(server.callsTo('PUT work-request/N/completed/')).toHaveLength(0);
    expect(server.callsTo('POST worker/disconnect/')).toHaveLength(1);
  });

  it('moves on when the server refuses a completion with 409', async () => {
    server.on('PUT work-request/N/completed/', () => ({ status: 409, body: { title: 'Conflict', detail: 'work request 15 is aborted' } }));
    assigned.push(workRequest(15));
    const worker = makeWorker();
    const running = worker.run();
    await waitFor(() => tasks.length === 1, 'the task');
    tasks[0]!.finish(success());
    await waitFor(() => worker.runningIds().length === 0, 'the slot to free up');
    expect(server.callsTo('PUT work-request/N/completed/')).toHaveLength(1);
    expect(logs.some((l) => l.includes('work request 15: the server did not take the result (409 Conflict'))).toBe(true);
    worker.requestStop();
    await expect(running).resolves.toBe(0);
  });

  it('retries a completion on server errors and exits non-zero when it cannot report', async () => {
    server.on('PUT work-request/N/completed/', () => ({ status: 503, body: { title: 'Service Unavailable' } }));
    assigned.push(workRequest(17));
    const worker = makeWorker({ completionAttempts: 3, completionRetryWindowMs: 0 });
    const running = worker.run();
    await waitFor(() => tasks.length === 1, 'the task');
    tasks[0]!.finish(success());
    await expect(running).resolves.toBe(1);
    expect(server.callsTo('PUT work-request/N/completed/')).toHaveLength(3);
    expect(logs.some((l) => l.includes('cannot report work request 17 after 3 attempts'))).toBe(true);
  });

  it('keeps reporting a completion through a server outage longer than its attempts (a restarted stack: finding 8)', async () => {
    let outage = 8;
    server.on('PUT work-request/N/completed/', () => (outage-- > 0 ? { status: 503, body: { title: 'Service Unavailable' } } : { status: 200, body: {} }));
    assigned.push(workRequest(18));
    const worker = makeWorker({ completionAttempts: 3, completionRetryWindowMs: 60_000 });
    const running = worker.run();
    await waitFor(() => tasks.length === 1, 'the task');
    tasks[0]!.finish(success());
    await waitFor(() => logs.some((l) => l.includes('work request 18: completed, success')), 'the completion to get through', 10_000);
    expect(server.callsTo('PUT work-request/N/completed/')).toHaveLength(9);
    expect(logs.some((l) => l.includes('cannot report work request 18 after'))).toBe(false);
    worker.requestStop();
    await expect(running).resolves.toBe(0);
  });

  it('asks for the task token again through a server outage instead of failing the request (a restarting stack)', async () => {
    let outage = 4;
    server.on('POST work-request/N/task-token/', (call) =>
      outage-- > 0 ? { status: 500, body: { title: 'Internal Server Error' } } : { status: 201, body: { token: taskTokenFor(call.path), expire_at: '2030-01-01T12:00:00Z' } },
    );
    assigned.push(workRequest(19));
    const worker = makeWorker({ completionAttempts: 2, completionRetryWindowMs: 60_000 });
    const running = worker.run();
    await waitFor(() => tasks.length === 1, 'the task to start once the token came', 10_000);
    expect(server.callsTo('POST work-request/N/task-token/')).toHaveLength(5);
    tasks[0]!.finish(success());
    await waitFor(() => logs.some((l) => l.includes('work request 19: completed, success')), 'the completion');
    worker.requestStop();
    await expect(running).resolves.toBe(0);
  });

  it('runs noop end to end in a real task subprocess', async () => {
    assigned.push({ ...workRequest(21), task_data: { result: false } }, { ...workRequest(22), task_data: { result: 'maybe' } });
    const worker = makeWorker({ concurrency: 2 }, true, spawnTaskProcess);
    const running = worker.run();
    await waitFor(() => server.callsTo('PUT work-request/N/completed/').length === 2, 'two completions', 30_000);
    const byPath = Object.fromEntries(server.callsTo('PUT work-request/N/completed/').map((c) => [c.path, c.body]));
    expect(byPath['work-request/21/completed/']).toEqual({
      result: 'failure',
      output_data: { runtime_statistics: expect.objectContaining({ duration: expect.any(Number), cpu_time: expect.any(Number), memory: expect.any(Number), cpu_count: 4 }) },
    });
    expect(byPath['work-request/22/completed/']).toMatchObject({ result: 'error', output_data: { errors: [{ code: 'configure-failed' }] } });
    expect(logs).toContain('[21] noop: result failure');
    worker.requestStop();
    await expect(running).resolves.toBe(0);
  }, 60_000);

  it('reports setup-failed when it cannot create the working directory', async () => {
    const worker = makeWorker();
    const running = worker.run();
    await waitFor(() => server.callsTo('GET work-request/get-next-for-worker/').length === 1, 'the startup get-next');
    rmSync(join(dir, 'work'), { recursive: true });
    writeFileSync(join(dir, 'work'), 'not a directory');
    assigned.push(workRequest(23));
    queue.push({ type: 'work_request_available', work_request_id: 23 });
    await waitFor(() => server.callsTo('PUT work-request/N/completed/').length === 1, 'the completion');
    expect(tasks).toHaveLength(0);
    expect(server.callsTo('PUT work-request/N/completed/')[0]!.body).toMatchObject({
      result: 'error',
      output_data: { errors: [{ code: 'setup-failed', message: expect.stringContaining('cannot create a working directory') }] },
    });
    worker.requestStop();
    await expect(running).resolves.toBe(0);
  });

  it('reports configure-failed without starting a task the worker was told not to run', async () => {
    assigned.push(workRequest(19, 'noop'));
    const worker = makeWorker({ onlyTasks: ['lintian'] });
    const running = worker.run();
    await waitFor(() => server.callsTo('PUT work-request/N/completed/').length === 1, 'the completion');
    expect(tasks).toHaveLength(0);
    expect(server.callsTo('PUT work-request/N/completed/')[0]!.body).toMatchObject({
      result: 'error',
      output_data: { errors: [{ code: 'configure-failed', message: 'this worker only runs lintian' }], runtime_statistics: expect.any(Object) },
    });
    worker.requestStop();
    await expect(running).resolves.toBe(0);
  });

  it('warms its spare task processes once ready and kills them when it stops, before disconnecting', async () => {
    const events: string[] = [];
    const spareTasks = { warm: () => events.push('warm'), close: () => events.push('close') };
    const worker = makeWorker({}, true, spawnTask, { spareTasks });
    const running = worker.run();
    await waitFor(() => server.callsTo('GET work-request/get-next-for-worker/').length === 1, 'the startup get-next');
    expect(events).toEqual(['warm']);
    worker.requestStop();
    await expect(running).resolves.toBe(0);
    expect(events).toEqual(['warm', 'close']);
  });

  describe('the completion pulls the next request (issue 12: no second get-next)', () => {
    /** What `PUT completed/?next=1` hands over, one answer per completion. */
    let pulled: Reply[];
    beforeEach(() => {
      pulled = [];
      server.on('PUT work-request/N/completed/', (call) => (call.query.get('next') === '1' ? pulled.shift() ?? { status: 200, body: { next: null } } : { status: 200 }));
    });
    const getNexts = () => server.callsTo('GET work-request/get-next-for-worker/');
    const completions = () => server.callsTo('PUT work-request/N/completed/');

    it('runs the request the completion handed over without asking get-next', async () => {
      assigned.push(workRequest(31));
      pulled.push({ status: 200, body: { next: workRequest(32) } }, { status: 200, body: { next: workRequest(33) } });
      const worker = makeWorker();
      const running = worker.run();
      await waitFor(() => tasks.length === 1, 'the first task');
      tasks[0]!.finish(success());
      await waitFor(() => tasks.length === 2, 'the request the completion pulled');
      expect(tasks[1]!.spec.workRequest.id).toBe(32);
      tasks[1]!.finish(success());
      await waitFor(() => tasks.length === 3, 'the next one');
      tasks[2]!.finish(success());
      await waitFor(() => completions().length === 3, 'three completions');
      await pause(60);
      expect(completions().map((c) => [c.path, c.query.get('next')])).toEqual([
        ['work-request/31/completed/', '1'],
        ['work-request/32/completed/', '1'],
        ['work-request/33/completed/', '1'],
      ]);
      // Only the start-up get-next: the last completion said there is nothing more (next: null).
      expect(getNexts()).toHaveLength(1);
      expect(logs).toContain('work request 31: completed, success; the completion handed over work request 32');
      worker.requestStop();
      await expect(running).resolves.toBe(0);
    });

    it('with nothing handed over waits on its queue; a message then brings get-next as before', async () => {
      assigned.push(workRequest(41));
      const worker = makeWorker();
      const running = worker.run();
      await waitFor(() => tasks.length === 1, 'the task');
      tasks[0]!.finish(success());
      await waitFor(() => completions().length === 1, 'the completion');
      await pause(80);
      expect(getNexts()).toHaveLength(1);
      assigned.push(workRequest(42));
      queue.push({ type: 'work_request_available', work_request_id: 42 });
      await waitFor(() => tasks.length === 2, 'the request the message announced');
      expect(getNexts()).toHaveLength(2);
      worker.requestStop();
      tasks[1]!.finish(success());
      await expect(running).resolves.toBe(0);
    });

    it('asks get-next when the pull failed, or when the server answers a completion with an empty body (older servers)', async () => {
      assigned.push(workRequest(51));
      pulled.push({ status: 200, body: { next: null, ask_get_next: true } }, { status: 200 });
      const worker = makeWorker();
      const running = worker.run();
      await waitFor(() => tasks.length === 1, 'the first task');
      assigned.push(workRequest(52));
      tasks[0]!.finish(success());
      await waitFor(() => tasks.length === 2, 'the request get-next handed over');
      expect(getNexts().map((c) => c.query.get('running'))).toEqual([null, null]);
      assigned.push(workRequest(53));
      tasks[1]!.finish(success());
      await waitFor(() => tasks.length === 3, 'the request the second get-next handed over');
      expect(getNexts()).toHaveLength(3);
      worker.requestStop();
      tasks[2]!.finish(success());
      await expect(running).resolves.toBe(0);
    });

    it('asks get-next after a completion that handed over nothing when a queue message came while its slot was busy', async () => {
      // The message's request was assigned to this worker after the completion's pull had looked.
      assigned.push(workRequest(81));
      const worker = makeWorker();
      const running = worker.run();
      await waitFor(() => tasks.length === 1, 'the first task');
      assigned.push(workRequest(82));
      const handle = queue.push({ type: 'work_request_available', work_request_id: 82 });
      await waitFor(() => queue.deleted.includes(handle), 'the message to be consumed');
      expect(getNexts()).toHaveLength(1);
      tasks[0]!.finish(success());
      await waitFor(() => tasks.length === 2, 'the announced request');
      expect(tasks[1]!.spec.workRequest.id).toBe(82);
      expect(getNexts()).toHaveLength(2);
      // Fetched: the next completion that hands over nothing asks no get-next.
      tasks[1]!.finish(success());
      await waitFor(() => completions().length === 2, 'the second completion');
      await pause(80);
      expect(getNexts()).toHaveLength(2);
      worker.requestStop();
      await expect(running).resolves.toBe(0);
    });

    // A create's offer filled the freed slot during the completion's pull, which handed that request over;
    // the offer's queue message comes after the hand-over (the request runs here) or before it (the slot is busy).
    it.each([
      ['after the hand-over: the message is dropped', 'after'],
      ['before the hand-over, while the slot was busy', 'before'],
    ])('asks no get-next for a request announced %s', async (_case, when) => {
      assigned.push(workRequest(91));
      pulled.push({ status: 200, body: { next: workRequest(92) } });
      const worker = makeWorker();
      const running = worker.run();
      await waitFor(() => tasks.length === 1, 'the first task');
      const announce = async (): Promise<void> => {
        const handle = queue.push({ type: 'work_request_available', work_request_id: 92 });
        await waitFor(() => queue.deleted.includes(handle), 'the message to be consumed');
      };
      if (when === 'before') await announce();
      tasks[0]!.finish(success());
      await waitFor(() => tasks.length === 2, 'the request the completion handed over');
      if (when === 'after') await announce();
      tasks[1]!.finish(success());
      await waitFor(() => completions().length === 2, 'the second completion');
      await pause(80);
      expect(getNexts()).toHaveLength(1); // the start-up one only
      worker.requestStop();
      await expect(running).resolves.toBe(0);
    });

    it('a stopping worker reports without pulling', async () => {
      assigned.push(workRequest(61));
      const worker = makeWorker();
      const running = worker.run();
      await waitFor(() => tasks.length === 1, 'the task');
      worker.requestStop();
      tasks[0]!.finish(success());
      await expect(running).resolves.toBe(0);
      expect(completions().map((c) => [c.path, c.query.get('next')])).toEqual([['work-request/61/completed/', null]]);
    });

    it('a request handed over while the worker begins to stop runs and reports before the worker disconnects', async () => {
      assigned.push(workRequest(71));
      pulled.push({ status: 200, body: { next: workRequest(72) } });
      // The completion leaves only once the worker has been told to stop.
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const gatedFetch: typeof fetch = async (input, init) => {
        if (String(input).includes('/completed/?next=1')) await gate;
        return fetch(input, init);
      };
      const worker = makeWorker({}, true, spawnTask, { fetch: gatedFetch });
      const running = worker.run();
      await waitFor(() => tasks.length === 1, 'the task');
      tasks[0]!.finish(success());
      await pause(30);
      worker.requestStop();
      release();
      await waitFor(() => tasks.length === 2, 'the request handed over');
      expect(tasks[1]!.spec.workRequest.id).toBe(72);
      await pause(30);
      expect(server.callsTo('POST worker/disconnect/')).toHaveLength(0);
      tasks[1]!.finish(success());
      await expect(running).resolves.toBe(0);
      const order = server.calls.map((c) => c.path).filter((p) => p.endsWith('/completed/') || p === 'worker/disconnect/');
      expect(order).toEqual(['work-request/71/completed/', 'work-request/72/completed/', 'worker/disconnect/']);
      expect(completions()[1]!.query.get('next')).toBeNull();
    });
  });
});

describe('completion payload', () => {
  const facts = { durationMs: 2600, cpuCount: 2, availableMemory: 1000, availableDisk: 2000 };

  it("uses the task's outcome and adds runtime statistics", () => {
    expect(completionFor({ outcome: { result: 'failure', resource_usage: { cpu_time: 0.6, memory: 4096 } }, exitCode: 0, signal: null }, facts)).toEqual({
      result: 'failure',
      output_data: { runtime_statistics: { duration: 3, cpu_time: 1, memory: 4096, cpu_count: 2, available_memory: 1000, available_disk: 2000 } },
    });
  });

  it('turns a crash into an execute-failed error naming how the process ended', () => {
    const crashed = completionFor({ exitCode: 1, signal: null }, facts, ['a', 'TypeError: boom']);
    expect(crashed).toEqual({
      result: 'error',
      output_data: {
        runtime_statistics: { duration: 3, cpu_count: 2, available_memory: 1000, available_disk: 2000 },
        errors: [{ code: 'execute-failed', message: 'the task process exited with code 1 without reporting an outcome; last output: TypeError: boom' }],
      },
    });
    expect(completionFor({ exitCode: null, signal: 'SIGKILL' }, facts).output_data?.errors?.[0]?.message).toBe('the task process was killed by SIGKILL');
  });
});
