import { createMemorySockets } from '../../shared/adapters/sockets/memory';
import { closeSocket, greetSocket, openSocket, refreshSocketWorkers, WORKER_CONNECT_PATH, ON_COMPLETED_PATH } from '../../shared/app/sockets';
import { completeWorkRequest, getNextForWorker, disableWorker } from '../../shared/app/workers';
import type { DepsWithSockets } from '../../shared/ports';
import { createSchedulingWorld, type SchedulingWorld } from '../support/scheduling';

let w: SchedulingWorld;
let deps: DepsWithSockets;
let sockets: ReturnType<typeof createMemorySockets>;
beforeEach(async () => {
  w = await createSchedulingWorld();
  sockets = createMemorySockets();
  deps = Object.assign(w.deps, { sockets });
});

/** `$connect` then the greeting, as API Gateway and the greeter queue do it. */
async function connect(id: string, path: string, token: string | undefined, query: Record<string, string> = {}) {
  sockets.pusher.open.add(id);
  const accepted = await openSocket(deps, { connectionId: id, path, query, headers: token ? { token } : {} });
  if (accepted) await greetSocket(deps, id);
  return accepted;
}

describe("Debusine's worker socket", () => {
  it('refuses unknown and disabled tokens after accepting, with TOKEN_DISABLED, and closes', async () => {
    const a = await w.addWorker('a.lan');
    await disableWorker(deps, 'test', a.name);
    expect(await connect('c1', WORKER_CONNECT_PATH, a.key)).toBe(true);
    expect(await connect('c2', '/api/ws/1.0/worker/connect', 'f'.repeat(64))).toBe(true);
    expect(await connect('c3', WORKER_CONNECT_PATH, undefined)).toBe(true);
    for (const id of ['c1', 'c2', 'c3']) {
      expect(sockets.pusher.sent.find((s) => s.connectionId === id)!.message).toEqual({
        type: 'connection_rejected',
        reason: 'No token header, token not associated to a worker or not enabled',
        reason_code: 'TOKEN_DISABLED',
      });
      expect(sockets.pusher.closed).toContain(id);
    }
    expect(sockets.connections.items.size).toBe(0);
    expect(await connect('c4', '/api/ws/1.0/elsewhere/', a.key)).toBe(false);
  });

  it('greets an enabled worker; work that waits is assigned to it at once and announced', async () => {
    const wr = await w.submit('noop', { result: true });
    const a = await w.addWorker('a.lan');
    // addWorker's metadata update already let the scheduler see it; the socket says so on connect.
    await connect('c1', WORKER_CONNECT_PATH, a.key);
    expect(sockets.pusher.texts('c1')).toEqual(['connected', 'request_dynamic_metadata', 'work_request_available']);
    expect((await getNextForWorker(deps, await a.caller()))?.id).toBe(wr.id);
  });

  it('tells a connected worker when the scheduler assigns it work (its own channel), and forgets a gone socket', async () => {
    const a = await w.addWorker('a.lan');
    await connect('c1', WORKER_CONNECT_PATH, a.key);
    expect(sockets.pusher.texts('c1')).toEqual(['connected', 'request_dynamic_metadata']);
    const wr = await w.submit('noop', { result: true });
    const { schedule } = await import('../../shared/app/scheduler');
    expect((await schedule(deps)).assigned).toEqual([{ workRequestId: wr.id, worker: a.name }]);
    expect(sockets.pusher.texts('c1')).toEqual(['connected', 'request_dynamic_metadata', 'work_request_available']);
    // The SQS side is told too (conveyor worker's channel): both channels, one scheduler.
    expect(w.deps.workerChannels.messagesFor(a.name)).toContainEqual({ type: 'work_request_available', workRequestId: wr.id });
    sockets.pusher.open.delete('c1');
    await completeWorkRequest(deps, await a.caller(), (await getNextForWorker(deps, await a.caller()))!.id, { result: 'success' }).catch(() => undefined);
    await w.submit('noop', { result: true });
    await schedule(deps);
    expect(sockets.connections.items.has('c1')).toBe(false);
  });

  it('keeps a socket worker alive without heartbeats; a closed socket leaves its work to the watchdog', async () => {
    const a = await w.addWorker('a.lan');
    await connect('c1', WORKER_CONNECT_PATH, a.key);
    const wr = await w.submit('noop', { result: true });
    const { schedule } = await import('../../shared/app/scheduler');
    const { reclaimStale } = await import('../../shared/app/watchdog');
    await schedule(deps);
    await getNextForWorker(deps, await a.caller());
    w.deps.clock.advance(10 * 60_000);
    expect(await refreshSocketWorkers(deps)).toEqual([a.name]);
    expect(await reclaimStale(deps)).toEqual([]);
    // kill -9: the socket is gone ($disconnect); nothing refreshes the heartbeat any more.
    sockets.pusher.open.delete('c1');
    await closeSocket(deps, 'c1');
    expect((await deps.workers.get(a.name))!.connectedAt).toBeNull();
    w.deps.clock.advance(10 * 60_000);
    expect(await refreshSocketWorkers(deps)).toEqual([]);
    expect(await reclaimStale(deps)).toEqual([wr.id]);
  });

  it('an open socket whose worker a pass dropped as stale is connected again by the next refresh', async () => {
    const a = await w.addWorker('a.lan');
    await connect('c1', WORKER_CONNECT_PATH, a.key);
    const { schedule } = await import('../../shared/app/scheduler');
    w.deps.clock.advance(16 * 60_000); // nothing refreshed it for 16 minutes
    await schedule(deps);
    expect((await deps.workers.get(a.name))!.connectedAt).toBeNull();
    expect((await deps.workers.withFreeSlots()).map((x) => x.name)).not.toContain(a.name);
    expect(await refreshSocketWorkers(deps)).toEqual([a.name]);
    expect((await deps.workers.get(a.name))!.connectedAt).not.toBeNull();
    expect((await deps.workers.withFreeSlots()).map((x) => x.name)).toContain(a.name);
  });
});

describe('the on-completed socket', () => {
  it('tells listeners of the workspaces they may see, replays those since completed_at_since, and refuses what it must', async () => {
    const a = await w.addWorker('a.lan');
    expect(await connect('l1', ON_COMPLETED_PATH, w.keys['viewer']!, { workspaces: 'priv' })).toBe(true);
    expect(await connect('l2', ON_COMPLETED_PATH, w.keys['outsider']!)).toBe(true);
    expect(await connect('l3', ON_COMPLETED_PATH, a.key)).toBe(true);
    expect(await connect('l4', ON_COMPLETED_PATH, w.keys['viewer']!, { workspaces: 'nope' })).toBe(true);
    expect(sockets.pusher.sent.find((s) => s.connectionId === 'l3')!.message).toEqual({ type: 'connection_rejected', reason: 'No token header, token not associated to a user or not enabled' });
    expect(sockets.pusher.sent.find((s) => s.connectionId === 'l4')!.message).toEqual({ type: 'connection_rejected', reason: 'Workspace "nope" not found' });
    const wr = await w.submit('noop', { result: true });
    const { schedule } = await import('../../shared/app/scheduler');
    await schedule(deps);
    await getNextForWorker(deps, await a.caller());
    const done = await completeWorkRequest(deps, await a.caller(), wr.id, { result: 'failure' });
    const completed = { type: 'websocket.send', text: 'work_request_completed', work_request_id: wr.id, completed_at: done.completedAt, result: 'failure' };
    expect(sockets.pusher.sent.filter((s) => s.connectionId === 'l1').map((s) => s.message)).toEqual([{ type: 'websocket.send', text: 'connected' }, completed]);
    // The outsider cannot see "priv": nothing for it.
    expect(sockets.pusher.texts('l2')).toEqual(['connected']);
    // A late listener gets what it missed since the given time (but not the one it saw at exactly that time).
    await connect('l5', ON_COMPLETED_PATH, w.keys['viewer']!, { workspaces: 'priv', completed_at_since: new Date(Date.parse(done.completedAt!) - 1000).toISOString() });
    expect(sockets.pusher.sent.filter((s) => s.connectionId === 'l5').map((s) => s.message)).toEqual([{ type: 'websocket.send', text: 'connected' }, completed]);
    await connect('l6', ON_COMPLETED_PATH, w.keys['viewer']!, { workspaces: 'priv', completed_at_since: done.completedAt! });
    expect(sockets.pusher.texts('l6')).toEqual(['connected']);
  });
});
