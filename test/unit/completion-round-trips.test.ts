/**
 * From a worker's completion to its dependent's blocked → pending write: the store and queue calls
 * on the way, grouped into sequential round trips (calls that overlap are one). Every call of the
 * memory fake is made to take a macrotask, as a network request would, so that calls sent in
 * parallel overlap and calls sent one after another do not.
 * On DynamoDB the count is the same 3 since the dependent's candidate marker is set alongside its pending
 * write (test/integration/dynamodb-marker-alongside.test.ts counts the AWS requests).
 */
import { setImmediate as tick } from 'node:timers/promises';
import { completeWorkRequest, getNextForWorker } from '../../shared/app/workers';
import { newWorkRequest } from '../../shared/domain/work-requests';
import type { Deps } from '../../shared/ports';
import { AMD64_METADATA, createSchedulingWorld } from '../support/scheduling';
import { schedule } from '../../shared/app/scheduler';
import { sequentialSteps, type TimedCall as Call } from '../../bench/completion-trace';
import { createMemorySockets } from '../../shared/adapters/sockets/memory';

/** `target`'s methods, each recorded and delayed by one macrotask before it runs. */
function recorded<T extends object>(target: T, label: string, calls: Call[], clock: { t: number }): T {
  return new Proxy(target, {
    get(obj, prop, receiver) {
      const value = Reflect.get(obj, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        const call: Call = { command: `${label}.${String(prop)}`, start: clock.t++, end: Number.POSITIVE_INFINITY };
        calls.push(call);
        await tick();
        try {
          return await (value as (...a: unknown[]) => unknown).apply(obj, args);
        } finally {
          call.end = clock.t++;
        }
      };
    },
  });
}

/**
 * A world with `first` running on a worker and `second` blocked on it alone, both children of a
 * running workflow (`inWorkflow`) or neither; ids from `base`.
 */
async function runningWithBlockedDependent(base: number, inWorkflow = true) {
  const w = await createSchedulingWorld();
  const worker = await w.addWorker('a.lan', { metadata: AMD64_METADATA });
  const fields = { scope: 'debusine', workspace: 'priv', createdBy: 'user:contributor', createdAt: new Date().toISOString(), taskData: { result: true } };
  const root = newWorkRequest({ ...fields, id: base, taskType: 'Workflow', taskName: 'noop-graph', status: 'running', taskData: {} });
  const parent = inWorkflow ? { parent: root.id } : {};
  const first = newWorkRequest({ ...fields, id: base + 1, taskType: 'Worker', taskName: 'noop', ...parent, status: 'pending' });
  const second = newWorkRequest({ ...fields, id: base + 2, taskType: 'Worker', taskName: 'noop', ...parent, status: 'blocked', dependencies: [first.id] });
  if (inWorkflow) await w.deps.workRequests.commit({ create: [root] });
  await w.deps.workRequests.commit({ create: [first, second], addReverseDependencies: [{ dependency: first.id, dependent: second.id }] });
  await schedule(w.deps);
  const caller = await worker.caller();
  expect((await getNextForWorker(w.deps, caller))?.id).toBe(first.id);
  return { w, caller, first, second };
}

/** The store's calls recorded into `calls`; `pendingAt()`: the clock once `dependentId`'s blocked → pending commit was answered. */
function recordedWithPendingTime(store: Deps['workRequests'], dependentId: number, calls: Call[], clock: { t: number }) {
  let pendingAt = Number.NaN;
  const workRequests = recorded(store, 'workRequests', calls, clock);
  return {
    pendingAt: () => pendingAt,
    workRequests: new Proxy(workRequests, {
      get(obj, prop, receiver) {
        if (prop !== 'commit') return Reflect.get(obj, prop, receiver) as unknown;
        return async (changes: Parameters<Deps['workRequests']['commit']>[0]) => {
          await obj.commit(changes);
          if (changes.update?.some((u) => u.workRequest.id === dependentId && u.workRequest.status === 'pending')) pendingAt = clock.t;
        };
      },
    }),
  };
}

test('a completion reaches its dependent\'s pending write in 3 sequential round trips: its dependents listed alongside its own read, they and the workflow read alongside the finish\'s commit, its finished dependency and its workflow not read again, accounting and the workflow message alongside, the re-listing after', async () => {
  const { w, caller, first, second } = await runningWithBlockedDependent(9000);
  // CPU usage accounting on: the completion sends an accounting message.
  const base = w.deps as Deps;
  const quotaSettings = { ...(base.quotaSettings ?? {}), terminationPolicy: ['cpu', 'disk'] } as NonNullable<Deps['quotaSettings']>;
  const calls: Call[] = [];
  const clock = { t: 0 };
  const { workRequests, pendingAt: pendingTime } = recordedWithPendingTime(base.workRequests, second.id, calls, clock);
  const deps: Deps = {
    ...base,
    quotaSettings,
    workRequests,
    queues: recorded(base.queues, 'queues', calls, clock),
    accountingQueue: recorded(base.accountingQueue, 'accountingQueue', calls, clock),
    workers: recorded(base.workers, 'workers', calls, clock),
  };
  await completeWorkRequest(deps, caller, first.id, { result: 'success' });
  const pendingAt = pendingTime();

  expect((await w.deps.workRequests.get(second.id))!.status).toBe('pending');
  // The path to the dependent's write; each step names its call first, then those under way alongside.
  const toPending = sequentialSteps(calls, 0, pendingAt);
  expect(toPending).toHaveLength(3);
  // The request (this worker's, running?) and, alongside, which requests depend on it. Nothing else: each
  // parallel request slows the others on DynamoDB Local.
  expect([...toPending[0]!].sort()).toEqual(['workRequests.get', 'workRequests.reverseDependencies']);
  // The finish (its slot and its workflow's child count in the same write), and alongside it the dependents
  // and their workflow (running?) in one getMany; the usage accounting message alongside (never a step of its own).
  expect(toPending[1]).toEqual(expect.arrayContaining(['workRequests.commit', 'workRequests.getMany', 'accountingQueue.enqueue']));
  // Its only dependency is the request just finished: not read again; nothing is read between the commit and the write.
  expect(toPending[2]![0]).toBe('workRequests.commit'); // blocked → pending
  expect(calls.some((c) => c.command === 'queues.enqueueOrchestration')).toBe(true);
  expect(toPending.map((s) => s[0])).not.toContain('queues.enqueueOrchestration');
  // The request itself is the only single read: the workflow message's root is the workflow read ahead.
  expect(calls.filter((c) => c.command === 'workRequests.get')).toHaveLength(1);
  // The dependents are listed again (a dependency added during the commit) after the pending write, not beside it.
  const listings = calls.filter((c) => c.command === 'workRequests.reverseDependencies');
  expect(listings).toHaveLength(2);
  expect(listings[1]!.start).toBeGreaterThan(pendingAt);
});

describe('settling with the finished dependency as committed', () => {
  async function world() {
    const w = await createSchedulingWorld();
    const worker = await w.addWorker('a.lan', { metadata: AMD64_METADATA });
    const fields = { scope: 'debusine', workspace: 'priv', createdBy: 'user:contributor', createdAt: new Date().toISOString(), taskData: { result: true } };
    const root = newWorkRequest({ ...fields, id: 9100, taskType: 'Workflow', taskName: 'noop-graph', status: 'running', taskData: {} });
    await w.deps.workRequests.commit({ create: [root] });
    const child = (id: number, extra: Partial<Parameters<typeof newWorkRequest>[0]> = {}) =>
      newWorkRequest({ ...fields, id, taskType: 'Worker', taskName: 'noop', parent: root.id, status: 'pending', ...extra });
    return { w, worker, child };
  }

  /** A child `a` running on the worker, and `dependent` blocked on it alone. */
  async function runningWithDependent(ids: [number, number]) {
    const { w, worker, child } = await world();
    const a = child(ids[0]);
    const dependent = child(ids[1], { status: 'blocked', dependencies: [a.id] });
    await w.deps.workRequests.commit({ create: [a, dependent], addReverseDependencies: [{ dependency: a.id, dependent: dependent.id }] });
    await schedule(w.deps);
    expect((await getNextForWorker(w.deps, await worker.caller()))?.id).toBe(a.id);
    return { w, worker, a, dependent };
  }

  test('a dependent with another dependency still in progress reads it and stays blocked', async () => {
    const { w, worker, child } = await world();
    const a = child(9101);
    const b = child(9102, { status: 'blocked', dependencies: [9103] }); // never runs here
    const other = child(9103, { status: 'blocked' });
    const dependent = child(9104, { status: 'blocked', dependencies: [a.id, b.id] });
    await w.deps.workRequests.commit({ create: [a, b, other, dependent], addReverseDependencies: [{ dependency: a.id, dependent: dependent.id }, { dependency: b.id, dependent: dependent.id }] });
    await schedule(w.deps);
    expect((await getNextForWorker(w.deps, await worker.caller()))?.id).toBe(a.id);
    await completeWorkRequest(w.deps, await worker.caller(), a.id, { result: 'success' });
    expect((await w.deps.workRequests.get(dependent.id))!.status).toBe('blocked');
  });

  test('a dependent whose only dependency failed is aborted', async () => {
    const { w, worker, a, dependent } = await runningWithDependent([9111, 9112]);
    await completeWorkRequest(w.deps, await worker.caller(), a.id, { result: 'failure' });
    expect((await w.deps.workRequests.get(dependent.id))!).toMatchObject({ status: 'aborted' });
  });

  test('a dependency added while the finish committed is settled too: the dependents are listed again after the commit', async () => {
    const { w, worker, a, dependent } = await runningWithDependent([9121, 9122]);
    // The read-ahead's listing misses the dependency (as if it was added just after that read).
    let listings = 0;
    const store = w.deps.workRequests;
    const deps: Deps = {
      ...w.deps,
      workRequests: new Proxy(store, {
        get(obj, prop, receiver) {
          if (prop !== 'reverseDependencies') return Reflect.get(obj, prop, receiver) as unknown;
          return async (id: number) => (listings++ === 0 ? [] : store.reverseDependencies(id));
        },
      }),
    };
    await completeWorkRequest(deps, await worker.caller(), a.id, { result: 'success' });
    expect(listings).toBe(2);
    expect((await w.deps.workRequests.get(dependent.id))!.status).toBe('pending');
  });
});

describe("Debusine's completion listeners", () => {
  /** `first` running on a worker with `second` blocked on it (both children of a workflow, or neither), one on-completed listener. */
  async function completeWithListener(inWorkflow: boolean) {
    const { w, caller, first, second } = await runningWithBlockedDependent(inWorkflow ? 9300 : 9400, inWorkflow);
    const sockets = createMemorySockets();
    await sockets.connections.put({ connectionId: 'l1', kind: 'on-completed', scope: 'debusine', workspaces: ['priv'], connectedAt: new Date().toISOString() });
    sockets.pusher.open.add('l1');
    const calls: Call[] = [];
    const clock = { t: 0 };
    const { workRequests, pendingAt } = recordedWithPendingTime(w.deps.workRequests, second.id, calls, clock);
    const deps: Deps = { ...w.deps, workRequests, sockets: { ...sockets, connections: recorded(sockets.connections, 'sockets', calls, clock) } };
    await completeWorkRequest(deps, caller, first.id, { result: 'success' });
    expect((await w.deps.workRequests.get(second.id))!.status).toBe('pending');
    expect(sockets.pusher.sent).toEqual([{ connectionId: 'l1', message: expect.objectContaining({ text: 'work_request_completed', work_request_id: first.id }) }]);
    const listenersRead = calls.filter((c) => c.command === 'sockets.listeners');
    expect(listenersRead).toHaveLength(1);
    const listings = calls.filter((c) => c.command === 'workRequests.reverseDependencies');
    return { listenersRead: listenersRead[0]!, lastListing: listings.at(-1)!, pendingAt: pendingAt() };
  }

  test("a workflow child's listeners are read once its dependent went pending, alongside the dependents' re-listing (one round trip, not two)", async () => {
    const { listenersRead, lastListing, pendingAt } = await completeWithListener(true);
    expect(listenersRead.start).toBeGreaterThanOrEqual(pendingAt); // sent after the pending write was answered
    expect(lastListing.start).toBeGreaterThanOrEqual(pendingAt);
    // Under way at the same time.
    expect(listenersRead.start).toBeLessThan(lastListing.end);
    expect(lastListing.start).toBeLessThan(listenersRead.end);
  });

  test('with nothing read ahead (a request outside workflows) they are read once the unblocking is over', async () => {
    const { listenersRead, lastListing, pendingAt } = await completeWithListener(false);
    expect(lastListing.end).toBeLessThan(pendingAt);
    expect(listenersRead.start).toBeGreaterThanOrEqual(pendingAt); // sent after the pending write was answered
  });
});
