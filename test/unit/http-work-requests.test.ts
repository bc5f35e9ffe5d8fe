/**
 * The work-request API over HTTP (routes of work-requests-api and workers-api) against the memory
 * deps: requests are routed with the manifest's routes exactly as the local gateway routes them
 * (literal segments beat parameters), then handled by the real middy handlers.
 */
import { schedule } from '../../shared/app/scheduler';
import { createSchedulingWorld, type SchedulingWorld } from '../support/scheduling';
import { workApiClient, type WorkApiClient } from '../support/work-api';

let world: SchedulingWorld;
let http: WorkApiClient;
let key: (name: string) => string;

beforeEach(async () => {
  world = await createSchedulingWorld();
  http = workApiClient(world.deps);
  key = (name) => world.keys[name]!;
});

const create = (token: string, body: Record<string, unknown>) => http('POST', '/api/1.0/work-request/', { token, body });

/** A worker with a running noop request, started through the API. */
async function running() {
  const worker = await world.addWorker('bee.lan');
  const created = await create(key('contributor'), { task_name: 'noop', task_data: { result: true }, workspace: 'priv' });
  expect(created.status).toBe(200);
  await schedule(world.deps);
  const next = await http('GET', '/api/1.0/work-request/get-next-for-worker/', { token: worker.key });
  expect(next.status).toBe(200);
  return { worker, id: next.json.id as number };
}

describe('POST work-request/', () => {
  it('creates a pending request: 200 with the Debusine shape, and nudges the scheduler', async () => {
    const res = await create(key('contributor'), { task_name: 'noop', task_data: { result: false }, workspace: 'priv' });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      url: `http://conveyor.test/api/1.0/work-request/${res.json.id}/`,
      task_name: 'noop',
      task_type: 'Worker',
      task_data: { result: false },
      status: 'pending',
      result: '',
      worker: null,
      created_by: 'user:contributor',
      workspace: 'priv',
      dependencies: [],
      artifacts: [],
      logtail: [],
      duration: null,
    });
    expect(world.deps.queues.schedulerEvents).toContainEqual({ type: 'work-request-pending', workRequestId: res.json.id });
  });

  it('names every field Debusine does not accept, before any other check (behaviour 42)', async () => {
    const res = await create(key('contributor'), { task_name: 'noop', workspace: 'priv', result: 'success', priority_base: 5 });
    expect(res.status).toBe(400);
    expect(res.json.validation_errors).toEqual({ '(body)': ['Invalid fields: priority_base, result'] });
    // Even when the accepted fields are wrong too, the unknown ones are what is reported.
    const both = await create(key('contributor'), { task_name: 42, status: 'running' });
    expect(both.status).toBe(400);
    expect(both.json.validation_errors).toEqual({ '(body)': ['Invalid fields: status'] });
    expect(world.deps.queues.schedulerEvents).toEqual([]);
  });

  it('validates the accepted fields and the body', async () => {
    expect((await create(key('contributor'), { task_data: {} })).json.validation_errors).toHaveProperty('task_name');
    expect((await create(key('contributor'), { task_name: 'noop', task_data: [1] })).json.validation_errors).toHaveProperty('task_data');
    const notObject = await http('POST', '/api/1.0/work-request/', { token: key('contributor'), body: [] });
    expect(notObject.status).toBe(400);
    expect(notObject.json.validation_errors).toEqual({ '(body)': ['must be a JSON object'] });
    const unknownTask = await create(key('contributor'), { task_name: 'no-such-task', workspace: 'priv' });
    expect(unknownTask.status).toBe(400);
    expect(unknownTask.json.validation_errors.task_name[0]).toMatch(/not registered/);
  });

  it('needs a user token', async () => {
    expect((await create('', { task_name: 'noop', workspace: 'priv' })).status).toBe(401);
    const worker = await world.addWorker('bee.lan');
    const res = await create(worker.key, { task_name: 'noop', workspace: 'priv' });
    expect(res.status).toBe(403);
    expect(res.json.detail).toMatch(/user token/);
  });
});

describe('GET work-request/ and work-request/<id>/', () => {
  it('lists newest first with a cursor, and filters', async () => {
    const ids: number[] = [];
    for (let i = 0; i < 3; i++) ids.push((await create(key('contributor'), { task_name: 'noop', workspace: 'priv' })).json.id);
    const first = await http('GET', '/api/1.0/work-request/?workspace=priv&limit=2', { token: key('viewer') });
    expect(first.status).toBe(200);
    expect(first.json.results.map((r: { id: number }) => r.id)).toEqual([ids[2], ids[1]]);
    expect(first.json.previous).toBeNull();
    expect(first.json.cursor).toEqual(expect.any(String));
    expect(first.json.next).toBe(`http://conveyor.test/api/1.0/work-request/?workspace=priv&limit=2&cursor=${encodeURIComponent(first.json.cursor)}`);
    const second = await http('GET', `/api/1.0/work-request/?workspace=priv&limit=2&cursor=${first.json.cursor}`, { token: key('viewer') });
    expect(second.json.results.map((r: { id: number }) => r.id)).toEqual([ids[0]]);
    expect(second.json.next).toBeNull();
    const filtered = await http('GET', '/api/1.0/work-request/?status=completed', { token: key('viewer') });
    expect(filtered.json.results).toEqual([]);
  });

  it('refuses bad queries', async () => {
    expect((await http('GET', '/api/1.0/work-request/?status=done', { token: key('viewer') })).status).toBe(400);
    expect((await http('GET', '/api/1.0/work-request/?limit=0', { token: key('viewer') })).status).toBe(400);
    expect((await http('GET', '/api/1.0/work-request/?colour=red', { token: key('viewer') })).json.validation_errors).toEqual({ colour: ['unknown field'] });
  });

  it('shows one request; 404 for unknown or invisible ones, 400 for a bad id', async () => {
    const id = (await create(key('contributor'), { task_name: 'noop', workspace: 'priv' })).json.id;
    const shown = await http('GET', `/api/1.0/work-request/${id}/`, { token: key('viewer') });
    expect(shown.status).toBe(200);
    expect(shown.json.id).toBe(id);
    expect((await http('GET', `/api/1.0/work-request/${id}/`, { token: key('outsider') })).status).toBe(404);
    expect((await http('GET', '/api/1.0/work-request/999/', { token: key('viewer') })).status).toBe(404);
    expect((await http('GET', '/api/1.0/work-request/abc/', { token: key('viewer') })).status).toBe(400);
  });
});

describe('PATCH, retry, abort, unblock', () => {
  it('changes the priority adjustment (admins may raise it, nobody sends other fields)', async () => {
    const id = (await create(key('contributor'), { task_name: 'noop', workspace: 'priv' })).json.id;
    const raised = await http('PATCH', `/api/1.0/work-request/${id}/`, { token: key('admin'), body: { priority_adjustment: 10 } });
    expect(raised.status).toBe(200);
    expect(raised.json).toMatchObject({ priority_adjustment: 10, effective_priority: 10 });
    expect((await http('PATCH', `/api/1.0/work-request/${id}/`, { token: key('contributor'), body: { priority_adjustment: 1 } })).status).toBe(403);
    expect((await http('PATCH', `/api/1.0/work-request/${id}/`, { token: key('contributor'), body: { priority_adjustment: -1 } })).status).toBe(200);
    const extra = await http('PATCH', `/api/1.0/work-request/${id}/`, { token: key('admin'), body: { priority_adjustment: 1, status: 'x' } });
    expect(extra.status).toBe(400);
    expect((await http('PATCH', `/api/1.0/work-request/${id}/`, { token: key('admin'), body: { priority_adjustment: 'high' } })).status).toBe(400);
  });

  it('aborts, refuses a second abort, and retries into a superseding request', async () => {
    const id = (await create(key('contributor'), { task_name: 'noop', workspace: 'priv' })).json.id;
    expect((await http('POST', `/api/1.0/work-request/${id}/retry/`, { token: key('contributor') })).status).toBe(400);
    const aborted = await http('POST', `/api/1.0/work-request/${id}/abort/`, { token: key('contributor') });
    expect(aborted.status).toBe(200);
    expect(aborted.json).toMatchObject({ status: 'aborted', aborted_by: 'user:contributor' });
    expect((await http('POST', `/api/1.0/work-request/${id}/abort/`, { token: key('contributor') })).status).toBe(400);
    const retried = await http('POST', `/api/1.0/work-request/${id}/retry/`, { token: key('contributor') });
    expect(retried.status).toBe(200);
    expect(retried.json).toMatchObject({ supersedes: id, status: 'pending' });
    expect(retried.json.id).not.toBe(id);
    expect((await http('GET', `/api/1.0/work-request/${id}/`, { token: key('viewer') })).json.superseded_by).toBe(retried.json.id);
    expect((await http('POST', `/api/1.0/work-request/${id}/abort/`, { token: key('contributor'), body: { reason: 'x' } })).status).toBe(400);
  });

  it('tells the worker running an aborted request to stop, through its queue', async () => {
    const { worker, id } = await running();
    expect((await http('POST', `/api/1.0/work-request/${id}/abort/`, { token: key('contributor') })).status).toBe(200);
    expect(world.deps.workerChannels.messagesFor(worker.name)).toContainEqual({ type: 'abort', workRequestId: id });
  });

  it('validates unblock bodies', async () => {
    const id = (await create(key('contributor'), { task_name: 'noop', workspace: 'priv' })).json.id;
    const bad = await http('POST', `/api/1.0/work-request/${id}/unblock/`, { token: key('owner'), body: { action: 'maybe' } });
    expect(bad.status).toBe(400);
    expect(bad.json.validation_errors).toHaveProperty('action');
    expect((await http('POST', `/api/1.0/work-request/${id}/unblock/`, { token: key('owner'), body: { notes: 1 } })).status).toBe(400);
    const empty = await http('POST', `/api/1.0/work-request/${id}/unblock/`, { token: key('owner'), body: {} });
    expect(empty.status).toBe(400);
    // A request that does not wait for a manual unblock cannot be unblocked.
    const notManual = await http('POST', `/api/1.0/work-request/${id}/unblock/`, { token: key('owner'), body: { action: 'accept' } });
    expect(notManual.status).toBe(400);
  });
});

describe('the worker side', () => {
  it('get-next-for-worker is not a work-request id (literal route wins): 200 running, then 204 empty', async () => {
    const { worker, id } = await running();
    const shown = await http('GET', `/api/1.0/work-request/${id}/`, { token: key('viewer') });
    const workerId = (await world.deps.workers.get(worker.name))!.id;
    expect(workerId).toEqual(expect.any(Number));
    // Debusine's models want the worker's integer id; the name is in worker_name.
    expect(shown.json).toMatchObject({ status: 'running', worker: workerId, worker_name: worker.name });
    const none = await http('GET', `/api/1.0/work-request/get-next-for-worker/?running=${id}`, { token: worker.key });
    expect(none.status).toBe(204);
    expect(none.body).toBe('');
    // Still running: it said so.
    expect((await http('GET', `/api/1.0/work-request/${id}/`, { token: key('viewer') })).json.status).toBe('running');
  });

  it('get-next retries what the worker no longer runs, unless it lists it, and schedules the retry on demand', async () => {
    const { worker, id } = await running();
    const next = await http('GET', '/api/1.0/work-request/get-next-for-worker/?running=', { token: worker.key });
    const lost = await http('GET', `/api/1.0/work-request/${id}/`, { token: key('viewer') });
    expect(lost.json.status).toBe('aborted');
    expect(lost.json.superseded_by).toEqual(expect.any(Number));
    // Debusine's get-next schedules on demand: the retry is assigned and started at once.
    expect(next.status).toBe(200);
    expect(next.json).toMatchObject({ id: lost.json.superseded_by, status: 'running', worker_name: worker.name });
  });

  it('get-next schedules on demand: pending work reaches a worker that asks, without a scheduling pass', async () => {
    const worker = await world.addWorker('bee.lan');
    const created = await http('POST', '/api/1.0/work-request/', { token: key('contributor'), body: { task_name: 'noop', workspace: 'priv' } });
    expect(created.json).toMatchObject({ status: 'pending', worker: null, worker_name: null });
    const next = await http('GET', '/api/1.0/work-request/get-next-for-worker/', { token: worker.key });
    expect(next.status).toBe(200);
    expect(next.json).toMatchObject({ id: created.json.id, status: 'running', worker: (await world.deps.workers.get(worker.name))!.id });
    // Its one slot is taken: nothing more until it finishes.
    expect((await http('GET', `/api/1.0/work-request/get-next-for-worker/?running=${created.json.id}`, { token: worker.key })).status).toBe(204);
  });

  it('get-next refuses users and bad running lists', async () => {
    const worker = await world.addWorker('bee.lan');
    expect((await http('GET', '/api/1.0/work-request/get-next-for-worker/', { token: key('admin') })).status).toBe(403);
    expect((await http('GET', '/api/1.0/work-request/get-next-for-worker/')).status).toBe(401);
    expect((await http('GET', '/api/1.0/work-request/get-next-for-worker/?running=1,x', { token: worker.key })).status).toBe(400);
    expect((await http('GET', '/api/1.0/work-request/get-next-for-worker/?running=1,,2', { token: worker.key })).status).toBe(400);
  });

  it('completed: 200 once, 409 twice, 401 for another worker, 404 unknown, 400 bad bodies', async () => {
    const { worker, id } = await running();
    const other = await world.addWorker('wasp.lan');
    const path = `/api/1.0/work-request/${id}/completed/`;
    expect((await http('PUT', path, { token: worker.key, body: { result: 'done' } })).status).toBe(400);
    expect((await http('PUT', path, { token: worker.key, body: { result: 'success', extra: 1 } })).status).toBe(400);
    expect((await http('PUT', path, { token: worker.key, body: { result: '' } })).status).toBe(400);
    expect((await http('PUT', path, { token: worker.key, body: { result: 'success', output_data: [] } })).status).toBe(400);
    expect((await http('PUT', path, { token: other.key, body: { result: 'success' } })).status).toBe(401);
    expect((await http('PUT', '/api/1.0/work-request/999/completed/', { token: worker.key, body: { result: 'success' } })).status).toBe(404);
    expect((await http('PUT', path, { token: key('admin'), body: { result: 'success' } })).status).toBe(403);
    const done = await http('PUT', path, { token: worker.key, body: { result: 'failure', output_data: { runtime_statistics: { duration: 3 } } } });
    expect(done.status).toBe(200);
    // Debusine's client requires an empty body (it fails on any content).
    expect(done.body).toBe('');
    const shown = await http('GET', `/api/1.0/work-request/${id}/`, { token: key('viewer') });
    expect(shown.json).toMatchObject({ status: 'completed', result: 'failure', output_data: { runtime_statistics: { duration: 3 } } });
    expect((await http('PUT', path, { token: worker.key, body: { result: 'success' } })).status).toBe(409);
  });

  it('heartbeat: 202 with no body; the last 5 lines, each cut to 1,000 characters, go to the queue', async () => {
    const { worker, id } = await running();
    const lines = ['one', 'two', 'three', 'four', 'five', 'x'.repeat(5000), 'seven'];
    const res = await http('POST', `/api/1.0/work-request/${id}/heartbeat/`, { token: worker.key, body: { logtail: lines } });
    expect(res.status).toBe(202);
    expect(res.body).toBe('');
    expect(world.deps.queues.heartbeats).toHaveLength(1);
    const hb = world.deps.queues.heartbeats[0]!;
    expect(hb).toMatchObject({ workRequestId: id, worker: worker.name });
    expect(hb.logtail).toEqual(['three', 'four', 'five', 'x'.repeat(1000), 'seven']);
    // Without a logtail.
    expect((await http('POST', `/api/1.0/work-request/${id}/heartbeat/`, { token: worker.key })).status).toBe(202);
    expect(world.deps.queues.heartbeats[1]!.logtail).toEqual([]);
  });

  it('heartbeat: 409 when not running on this worker, 400 for bad bodies, 403 for users', async () => {
    const { worker, id } = await running();
    const path = `/api/1.0/work-request/${id}/heartbeat/`;
    expect((await http('POST', path, { token: worker.key, body: { logtail: 'one line' } })).status).toBe(400);
    expect((await http('POST', path, { token: worker.key, body: { logtail: [1] } })).status).toBe(400);
    expect((await http('POST', path, { token: worker.key, body: { lines: [] } })).status).toBe(400);
    expect((await http('POST', path, { token: key('admin'), body: {} })).status).toBe(403);
    await http('PUT', `/api/1.0/work-request/${id}/completed/`, { token: worker.key, body: { result: 'success' } });
    expect((await http('POST', path, { token: worker.key, body: { logtail: ['late'] } })).status).toBe(409);
    expect(world.deps.queues.heartbeats).toEqual([]);
  });
});

describe('PUT work-request/<id>/completed/?next=1 (Conveyor\'s own worker: the completion pulls the next request)', () => {
  it('answers {next} with the next request, already running; {next: null} when none; 400 for another value; the plain form stays empty', async () => {
    const { worker, id } = await running();
    const waiting = await create(key('contributor'), { task_name: 'noop', workspace: 'priv' });
    const res = await http('PUT', `/api/1.0/work-request/${id}/completed/?next=1`, { token: worker.key, body: { result: 'success' } });
    expect(res.status).toBe(200);
    const stored = (await world.deps.workers.get(worker.name))!;
    expect(res.json).toEqual({ next: expect.objectContaining({ id: waiting.json.id, status: 'running', worker: stored.id, worker_name: worker.name }) });
    expect((await http('GET', `/api/1.0/work-request/${id}/`, { token: key('viewer') })).json).toMatchObject({ status: 'completed', result: 'success' });

    const bad = await http('PUT', `/api/1.0/work-request/${waiting.json.id}/completed/?next=yes`, { token: worker.key, body: { result: 'success' } });
    expect(bad.status).toBe(400);
    expect(Object.keys(bad.json.validation_errors)).toEqual(['next']);
    expect((await world.deps.workRequests.get(waiting.json.id))!.status).toBe('running');

    const none = await http('PUT', `/api/1.0/work-request/${waiting.json.id}/completed/?next=1`, { token: worker.key, body: { result: 'success' } });
    expect(none.status).toBe(200);
    expect(none.json).toEqual({ next: null });
  });

  it('asks the worker to call get-next when the pull failed; the completion is stored', async () => {
    const { worker, id } = await running();
    await create(key('contributor'), { task_name: 'noop', workspace: 'priv' });
    const spy = jest.spyOn(world.deps.workRequests, 'activeForWorker').mockRejectedValueOnce(new Error('throttled'));
    const res = await http('PUT', `/api/1.0/work-request/${id}/completed/?next=1`, { token: worker.key, body: { result: 'success' } });
    spy.mockRestore();
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ next: null, ask_get_next: true });
    expect((await world.deps.workRequests.get(id))!.status).toBe('completed');
  });
});
