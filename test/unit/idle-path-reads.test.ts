/**
 * Reads the idle path no longer makes (bench/RESULTS-reads.md). A completion that pulls the worker's
 * next request never reads back the request it has just finished: it asks for the worker's active
 * requests without it (the DynamoDB adapter then sends no BatchGetItem when that request held the
 * worker's only slot: test/integration/dynamodb-worker-holders.test.ts), and what it hands over is
 * unchanged: the worker's other assigned request, or the best pending one, or nothing.
 */
import { completeAndPullNext, getNextForWorker } from '../../shared/app/workers';
import { createSchedulingWorld, type SchedulingWorld } from '../support/scheduling';

let w: SchedulingWorld;
beforeEach(async () => {
  w = await createSchedulingWorld();
});

describe('a completion pulling the next request', () => {
  it('asks for the worker\'s active requests without the one it finished (idle: nothing pending, nothing handed over)', async () => {
    const a = await w.addWorker('a.lan');
    const only = await w.submit('noop');
    expect((await getNextForWorker(w.deps, await a.caller()))?.id).toBe(only.id);
    const active = jest.spyOn(w.deps.workRequests, 'activeForWorker');
    const answer = await completeAndPullNext(w.deps, await a.caller(), only.id, { result: 'success' });
    expect(answer).toEqual({ finished: expect.objectContaining({ id: only.id, status: 'completed' }), pullFailed: false });
    expect(active).toHaveBeenCalledTimes(1);
    expect(active.mock.calls[0]![2]).toBe(only.id);
    expect((await w.deps.workers.get(a.name))!.assigned).toBe(0);
  });

  it('still starts another request already assigned to the worker (two slots), and never the finished one', async () => {
    const a = await w.addWorker('a.lan', { concurrency: 2 });
    const first = await w.submit('noop');
    const second = await w.submit('noop');
    const started = await getNextForWorker(w.deps, await a.caller());
    expect(started?.id).toBe(first.id);
    // Both went to the worker (its two slots); only `first` started.
    expect((await w.deps.workRequests.get(second.id))!).toMatchObject({ status: 'pending', worker: a.name });
    const { next } = await completeAndPullNext(w.deps, await a.caller(), first.id, { result: 'success' });
    expect(next).toMatchObject({ id: second.id, status: 'running', worker: a.name });
  });
});

describe('the memory model', () => {
  it('leaves the finished request out of the worker\'s active requests, as the DynamoDB adapter does', async () => {
    const a = await w.addWorker('a.lan');
    const only = await w.submit('noop');
    await getNextForWorker(w.deps, await a.caller());
    expect((await w.deps.workRequests.activeForWorker(a.name)).map((wr) => wr.id)).toEqual([only.id]);
    expect(await w.deps.workRequests.activeForWorker(a.name, undefined, only.id)).toEqual([]);
  });
});
