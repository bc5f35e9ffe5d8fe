/**
 * Workers completing at once and pulling their next request (`PUT completed/?next=1`,
 * bench/RESULTS-contention.md): they try different requests first (spreadFirst), a race lost on a
 * request costs no re-read of the worker, and a freed slot that a create's offer or a pass filled
 * while the worker was pulling is started in the same round trip. The slot rule and priority order hold.
 */
import { scheduleForWorker } from '../../shared/app/scheduler';
import { spreadFirst, SPREAD_CANDIDATES } from '../../shared/app/pull-spread';
import { completeAndPullNext, getNextForWorker } from '../../shared/app/workers';
import { isWorkRequestChanged } from '../../shared/domain/errors';
import { bump, type WorkRequest } from '../../shared/domain/work-requests';
import type { WorkRequestChanges } from '../../shared/ports';
import { createSchedulingWorld, type SchedulingWorld } from '../support/scheduling';

let w: SchedulingWorld;
beforeEach(async () => {
  w = await createSchedulingWorld();
});

async function raisePriority(wr: WorkRequest, by: number): Promise<WorkRequest> {
  const stored = (await w.deps.workRequests.get(wr.id))!;
  const raised = { ...stored, priorityAdjustment: by, version: stored.version + 1 };
  await w.deps.workRequests.commit({ update: [{ workRequest: raised, expectedVersion: stored.version }] });
  return raised;
}

/** Counts the commits that lost a request's version check. */
function countLostRequestRaces(): { lost: number } {
  const counter = { lost: 0 };
  const original = w.deps.workRequests.commit.bind(w.deps.workRequests);
  jest.spyOn(w.deps.workRequests, 'commit').mockImplementation(async (changes: WorkRequestChanges) => {
    try {
      return await original(changes);
    } catch (err) {
      if (isWorkRequestChanged(err)) counter.lost++;
      throw err;
    }
  });
  return counter;
}

/** A worker of one slot, running one request. */
async function workerRunningOne(fqdn: string): Promise<{ worker: Awaited<ReturnType<SchedulingWorld['addWorker']>>; running: WorkRequest }> {
  const worker = await w.addWorker(fqdn);
  await w.submit('noop');
  return { worker, running: (await getNextForWorker(w.deps, await worker.caller()))! };
}

/** Another caller's assignment (an offer, a pass, another worker's pull), written with the unwrapped commit. */
async function assignBehind(commit: (changes: WorkRequestChanges) => Promise<unknown>, id: number, worker: string): Promise<void> {
  const stored = (await w.deps.workRequests.get(id))!;
  await commit({
    update: [{ workRequest: bump(stored, { worker, assignedAt: new Date().toISOString() }), expectedVersion: stored.version }],
    slots: [{ worker, delta: 1, workRequestId: id }],
  });
}

describe('spreadFirst', () => {
  const requests = (priorities: number[]): WorkRequest[] => priorities.map((p, i) => ({ id: i + 1, priorityBase: p, priorityAdjustment: 0 }) as WorkRequest);
  const ids = (list: WorkRequest[]): number[] => list.map((wr) => wr.id);

  it('moves the picked one of the best equal-priority candidates to the front and keeps the rest in order', () => {
    expect(ids(spreadFirst(requests([0, 0, 0, 0]), () => 2))).toEqual([3, 1, 2, 4]);
    expect(ids(spreadFirst(requests([0, 0, 0, 0]), () => 0))).toEqual([1, 2, 3, 4]);
  });

  it('never puts a lower priority first: the best one alone is always tried first', () => {
    expect(ids(spreadFirst(requests([5, 0, 0, 0]), () => 3))).toEqual([1, 2, 3, 4]);
    expect(ids(spreadFirst(requests([5, 5, 0, 0]), (n) => n - 1))).toEqual([2, 1, 3, 4]);
  });

  it(`chooses among the first ${SPREAD_CANDIDATES} equals at most, and an out-of-range pick is clamped`, () => {
    const seen: number[] = [];
    const list = spreadFirst(requests(Array(20).fill(0)), (n) => (seen.push(n), 99));
    expect(seen).toEqual([SPREAD_CANDIDATES]);
    expect(list[0]!.id).toBe(SPREAD_CANDIDATES);
    expect(ids(spreadFirst([], () => 0))).toEqual([]);
  });
});

describe('workers completing at once', () => {
  it('4 workers pulling at once get 4 different requests, with no double assignment and fewer lost races than workers', async () => {
    const busy: Awaited<ReturnType<typeof workerRunningOne>>[] = [];
    for (const n of ['a', 'b', 'c', 'd']) busy.push(await workerRunningOne(`${n}.lan`));
    const workers = busy.map((b) => b.worker);
    const running = busy.map((b) => b.running);
    const pending: WorkRequest[] = [];
    for (let i = 0; i < 8; i++) pending.push(await w.submit('noop'));
    const races = countLostRequestRaces();
    const callers = await Promise.all(workers.map((worker) => worker.caller()));
    const answers = await Promise.all(workers.map((_, i) => completeAndPullNext(w.deps, callers[i]!, running[i]!.id, { result: 'success' })));
    const next = answers.map((a) => a.next!);
    expect(next.every((wr) => wr !== undefined)).toBe(true);
    expect(new Set(next.map((wr) => wr.id)).size).toBe(4);
    for (const [i, worker] of workers.entries()) {
      expect((await w.deps.workRequests.get(next[i]!.id))!).toMatchObject({ status: 'running', worker: worker.name });
      expect((await w.deps.workers.get(worker.name))!.assigned).toBe(1);
    }
    const stored = await w.deps.workRequests.getMany(pending.map((wr) => wr.id));
    expect(stored.filter((wr) => wr.worker !== null).map((wr) => wr.id).sort()).toEqual(next.map((wr) => wr.id).sort());
    // All trying the oldest first, three of the four would lose at least one race.
    expect(races.lost).toBeLessThan(3);
  });

  it('a pull keeps priority order: a single best request is taken first by whoever wins it, the others get the next best', async () => {
    const busy = [await workerRunningOne('a.lan'), await workerRunningOne('b.lan')];
    const workers = busy.map((b) => b.worker);
    const running = busy.map((b) => b.running);
    const plain = [await w.submit('noop'), await w.submit('noop'), await w.submit('noop')];
    const urgent = await raisePriority(await w.submit('noop'), 10);
    const callers = await Promise.all(workers.map((worker) => worker.caller()));
    const answers = await Promise.all(workers.map((_, i) => completeAndPullNext(w.deps, callers[i]!, running[i]!.id, { result: 'success' })));
    const taken = answers.map((a) => a.next!.id);
    expect(taken).toContain(urgent.id);
    expect(plain.map((wr) => wr.id)).toContain(taken.find((id) => id !== urgent.id));
  });

  it('a race lost on the request goes on to the next candidate without re-reading the worker', async () => {
    const a = await w.addWorker('a.lan');
    const b = await w.addWorker('b.lan');
    const first = await w.submit('noop');
    const second = await w.submit('noop');
    const original = w.deps.workRequests.commit.bind(w.deps.workRequests);
    let raced = false;
    jest.spyOn(w.deps.workRequests, 'commit').mockImplementation(async (changes: WorkRequestChanges) => {
      const taking = changes.update?.[0]?.workRequest;
      if (!raced && taking?.id === first.id && taking.worker === a.name) {
        raced = true;
        await assignBehind(original, first.id, b.name); // worker b wins `first` just before a's write lands
      }
      return original(changes);
    });
    const workerReads = jest.spyOn(w.deps.workers, 'get');
    const assigned = await scheduleForWorker(w.deps, (await w.deps.workers.get(a.name))!, { notify: false });
    expect(workerReads).toHaveBeenCalledTimes(1); // the one above, before the pass: none after the lost race
    expect(assigned).toEqual([{ workRequestId: second.id, worker: a.name }]);
    expect((await w.deps.workRequests.get(first.id))!.worker).toBe(b.name);
    expect((await w.deps.workers.get(a.name))!.assigned).toBe(1);
    expect((await w.deps.workers.get(b.name))!.assigned).toBe(1);
  });

  it('a freed slot filled meanwhile by an offer or a pass: the completion starts what was assigned, in the same round trip', async () => {
    const { worker: a, running } = await workerRunningOne('a.lan');
    const pulledCandidate = await w.submit('noop');
    const offered = await w.submit('noop');
    const original = w.deps.workRequests.commit.bind(w.deps.workRequests);
    let offeredMeanwhile = false;
    jest.spyOn(w.deps.workRequests, 'commit').mockImplementation(async (changes: WorkRequestChanges) => {
      const slot = changes.slots?.[0];
      if (!offeredMeanwhile && slot?.worker === a.name && slot.delta === 1) {
        offeredMeanwhile = true;
        await assignBehind(original, offered.id, a.name); // a create's offer fills a's freed slot while a's completion pulls
      }
      return original(changes);
    });
    const { next, pullFailed } = await completeAndPullNext(w.deps, await a.caller(), running.id, { result: 'success' });
    expect(offeredMeanwhile).toBe(true);
    expect(pullFailed).toBe(false);
    expect(next).toMatchObject({ id: offered.id, status: 'running', worker: a.name });
    expect((await w.deps.workRequests.get(pulledCandidate.id))!).toMatchObject({ status: 'pending', worker: null });
    expect((await w.deps.workers.get(a.name))!.assigned).toBe(1);
  });

  it('reads the candidate markers alongside the worker\'s requests: one sequential round trip less before the pull', async () => {
    const { worker: a, running } = await workerRunningOne('a.lan');
    const waiting = await w.submit('noop');
    const markers = jest.spyOn(w.deps.workRequests, 'candidatePartitions');
    const markerReadsBeforeActive: number[] = [];
    const active = w.deps.workRequests.activeForWorker.bind(w.deps.workRequests);
    jest.spyOn(w.deps.workRequests, 'activeForWorker').mockImplementation(async (name: string) => {
      markerReadsBeforeActive.push(markers.mock.calls.length);
      return active(name);
    });
    const { next } = await completeAndPullNext(w.deps, await a.caller(), running.id, { result: 'success' });
    expect(next?.id).toBe(waiting.id);
    expect(markerReadsBeforeActive).toEqual([1]);
    expect(markers).toHaveBeenCalledTimes(1);
  });
});
