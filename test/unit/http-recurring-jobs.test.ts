/**
 * The recurring-job routes and the machine routes over the real HTTP handler (memory adapters):
 * shapes, roles, 4xx problems that name the field or the rule, and a QUIESCING worker that drains.
 */
import { createSchedulingWorld, AMD64_METADATA, type SchedulingWorld } from '../support/scheduling';
import { httpClient } from '../support/world';
import { recurringJobRoutes } from '../../shared/http/routes/recurring-jobs';
import { releaseDueRuns } from '../../shared/app/recurring-release';
import { schedule } from '../../shared/app/scheduler';
import { completeWorkRequest, getNextForWorker } from '../../shared/app/workers';

let world: SchedulingWorld;
let http: ReturnType<typeof httpClient>;
const as = (name: string) => ({ token: world.keys[name]!, headers: { 'x-debusine-scope': 'debusine' } });

beforeEach(async () => {
  world = await createSchedulingWorld();
  world.deps.clock.current = new Date('2026-12-01T00:00:00Z');
  http = httpClient(world.deps, recurringJobRoutes(() => world.deps));
});

const create = (who = 'owner', body: unknown = { workspace: 'priv', kind: 'git-import', target: { url: 'file:///srv/r.git' }, update_interval: 3600 }) =>
  http('POST', '/api/1.0/recurring-job/', { ...as(who), body });

test('create, show with next due and last results, list with pagination, results and events', async () => {
  const created = await create();
  expect(created.status).toBe(201);
  expect(created.json).toMatchObject({ kind: 'git-import', review_status: 'REVIEWED', update_interval: 3600, next_due: '2026-12-01T00:00:00.000Z', last_results: [] });
  await create();
  await create();
  const page1 = await http('GET', '/api/1.0/recurring-job/?workspace=priv&limit=2', as('viewer'));
  expect(page1.json.results).toHaveLength(2);
  expect(page1.json.next).toContain('cursor=');
  const page2 = await http('GET', `/api/1.0/recurring-job/?workspace=priv&limit=2&cursor=${page1.json.cursor}`, as('viewer'));
  expect(page2.json.results.map((j: { id: number }) => j.id)).toEqual([3]);
  const shown = await http('GET', `/api/1.0/recurring-job/${created.json.id}/`, as('viewer'));
  expect(shown.json).toMatchObject({ id: created.json.id, run: { state: 'PENDING', requesting_user: null } });
  const events = await http('GET', `/api/1.0/recurring-job/${created.json.id}/events/`, as('viewer'));
  expect(events.json.results.map((e: { type: string }) => e.type)).toEqual(['CREATE']);
  expect((await http('GET', `/api/1.0/recurring-job/${created.json.id}/results/`, as('viewer'))).json.results).toEqual([]);
  expect((await http('GET', `/api/1.0/recurring-job/${created.json.id}/`, as('outsider'))).status).toBe(404);
});

test('bad input is a 400 naming the field; rules are 409 naming the rule; roles are 403', async () => {
  const bad = await create('owner', { workspace: 'priv', kind: 'git-import', target: { url: 'ftp://x' } });
  expect(bad.status).toBe(400);
  expect(bad.json.validation_errors).toHaveProperty(['target.url']);
  const interval = await create('owner', { workspace: 'priv', kind: 'git-import', target: { url: 'file:///r' }, update_interval: -5 });
  expect(interval.json.validation_errors).toHaveProperty(['update_interval']);
  expect((await create('viewer')).status).toBe(403);
  const id = (await create()).json.id;
  expect((await http('POST', `/api/1.0/recurring-job/${id}/request/`, as('contributor'))).status).toBe(200);
  const again = await http('POST', `/api/1.0/recurring-job/${id}/request/`, as('contributor'));
  expect(again.status).toBe(409);
  expect(again.json.title).toBe('CodeImportAlreadyRequested');
  expect((await http('PATCH', `/api/1.0/recurring-job/${id}/`, { ...as('contributor'), body: { review_status: 'SUSPENDED' } })).status).toBe(403);
  const notFailing = await http('POST', `/api/1.0/recurring-job/${id}/try-again/`, as('owner'));
  expect(notFailing).toMatchObject({ status: 409, json: { title: 'CodeImportNotFailing' } });
  const suspended = await http('PATCH', `/api/1.0/recurring-job/${id}/`, { ...as('owner'), body: { review_status: 'SUSPENDED' } });
  expect(suspended.json).toMatchObject({ review_status: 'SUSPENDED', run: null, next_due: null });
  expect((await http('DELETE', `/api/1.0/recurring-job/${id}/`, as('owner'))).status).toBe(204);
  expect((await http('GET', `/api/1.0/recurring-job/${id}/`, as('owner'))).status).toBe(404);
});

test('an admin quiesces a worker: it gets no new work, finishes its run, then goes OFFLINE (QUIESCED)', async () => {
  const worker = await world.addWorker('bee.lan', { metadata: AMD64_METADATA });
  const first = (await create()).json.id;
  await releaseDueRuns(world.deps);
  await schedule(world.deps);
  const running = await getNextForWorker(world.deps, await worker.caller());
  expect(running).toBeDefined();
  expect((await http('POST', `/api/1.0/worker/${worker.name}/quiesce/`, as('owner'))).status).toBe(403);
  const quiesced = await http('POST', `/api/1.0/worker/${worker.name}/quiesce/`, { ...as('admin'), body: { message: 'draining for upgrade' } });
  expect(quiesced.json).toMatchObject({ state: 'QUIESCING' });
  await create();
  await releaseDueRuns(world.deps);
  await schedule(world.deps);
  expect((await world.deps.workers.get(worker.name))!.assigned).toBe(1);
  await completeWorkRequest(world.deps, await worker.caller(), running!.id, { result: 'success', outputData: { recurring_status: 'SUCCESS_NOCHANGE' } });
  expect(await getNextForWorker(world.deps, await worker.caller())).toBeUndefined();
  expect((await world.deps.workers.get(worker.name))!).toMatchObject({ machineState: 'OFFLINE', offlineReason: 'QUIESCED' });
  const events = await http('GET', `/api/1.0/worker/${worker.name}/events/`, as('admin'));
  expect(events.json.results).toEqual([
    expect.objectContaining({ type: 'QUIESCE', person: 'user:admin', items: { MESSAGE: 'draining for upgrade' } }),
    expect.objectContaining({ type: 'OFFLINE', items: { OFFLINE_REASON: 'QUIESCED' } }),
  ]);
  expect((await http('POST', `/api/1.0/worker/${worker.name}/quiesce/`, as('admin'))).json.title).toBe('MachineStateTransition');
  expect((await http('POST', `/api/1.0/worker/${worker.name}/online/`, as('admin'))).json).toMatchObject({ state: 'ONLINE' });
  await schedule(world.deps);
  expect((await world.deps.workers.get(worker.name))!.assigned).toBe(1);
  const results = await http('GET', `/api/1.0/recurring-job/${first}/results/`, as('viewer'));
  expect(results.json.results[0]).toMatchObject({ status: 'SUCCESS_NOCHANGE', machine: worker.name });
});
