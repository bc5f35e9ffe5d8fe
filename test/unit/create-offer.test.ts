/**
 * The create path's offer (shared/app/create-offer.ts): `POST work-request/` creates a new Worker
 * request already assigned to an idle worker, under the pass's rules, and creates it pending with the
 * scheduler event when no worker takes it.
 */
import { createMemorySockets } from '../../shared/adapters/sockets/memory';
import { WORKER_CONNECT_PATH, greetSocket, openSocket } from '../../shared/app/sockets';
import { setMachineState } from '../../shared/app/machines';
import { schedule } from '../../shared/app/scheduler';
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

/** The commits a create sends, as the repository receives them. */
function recordCommits(): Parameters<typeof w.deps.workRequests.commit>[0][] {
  const commits: Parameters<typeof w.deps.workRequests.commit>[0][] = [];
  const original = w.deps.workRequests.commit.bind(w.deps.workRequests);
  jest.spyOn(w.deps.workRequests, 'commit').mockImplementation(async (changes) => {
    commits.push(changes);
    return original(changes);
  });
  return commits;
}

const createsAssigned = (changes: Parameters<typeof w.deps.workRequests.commit>[0]) => (changes.create ?? []).some((wr) => wr.worker !== null);

describe('the request is created already assigned (one write of the request)', () => {
  it('an idle worker: one commit creates it assigned with the slot; nothing else writes it', async () => {
    const a = await w.addWorker('a.lan');
    w.deps.offerOnCreate = true;
    const commits = recordCommits();
    const created = await w.submit('noop');
    expect(commits).toHaveLength(1);
    const [only] = commits;
    expect(only!.update).toBeUndefined();
    expect(only!.create).toEqual([expect.objectContaining({ id: created.id, status: 'pending', worker: a.name })]);
    expect(only!.slots).toEqual([expect.objectContaining({ worker: a.name, delta: 1, workRequestId: created.id })]);
    expect((await w.deps.workers.get(a.name))!.assigned).toBe(1);
    expect(events()).not.toContain(created.id);
    expect(w.deps.workerChannels.messagesFor(a.name)).toEqual([{ type: 'work_request_available', workRequestId: created.id }]);
  });

  it('a client sees what it saw of a request created pending then assigned: the 201 body, then the stored request', async () => {
    const a = await w.addWorker('a.lan');
    const viaPass = await w.submit('noop'); // offer off: pending, then assigned by a pass
    await schedule(w.deps);
    const passStored = await stored(viaPass.id);
    await getNextForWorker(w.deps, await a.caller()); // frees nothing: start it, then finish it to free the slot
    await w.deps.workRequests.commit({
      update: [{ workRequest: { ...(await stored(viaPass.id)), status: 'completed', result: 'success', version: passStored.version + 2 }, expectedVersion: passStored.version + 1, finishes: true }],
      slots: [{ worker: a.name, delta: -1, workRequestId: viaPass.id }],
    });
    w.deps.offerOnCreate = true;
    const offered = await w.submit('noop');
    const offeredStored = await stored(offered.id);
    const shape = (wr: WorkRequest) => ({ status: wr.status, worker: wr.worker, version: wr.version, startedAt: wr.startedAt, completedAt: wr.completedAt, hasAssignedAt: wr.assignedAt !== null });
    expect(shape(offered)).toEqual(shape(viaPass)); // the 201 body: pending, no worker yet
    expect(shape(offeredStored)).toEqual(shape(passStored)); // the next read: assigned, same version
    expect(offeredStored.assignedAt! >= offeredStored.createdAt).toBe(true);
  });

  it('a slot race lost to a pass: the request ends pending with its event, never assigned without a slot', async () => {
    const older = await pendingBefore();
    const a = await w.addWorker('a.lan');
    w.deps.offerOnCreate = true;
    // A pass takes the worker's only slot (for the older request) after the offer read the free slots.
    const withFreeSlots = w.deps.workers.withFreeSlots.bind(w.deps.workers);
    jest.spyOn(w.deps.workers, 'withFreeSlots').mockImplementationOnce(async () => {
      const free = await withFreeSlots();
      await schedule({ ...w.deps, offerOnCreate: false });
      return free;
    });
    const commits = recordCommits();
    const created = await w.submit('noop');
    expect((await stored(older.id)).worker).toBe(a.name);
    expect(await stored(created.id)).toMatchObject({ status: 'pending', worker: null });
    expect(events()).toContain(created.id);
    expect((await w.deps.workers.get(a.name))!.assigned).toBe(1);
    // It tried to create it assigned (and lost the slot's condition), then created it pending.
    const ofCreated = commits.filter((c) => (c.create ?? []).some((wr) => wr.id === created.id));
    expect(ofCreated.map(createsAssigned)).toEqual([true, false]);
  });

  it('a failed slot write: the request is created pending, the failure reported, the event sent', async () => {
    const a = await w.addWorker('a.lan');
    w.deps.offerOnCreate = true;
    const commit = w.deps.workRequests.commit.bind(w.deps.workRequests);
    jest.spyOn(w.deps.workRequests, 'commit').mockImplementation(async (changes) => {
      if (createsAssigned(changes)) throw new Error('throttled');
      return commit(changes);
    });
    const failures: FollowUpFailure[] = [];
    const created = await createWorkRequest(w.deps, await w.caller('contributor'), { scope: 'debusine', workspace: 'priv', taskName: 'noop', taskData: {} }, failures);
    expect(await stored(created.id)).toMatchObject({ status: 'pending', worker: null });
    expect((await w.deps.workers.get(a.name))!.assigned).toBe(0);
    expect(failures).toEqual([{ step: 'offer the request to an idle worker', workRequestId: created.id, error: new Error('throttled') }]);
    expect(events()).toContain(created.id);
    expect(w.deps.workerChannels.messagesFor(a.name)).toEqual([]);
  });

  it('a create that landed though its answer was lost: it stays assigned with its slot, the worker is told, no event', async () => {
    const a = await w.addWorker('a.lan');
    w.deps.offerOnCreate = true;
    const commit = w.deps.workRequests.commit.bind(w.deps.workRequests);
    jest.spyOn(w.deps.workRequests, 'commit').mockImplementation(async (changes) => {
      await commit(changes);
      if (createsAssigned(changes)) throw new Error('socket hang up');
    });
    const failures: FollowUpFailure[] = [];
    const created = await createWorkRequest(w.deps, await w.caller('contributor'), { scope: 'debusine', workspace: 'priv', taskName: 'noop', taskData: {} }, failures);
    expect(await stored(created.id)).toMatchObject({ status: 'pending', worker: a.name });
    expect((await w.deps.workers.get(a.name))!.assigned).toBe(1);
    expect(failures.map((f) => f.error)).toEqual([new Error('socket hang up')]);
    expect(events()).not.toContain(created.id);
    expect(w.deps.workerChannels.messagesFor(a.name)).toEqual([{ type: 'work_request_available', workRequestId: created.id }]);
  });

  it('a create refused by its checks (a viewer): the offer, whose reads went alongside them, takes nothing and sends nothing', async () => {
    const a = await w.addWorker('a.lan');
    w.deps.offerOnCreate = true;
    const commits = recordCommits();
    await expect(w.submit('noop', {}, 'viewer')).rejects.toThrow();
    expect(commits).toEqual([]);
    expect((await w.deps.workers.get(a.name))!.assigned).toBe(0);
    expect(events()).toEqual([]);
    expect(w.deps.workerChannels.messagesFor(a.name)).toEqual([]);
  });

  it('a new request whose dynamic data fails (an unknown artifact): created pending with its event; the pass ends it in error, as before', async () => {
    const a = await w.addWorker('a.lan');
    w.deps.offerOnCreate = true;
    const created = await w.submit('lintian', { input: { binary_artifacts: [999999] }, host_architecture: 'amd64' });
    expect(await stored(created.id)).toMatchObject({ status: 'pending', worker: null });
    expect(events()).toContain(created.id);
    expect((await w.deps.workers.get(a.name))!.assigned).toBe(0);
    await schedule(w.deps);
    expect(await stored(created.id)).toMatchObject({ status: 'completed', result: 'error', worker: null });
  });

  it('a disabled creator: refused by authentication, nothing is created or assigned', async () => {
    const a = await w.addWorker('a.lan');
    w.deps.offerOnCreate = true;
    await setUserDisabled(w.deps, 'test', 'contributor', true);
    await expect(w.submit('noop')).rejects.toThrow();
    expect((await w.deps.workers.get(a.name))!.assigned).toBe(0);
    expect(events()).toEqual([]);
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
