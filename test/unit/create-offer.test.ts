/**
 * The create path's offer (shared/app/create-offer.ts): `POST work-request/` hands a new pending
 * Worker request to an idle worker at once, under the pass's rules, and sends the scheduler event
 * only when that did not assign it.
 */
import { createMemorySockets } from '../../shared/adapters/sockets/memory';
import { WORKER_CONNECT_PATH, greetSocket, openSocket } from '../../shared/app/sockets';
import { setMachineState } from '../../shared/app/machines';
import { schedule } from '../../shared/app/scheduler';
import { offerToIdleWorker, readOfferState } from '../../shared/app/create-offer';
import { setUserDisabled } from '../../shared/app/tokens';
import { createWorkRequest } from '../../shared/app/work-requests';
import { getNextForWorker } from '../../shared/app/workers';
import type { FollowUpFailure } from '../../shared/app/follow-ups';
import type { WorkRequest } from '../../shared/domain/work-requests';
import { createSchedulingWorld, type SchedulingWorld } from '../support/scheduling';

let w: SchedulingWorld;
beforeEach(async () => {
  w = await createSchedulingWorld();
});

const events = () => w.deps.queues.schedulerEvents.map((e) => (e as { workRequestId?: number }).workRequestId);

/** A request left pending before the offer is switched on (no worker could have taken it then). */
async function pendingBefore(taskName = 'noop', as = 'contributor', priorityAdjustment = 0): Promise<WorkRequest> {
  const wr = await w.submit(taskName, {}, as);
  if (priorityAdjustment === 0) return wr;
  const stored = (await w.deps.workRequests.get(wr.id))!;
  const next = { ...stored, priorityAdjustment, version: stored.version + 1 };
  await w.deps.workRequests.commit({ update: [{ workRequest: next, expectedVersion: stored.version }] });
  return next;
}

const stored = async (id: number) => (await w.deps.workRequests.get(id))!;

describe('the create path offers a new request to an idle worker', () => {
  it('reads alongside the commit: the new request is a candidate of its own offer though its partition looked empty then', async () => {
    const a = await w.addWorker('a.lan');
    // Read before the request exists, as the create does alongside its commit: every partition looked empty.
    const reads = readOfferState(w.deps);
    const state = await reads;
    expect('partitions' in state && state.partitions.mayHold('Worker', null)).toBe(false);
    const created = await w.submit('noop'); // offer off here: stays pending
    const offered = await offerToIdleWorker(w.deps, await stored(created.id), await w.caller('contributor'), undefined, reads);
    expect(offered).toMatchObject({ id: created.id, worker: a.name });
    expect((await w.deps.workers.get(a.name))!.assigned).toBe(1);
  });

  it('assigns it at once, tells the worker on its queue, and sends no scheduler event', async () => {
    const a = await w.addWorker('a.lan');
    w.deps.offerOnCreate = true;
    const before = events().length;
    const created = await w.submit('noop');
    // The answer is the request as created; the assignment is on the stored one.
    expect(created).toMatchObject({ status: 'pending', worker: null });
    expect(await stored(created.id)).toMatchObject({ status: 'pending', worker: a.name });
    expect((await w.deps.workers.get(a.name))!.assigned).toBe(1);
    expect(events().slice(before)).toEqual([]);
    expect(w.deps.workerChannels.messagesFor(a.name)).toEqual([{ type: 'work_request_available', workRequestId: created.id }]);
    // The worker's get-next starts it, as after a pass.
    expect(await getNextForWorker(w.deps, await a.caller())).toMatchObject({ id: created.id, status: 'running' });
  });

  it('sends the scheduler event when no worker is free: none registered, or the only one busy', async () => {
    w.deps.offerOnCreate = true;
    const alone = await w.submit('noop');
    expect(await stored(alone.id)).toMatchObject({ worker: null });
    expect(events()).toContain(alone.id);
    const a = await w.addWorker('a.lan');
    await schedule(w.deps); // takes `alone`: a's only slot
    expect((await stored(alone.id)).worker).toBe(a.name);
    const second = await w.submit('noop');
    expect(await stored(second.id)).toMatchObject({ status: 'pending', worker: null });
    expect(events()).toContain(second.id);
    expect((await w.deps.workers.get(a.name))!.assigned).toBe(1);
  });

  it('keeps the priority order: the worker takes an older, higher-priority request; the new one stays pending with its event', async () => {
    const older = await pendingBefore('noop', 'contributor', 5);
    const a = await w.addWorker('a.lan');
    w.deps.offerOnCreate = true;
    const created = await w.submit('noop');
    expect(await stored(older.id)).toMatchObject({ worker: a.name });
    expect(await stored(created.id)).toMatchObject({ status: 'pending', worker: null });
    expect(events()).toContain(created.id);
    expect((await w.deps.workers.get(a.name))!.assigned).toBe(1);
  });

  it('takes one slot only: a worker with two free slots and an older request gets that one, the pass does the rest', async () => {
    const older = await pendingBefore();
    const a = await w.addWorker('a.lan', { concurrency: 2 });
    w.deps.offerOnCreate = true;
    const created = await w.submit('noop');
    expect((await stored(older.id)).worker).toBe(a.name);
    expect((await stored(created.id)).worker).toBeNull();
    expect(events()).toContain(created.id);
    await schedule(w.deps);
    expect((await stored(created.id)).worker).toBe(a.name);
  });

  it("skips a disabled creator's older request and assigns the new one", async () => {
    const older = await pendingBefore('noop', 'owner', 5);
    await setUserDisabled(w.deps, 'test', 'owner', true);
    const a = await w.addWorker('a.lan');
    w.deps.offerOnCreate = true;
    const before = events().length;
    const created = await w.submit('noop');
    expect(await stored(older.id)).toMatchObject({ status: 'pending', worker: null });
    expect(await stored(created.id)).toMatchObject({ worker: a.name });
    expect(events().slice(before)).toEqual([]);
  });

  it('offers nothing to a worker that cannot run the request', async () => {
    await w.addWorker('a.lan', { metadata: { 'system:worker_type': 'signing' } });
    w.deps.offerOnCreate = true;
    const created = await w.submit('noop'); // a Worker task needs an external worker
    expect((await stored(created.id)).worker).toBeNull();
    expect(events()).toContain(created.id);
  });

  it('offers nothing to a QUIESCING machine, even with a free slot', async () => {
    const a = await w.addWorker('a.lan', { concurrency: 2 });
    const first = await w.submit('noop');
    await schedule(w.deps); // one of its two slots taken: quiescing leaves it QUIESCING, not OFFLINE
    expect((await stored(first.id)).worker).toBe(a.name);
    expect((await setMachineState(w.deps, 'test', a.name, 'quiesce')).machineState).toBe('QUIESCING');
    w.deps.offerOnCreate = true;
    const created = await w.submit('noop');
    expect(await stored(created.id)).toMatchObject({ status: 'pending', worker: null });
    expect(events()).toContain(created.id);
  });

  it('is not made for server-side requests (Wait, Server): they keep the scheduler event', async () => {
    await w.addWorker('a.lan');
    w.deps.offerOnCreate = true;
    const wait = await createWorkRequest(w.deps, await w.caller('admin'), { scope: 'debusine', workspace: 'priv', taskName: 'delay', taskData: { delay_until: '2030-01-01T00:00:00Z' } });
    expect(events()).toContain(wait.id);
  });

  it('a failed offer never fails the create: the request stands, the failure is reported, the event is sent', async () => {
    await w.addWorker('a.lan');
    w.deps.offerOnCreate = true;
    jest.spyOn(w.deps.workers, 'withFreeSlots').mockRejectedValueOnce(new Error('index unavailable'));
    const failures: FollowUpFailure[] = [];
    const created = await createWorkRequest(w.deps, await w.caller('contributor'), { scope: 'debusine', workspace: 'priv', taskName: 'noop', taskData: {} }, failures);
    expect(await stored(created.id)).toMatchObject({ status: 'pending', worker: null });
    expect(failures).toEqual([{ step: 'offer the request to an idle worker', workRequestId: created.id, error: new Error('index unavailable') }]);
    expect(events()).toContain(created.id);
    // The scheduler event's pass then assigns it as before.
    await schedule(w.deps);
    expect((await stored(created.id)).worker).not.toBeNull();
  });

  it("tells a Debusine worker over its WebSocket, as a pass does", async () => {
    const sockets = createMemorySockets();
    const deps = Object.assign(w.deps, { sockets });
    const a = await w.addWorker('a.lan');
    sockets.pusher.open.add('c1');
    await openSocket(deps, { connectionId: 'c1', path: WORKER_CONNECT_PATH, query: {}, headers: { token: a.key } });
    await greetSocket(deps, 'c1');
    w.deps.offerOnCreate = true;
    const created = await w.submit('noop');
    expect((await stored(created.id)).worker).toBe(a.name);
    expect(sockets.pusher.texts('c1')).toEqual(['connected', 'request_dynamic_metadata', 'work_request_available']);
  });
});

describe('without offerOnCreate (absent)', () => {
  it('creates and sends the event only, as before', async () => {
    const a = await w.addWorker('a.lan');
    const created = await w.submit('noop');
    expect(await stored(created.id)).toMatchObject({ worker: null });
    expect(events()).toContain(created.id);
    expect((await w.deps.workers.get(a.name))!.assigned).toBe(0);
  });
});
