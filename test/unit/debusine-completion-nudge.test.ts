/**
 * Debusine 0.12.1's worker never asks get-next on its own: after `PUT completed/` it waits for
 * `work_request_available` on its WebSocket, which only a scheduling pass sends. Its completion must
 * therefore nudge the scheduler (found by running the real worker against the local stack: with a
 * backlog, each next request waited for the one-minute tick). `conveyor worker` says `pulls_next=true`
 * and asks get-next itself, so its completion still sends no scheduler event.
 */
import { createMemorySockets } from '../../shared/adapters/sockets/memory';
import { greetSocket, openSocket, WORKER_CONNECT_PATH } from '../../shared/app/sockets';
import { EVENT_PASS, schedule } from '../../shared/app/scheduler';
import type { DepsWithSockets } from '../../shared/ports';
import { createSchedulingWorld, type SchedulingWorld } from '../support/scheduling';
import { workApiClient, type WorkApiClient } from '../support/work-api';

let w: SchedulingWorld;
let deps: DepsWithSockets;
let sockets: ReturnType<typeof createMemorySockets>;
let http: WorkApiClient;
beforeEach(async () => {
  w = await createSchedulingWorld();
  sockets = createMemorySockets();
  deps = Object.assign(w.deps, { sockets });
  http = workApiClient(w.deps);
});

/** A worker connected as Debusine's is (`$connect`, then the greeting), with a running request taken by get-next. */
async function debusineWorkerRunning() {
  const worker = await w.addWorker('debusine.lan');
  sockets.pusher.open.add('c1');
  expect(await openSocket(deps, { connectionId: 'c1', path: WORKER_CONNECT_PATH, query: {}, headers: { token: worker.key } })).toBe(true);
  await greetSocket(deps, 'c1');
  const first = await w.submit('noop', { result: true });
  const second = await w.submit('noop', { result: true });
  await schedule(deps);
  expect(sockets.pusher.texts('c1')).toEqual(['connected', 'request_dynamic_metadata', 'work_request_available']);
  const next = await http('GET', '/api/1.0/work-request/get-next-for-worker/', { token: worker.key });
  expect(next.json).toMatchObject({ id: first.id, status: 'running' });
  return { worker, first, second };
}

const finishedEvents = () => w.deps.queues.schedulerEvents.filter((e) => e.type === 'work-request-finished');

describe("a worker's completion and the scheduler", () => {
  it("Debusine's completion (no pulls_next) nudges the scheduler, whose pass announces the next request on the socket", async () => {
    const { worker, first, second } = await debusineWorkerRunning();
    // Debusine's worker: its body, no query, and an empty 200 back.
    const done = await http('PUT', `/api/1.0/work-request/${first.id}/completed/`, { token: worker.key, body: { result: 'success', output_data: null } });
    expect(done.status).toBe(200);
    expect(done.body).toBe('');
    expect(finishedEvents()).toEqual([{ type: 'work-request-finished', workRequestId: first.id }]);
    // What the scheduler consumer runs for that event: the freed slot gets the waiting request, and the worker is told.
    expect((await schedule(deps, EVENT_PASS)).assigned).toEqual([{ workRequestId: second.id, worker: worker.name }]);
    expect(sockets.pusher.texts('c1')).toEqual(['connected', 'request_dynamic_metadata', 'work_request_available', 'work_request_available']);
    const next = await http('GET', '/api/1.0/work-request/get-next-for-worker/', { token: worker.key });
    expect(next.json).toMatchObject({ id: second.id, status: 'running' });
  });

  it('pulls_next=true (conveyor worker) sends no scheduler event; a bad pulls_next is a 400 naming it and changes nothing', async () => {
    const { worker, first } = await debusineWorkerRunning();
    const path = `/api/1.0/work-request/${first.id}/completed/`;
    const bad = await http('PUT', `${path}?pulls_next=maybe`, { token: worker.key, body: { result: 'success' } });
    expect(bad.status).toBe(400);
    expect(Object.keys(bad.json.validation_errors)).toEqual(['pulls_next']);
    expect((await w.deps.workRequests.get(first.id))!.status).toBe('running');
    const done = await http('PUT', `${path}?pulls_next=true`, { token: worker.key, body: { result: 'success' } });
    expect(done.status).toBe(200);
    expect((await w.deps.workRequests.get(first.id))!).toMatchObject({ status: 'completed', result: 'success' });
    expect(finishedEvents()).toEqual([]);
  });

  it('next=1 (conveyor worker pulling in the completion) sends no scheduler event either', async () => {
    const { worker, first } = await debusineWorkerRunning();
    const done = await http('PUT', `/api/1.0/work-request/${first.id}/completed/?next=1`, { token: worker.key, body: { result: 'success' } });
    expect(done.status).toBe(200);
    expect(done.json).toHaveProperty('next');
    expect((await w.deps.workRequests.get(first.id))!).toMatchObject({ status: 'completed', result: 'success' });
    expect(finishedEvents()).toEqual([]);
  });
});
