/**
 * The free-slot index on the memory fake (rules: shared/domain/free-slots.ts): which writes put a
 * worker in and take it out, and that a scheduling pass reads it instead of every worker.
 */
import { schedule } from '../../shared/app/scheduler';
import { completeWorkRequest, disableWorker, enableWorker, getNextForWorker, setWorkerConcurrency } from '../../shared/app/workers';
import { ConflictError } from '../../shared/domain/errors';
import { CONNECTION_TIMEOUT_MS } from '../../shared/domain/workers';
import { createSchedulingWorld, type SchedulingWorld } from '../support/scheduling';

let w: SchedulingWorld;
beforeEach(async () => {
  w = await createSchedulingWorld();
});

const indexed = () => [...w.deps.workers.freeSlots].sort();

describe('free-slot index', () => {
  it('holds a connected worker until its last slot is taken, and again once it is given back', async () => {
    const a = await w.addWorker('a.lan');
    expect(indexed()).toEqual([a.name]);
    const r = await w.submit('noop');
    expect((await schedule(w.deps)).assigned).toEqual([{ workRequestId: r.id, worker: a.name }]);
    expect(indexed()).toEqual([]);
    const running = await getNextForWorker(w.deps, await a.caller());
    expect(running?.id).toBe(r.id);
    await completeWorkRequest(w.deps, await a.caller(), r.id, { result: 'success' });
    expect(indexed()).toEqual([a.name]);
  });

  it('keeps a worker with concurrency 3 until its third slot is taken', async () => {
    const a = await w.addWorker('a.lan', { concurrency: 3 });
    for (let i = 0; i < 4; i++) await w.submit('noop');
    const before = await w.deps.workers.get(a.name);
    expect(before!.assigned).toBe(0);
    expect((await schedule(w.deps)).assigned).toHaveLength(3);
    expect(indexed()).toEqual([]);
  });

  it('leaves on disable and comes back on enable; a never-connected worker is never in it', async () => {
    const a = await w.addWorker('a.lan');
    await disableWorker(w.deps, 'test', a.name);
    expect(indexed()).toEqual([]);
    await enableWorker(w.deps, 'test', a.name);
    expect(indexed()).toEqual([a.name]);
  });

  it('an OFFLINE machine is not in it', async () => {
    const a = await w.addWorker('a.lan');
    const current = (await w.deps.workers.get(a.name))!;
    await w.deps.workers.update({ ...current, machineState: 'OFFLINE', offlineReason: null, version: current.version + 1 }, current.version);
    expect(indexed()).toEqual([]);
  });

  it('a pass drops a worker that stopped heartbeating and marks it disconnected; its next request puts it back', async () => {
    const a = await w.addWorker('a.lan');
    w.deps.clock.advance(CONNECTION_TIMEOUT_MS + 1000);
    const r = await w.submit('noop');
    expect((await schedule(w.deps)).assigned).toEqual([]);
    expect(indexed()).toEqual([]);
    expect((await w.deps.workers.get(a.name))!.connectedAt).toBeNull();
    // Back: get-next says hello again (connectedAt), pulls the request, and the worker is full.
    expect((await getNextForWorker(w.deps, await a.caller()))?.id).toBe(r.id);
    expect((await w.deps.workers.get(a.name))!.connectedAt).not.toBeNull();
    await completeWorkRequest(w.deps, await a.caller(), r.id, { result: 'success' });
    expect(indexed()).toEqual([a.name]);
  });

  it('a pass drops an entry whose worker is full (concurrency lowered) and keeps a worker whose slot was freed', async () => {
    const a = await w.addWorker('a.lan', { concurrency: 2 });
    await w.submit('noop');
    await schedule(w.deps); // one of two slots: stays
    expect(indexed()).toEqual([a.name]);
    await setWorkerConcurrency(w.deps, 'test', a.name, 1); // looks full: the update leaves the entry as it is
    expect(indexed()).toEqual([a.name]);
    await schedule(w.deps);
    expect(indexed()).toEqual([]);
  });

  it('a take that read the worker fuller than it is fails instead of hiding a free slot', async () => {
    const a = await w.addWorker('a.lan', { concurrency: 2 });
    const r = await w.submit('noop');
    const wr = (await w.deps.workRequests.get(r.id))!;
    await expect(
      w.deps.workRequests.commit({
        update: [{ workRequest: { ...wr, worker: a.name, version: wr.version + 1 }, expectedVersion: wr.version }],
        slots: [{ worker: a.name, delta: 1, seen: { assigned: 1, concurrency: 2 } }],
      }),
    ).rejects.toThrow(ConflictError);
    expect(indexed()).toEqual([a.name]);
  });

  it('a pass reads the index, not every worker, and with no free slot reads no pending Worker partition', async () => {
    const a = await w.addWorker('a.lan');
    for (let i = 0; i < 20; i++) await disableWorker(w.deps, 'test', (await w.addWorker(`idle-${i}.lan`)).name);
    await w.submit('noop');
    await schedule(w.deps); // fills a
    const list = jest.spyOn(w.deps.workers, 'list');
    const index = jest.spyOn(w.deps.workers, 'withFreeSlots');
    const pending = jest.spyOn(w.deps.workRequests, 'pendingCandidates');
    await w.submit('noop');
    expect((await schedule(w.deps)).assigned).toEqual([]);
    expect(list).not.toHaveBeenCalled();
    expect(index).toHaveBeenCalledTimes(1);
    expect(pending.mock.calls.filter(([type]) => type === 'Worker')).toEqual([]);
    expect((await w.deps.workers.get(a.name))!.assigned).toBe(1);
  });

  it('reads each empty pending partition once per pass, however many workers are free', async () => {
    for (let i = 0; i < 5; i++) await w.addWorker(`w${i}.lan`);
    const pending = jest.spyOn(w.deps.workRequests, 'pendingCandidates');
    await schedule(w.deps);
    // Each architecture of AMD64_METADATA and "no architecture": once each, not once per worker.
    expect(pending.mock.calls.filter(([type]) => type === 'Worker').map(([, arch]) => arch).sort()).toEqual(['amd64', 'i386', null]);
  });
});
