/**
 * The pull path: a worker whose slot is free gets its next request from get-next itself, in the
 * same round trip, in priority order, under the same conditional slot rule as a scheduling pass;
 * a worker's completion sends no scheduler event (the worker asks again at once).
 */
import fc from 'fast-check';
import { schedule } from '../../shared/app/scheduler';
import { completeWorkRequest, getNextForWorker } from '../../shared/app/workers';
import { ConflictError } from '../../shared/domain/errors';
import { createSchedulingWorld, type SchedulingWorld } from '../support/scheduling';

let w: SchedulingWorld;
beforeEach(async () => {
  w = await createSchedulingWorld();
});

const memoryDeps = () => w.deps as unknown as {
  queues: { schedulerEvents: { type: string }[] };
  workerChannels: { messagesFor(name: string): unknown[] };
};

describe('get-next pulls pending work when nothing is assigned', () => {
  it('starts the best pending request without a scheduling pass or a queue message', async () => {
    const a = await w.addWorker('a.lan');
    const low = await w.submit('noop');
    const high = await w.submit('noop');
    const stored = (await w.deps.workRequests.get(high.id))!;
    await w.deps.workRequests.commit({ update: [{ workRequest: { ...stored, priorityAdjustment: 5, version: stored.version + 1 }, expectedVersion: stored.version }] });
    const started = await getNextForWorker(w.deps, await a.caller());
    expect(started).toMatchObject({ id: high.id, status: 'running', worker: a.name });
    expect((await w.deps.workRequests.get(low.id))!).toMatchObject({ status: 'pending', worker: null });
    expect((await w.deps.workers.get(a.name))!.assigned).toBe(1);
    expect(memoryDeps().workerChannels.messagesFor(a.name)).toEqual([]);
  });

  it('pulls nothing for a full worker, and nothing it cannot run', async () => {
    const a = await w.addWorker('a.lan');
    const first = await w.submit('noop');
    await schedule(w.deps); // assigned, not yet started: the slot is taken
    const second = await w.submit('noop');
    expect((await getNextForWorker(w.deps, await a.caller(), []))?.id).toBe(first.id);
    expect(await getNextForWorker(w.deps, await a.caller(), [first.id])).toBeUndefined();
    expect((await w.deps.workRequests.get(second.id))!.worker).toBeNull();
    // An arm64-only request stays pending for an amd64 worker.
    await completeWorkRequest(w.deps, await a.caller(), first.id, { result: 'success' });
    const stored = (await w.deps.workRequests.get(second.id))!;
    await w.deps.workRequests.commit({ update: [{ workRequest: { ...stored, hostArchitecture: 'arm64', version: stored.version + 1 }, expectedVersion: stored.version }] });
    expect(await getNextForWorker(w.deps, await a.caller(), [])).toBeUndefined();
    expect((await w.deps.workRequests.get(second.id))!).toMatchObject({ status: 'pending', worker: null });
  });

  it('a completion sends no scheduler event; the next get-next hands over the next request', async () => {
    const a = await w.addWorker('a.lan');
    const first = await w.submit('noop');
    const second = await w.submit('noop');
    expect((await getNextForWorker(w.deps, await a.caller()))?.id).toBe(first.id);
    const events = memoryDeps().queues.schedulerEvents;
    const before = events.length;
    await completeWorkRequest(w.deps, await a.caller(), first.id, { result: 'success' });
    expect(events.slice(before).map((e) => e.type)).toEqual([]);
    expect((await getNextForWorker(w.deps, await a.caller(), []))).toMatchObject({ id: second.id, status: 'running', worker: a.name });
  });
});

describe('pulls racing scheduling passes', () => {
  it('never assign a request twice nor overfill a worker, whatever the interleaving', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(fc.constant('pass' as const), fc.nat(2)), { minLength: 4, maxLength: 14 }),
        fc.integer({ min: 1, max: 8 }),
        async (racers, pending) => {
          w = await createSchedulingWorld();
          const workers = [await w.addWorker('a.lan', { concurrency: 2 }), await w.addWorker('b.lan'), await w.addWorker('c.lan', { concurrency: 3 })];
          for (let i = 0; i < pending; i++) await w.submit('noop');
          const callers = await Promise.all(workers.map((wk) => wk.caller()));
          // Everyone at once: passes and get-next pulls interleave at every await.
          await Promise.all(
            racers.map((r) =>
              r === 'pass'
                ? schedule(w.deps)
                : getNextForWorker(w.deps, callers[r]!, [...w.deps.workRequests.items.values()].filter((x) => x.worker === workers[r]!.name && x.status === 'running').map((x) => x.id)).catch((err) => {
                    if (!(err instanceof ConflictError)) throw err;
                  }),
            ),
          );
          const all = [...w.deps.workRequests.items.values()];
          for (const wk of workers) {
            const stored = (await w.deps.workers.get(wk.name))!;
            const held = all.filter((x) => x.worker === wk.name && (x.status === 'pending' || x.status === 'running'));
            expect(held.length).toBe(stored.assigned);
            expect(stored.assigned).toBeLessThanOrEqual(stored.concurrency);
          }
          // Requests retried by a get-next (reclaimed) have successors: count the live ones only.
          const live = all.filter((x) => x.supersededBy === null && x.status !== 'aborted');
          expect(live.length).toBe(pending);
        },
      ),
      { numRuns: 60 },
    );
  });
});
