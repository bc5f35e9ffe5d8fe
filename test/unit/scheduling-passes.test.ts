/**
 * What a scheduling pass and a get-next read (memory fake, exact candidate markers): partitions
 * known to be empty are skipped with one read of the markers, an event's pass leaves due waits to
 * the periodic pass, and the priority order and the slot rule are those of a full read.
 */
import { EVENT_PASS, TICK_PASS, schedule } from '../../shared/app/scheduler';
import { completeWorkRequest, getNextForWorker } from '../../shared/app/workers';
import { createWorkRequest } from '../../shared/app/work-requests';
import { createSchedulingWorld, type SchedulingWorld } from '../support/scheduling';

let w: SchedulingWorld;
beforeEach(async () => {
  w = await createSchedulingWorld();
});

const reads = () => w.deps.workRequests.reads;

describe('scheduling pass reads', () => {
  it('an event pass reads the markers once and only the partitions that hold work', async () => {
    const a = await w.addWorker('a.lan');
    const r = await w.submit('noop');
    const before = { ...reads() };
    expect((await schedule(w.deps, EVENT_PASS)).assigned).toEqual([{ workRequestId: r.id, worker: a.name }]);
    expect(reads().candidatePartitions - before.candidatePartitions).toBe(1);
    // The noop's partition (Worker, no architecture) only: not the worker's amd64 and i386 ones, nor any server-side kind.
    expect(reads().pendingCandidates - before.pendingCandidates).toBe(1);
  });

  it('the periodic pass reads every partition whatever the markers say', async () => {
    await w.addWorker('a.lan');
    await w.submit('noop');
    const before = { ...reads() };
    await schedule(w.deps, TICK_PASS);
    // Workflow, Internal, Wait, Server, and the worker's three Worker partitions (amd64, i386, none).
    expect(reads().pendingCandidates - before.pendingCandidates).toBe(7);
  });

  it('get-next with nothing pending answers without reading a pending partition', async () => {
    const a = await w.addWorker('a.lan');
    const r = await w.submit('noop');
    await schedule(w.deps, EVENT_PASS);
    expect((await getNextForWorker(w.deps, await a.caller()))?.id).toBe(r.id);
    await completeWorkRequest(w.deps, await a.caller(), r.id, { result: 'success' });
    const before = { ...reads() };
    expect(await getNextForWorker(w.deps, await a.caller())).toBeUndefined();
    expect(reads().pendingCandidates - before.pendingCandidates).toBe(0);
    expect(reads().candidatePartitions - before.candidatePartitions).toBe(1);
  });

  it('a pulling get-next starts what it assigned without reading it back', async () => {
    const a = await w.addWorker('a.lan');
    const r = await w.submit('noop');
    const getMany = jest.spyOn(w.deps.workRequests, 'getMany');
    const started = await getNextForWorker(w.deps, await a.caller());
    expect(started).toMatchObject({ id: r.id, status: 'running', worker: a.name });
    expect(getMany).not.toHaveBeenCalled();
    expect((await w.deps.workRequests.get(r.id))!.version).toBe(started!.version);
    await completeWorkRequest(w.deps, await a.caller(), r.id, { result: 'success' });
  });

  it('get-next still pulls the best pending request, highest priority first', async () => {
    const a = await w.addWorker('a.lan');
    await w.submit('noop');
    const later = await w.submit('noop');
    const stored = (await w.deps.workRequests.get(later.id))!;
    await w.deps.workRequests.commit({ update: [{ workRequest: { ...stored, priorityAdjustment: 10, version: stored.version + 1 }, expectedVersion: stored.version }] });
    // The younger one, by its priority: the marker read changes what is read, not the order.
    expect((await getNextForWorker(w.deps, await a.caller()))?.id).toBe(later.id);
  });

  it('an event pass leaves due waits to the periodic pass, unless it started the wait itself', async () => {
    const until = new Date(w.deps.clock.now().getTime() + 60_000).toISOString();
    const wait = await createWorkRequest(w.deps, await w.caller('admin'), { scope: 'debusine', workspace: 'priv', taskName: 'delay', taskData: { delay_until: until } });
    await schedule(w.deps, EVENT_PASS);
    expect((await w.deps.workRequests.get(wait.id))!.status).toBe('running');
    w.deps.clock.advance(61_000);
    await schedule(w.deps, EVENT_PASS);
    expect((await w.deps.workRequests.get(wait.id))!.status).toBe('running');
    await schedule(w.deps, TICK_PASS);
    expect((await w.deps.workRequests.get(wait.id))!).toMatchObject({ status: 'completed', result: 'success' });

    // Already due when the event pass starts it: completed in that same pass.
    const past = new Date(w.deps.clock.now().getTime() - 1_000).toISOString();
    const due = await createWorkRequest(w.deps, await w.caller('admin'), { scope: 'debusine', workspace: 'priv', taskName: 'delay', taskData: { delay_until: past } });
    await schedule(w.deps, EVENT_PASS);
    expect((await w.deps.workRequests.get(due.id))!).toMatchObject({ status: 'completed', result: 'success' });
  });

  it('a Worker request a synchronization point unblocks in the pass is assigned in that same pass', async () => {
    const a = await w.addWorker('a.lan');
    const sync = await createWorkRequest(w.deps, await w.caller('admin'), { scope: 'debusine', workspace: 'priv', taskName: 'noop', taskData: {} });
    const stored = (await w.deps.workRequests.get(sync.id))!;
    await w.deps.workRequests.commit({ update: [{ workRequest: { ...stored, taskType: 'Internal', taskName: 'synchronization_point', taskData: {}, version: 2 }, expectedVersion: 1 }] });
    const dependent = await w.submit('noop');
    const blocked = (await w.deps.workRequests.get(dependent.id))!;
    await w.deps.workRequests.commit({
      update: [{ workRequest: { ...blocked, status: 'blocked', dependencies: [sync.id], version: blocked.version + 1 }, expectedVersion: blocked.version }],
      addReverseDependencies: [{ dependency: sync.id, dependent: dependent.id }],
    });
    const summary = await schedule(w.deps, EVENT_PASS);
    expect(summary.completed).toContain(sync.id);
    expect(summary.assigned).toEqual([{ workRequestId: dependent.id, worker: a.name }]);
  });
});
