/**
 * Issue 12's pull path for busy workers: `completeAndPullNext` (PUT completed/?next=1) commits the
 * completion, then hands over the worker's next request in the same round trip, with get-next's
 * rules (assigned first, then priority order under the conditional slot rule, disabled creators,
 * machine state), never reclaiming the worker's other work, and never failing a stored completion.
 */
import { schedule } from '../../shared/app/scheduler';
import { setMachineState } from '../../shared/app/machines';
import { setUserDisabled } from '../../shared/app/tokens';
import { completeAndPullNext, getNextForWorker } from '../../shared/app/workers';
import type { FollowUpFailure } from '../../shared/app/lifecycle';
import type { WorkRequest } from '../../shared/domain/work-requests';
import { createSchedulingWorld, type SchedulingWorld } from '../support/scheduling';

let w: SchedulingWorld;
beforeEach(async () => {
  w = await createSchedulingWorld();
});

const memory = () => w.deps as unknown as {
  queues: { schedulerEvents: { type: string }[] };
  workerChannels: { messagesFor(name: string): unknown[] };
};

async function raisePriority(wr: WorkRequest, by: number): Promise<void> {
  const stored = (await w.deps.workRequests.get(wr.id))!;
  await w.deps.workRequests.commit({ update: [{ workRequest: { ...stored, priorityAdjustment: by, version: stored.version + 1 }, expectedVersion: stored.version }] });
}

describe('a completion that pulls the next request', () => {
  it('stores the completion, then assigns and starts the best pending request: no scheduler event, no queue message', async () => {
    const a = await w.addWorker('a.lan');
    const first = await w.submit('noop');
    const low = await w.submit('noop');
    const high = await w.submit('noop');
    await raisePriority(high, 5);
    expect((await getNextForWorker(w.deps, await a.caller()))?.id).toBe(high.id);
    await raisePriority(first, 3);
    const events = memory().queues.schedulerEvents.length;
    const { finished, next, pullFailed } = await completeAndPullNext(w.deps, await a.caller(), high.id, { result: 'success' });
    expect(finished).toMatchObject({ id: high.id, status: 'completed', result: 'success' });
    expect((await w.deps.workRequests.get(high.id))!).toMatchObject({ status: 'completed', result: 'success' });
    expect(pullFailed).toBe(false);
    // Priority order: `first` was raised above `low`.
    expect(next).toMatchObject({ id: first.id, status: 'running', worker: a.name });
    expect((await w.deps.workRequests.get(first.id))!).toMatchObject({ status: 'running', worker: a.name });
    expect((await w.deps.workRequests.get(low.id))!).toMatchObject({ status: 'pending', worker: null });
    expect((await w.deps.workers.get(a.name))!.assigned).toBe(1);
    expect(memory().queues.schedulerEvents.slice(events)).toEqual([]);
    expect(memory().workerChannels.messagesFor(a.name)).toEqual([]);
  });

  it('hands over nothing when nothing is pending: the slot is free again', async () => {
    const a = await w.addWorker('a.lan');
    const only = await w.submit('noop');
    await getNextForWorker(w.deps, await a.caller());
    const answer = await completeAndPullNext(w.deps, await a.caller(), only.id, { result: 'failure' });
    expect(answer).toEqual({ finished: expect.objectContaining({ id: only.id, status: 'completed', result: 'failure' }), pullFailed: false });
    expect((await w.deps.workers.get(a.name))!.assigned).toBe(0);
  });

  it('starts a request a pass already assigned to the worker before pulling another, and reclaims none of its running work', async () => {
    const a = await w.addWorker('a.lan', { concurrency: 2 });
    const one = await w.submit('noop');
    const two = await w.submit('noop');
    expect((await getNextForWorker(w.deps, await a.caller()))?.id).toBe(one.id);
    expect((await getNextForWorker(w.deps, await a.caller(), [one.id]))?.id).toBe(two.id);
    // The worker is full; `four` ranks first once a slot frees, and `two` keeps running (no reclaim).
    const three = await w.submit('noop');
    const four = await w.submit('noop');
    await raisePriority(four, 9);
    const { next } = await completeAndPullNext(w.deps, await a.caller(), one.id, { result: 'success' });
    expect(next?.id).toBe(four.id);
    expect((await w.deps.workRequests.get(two.id))!).toMatchObject({ status: 'running', worker: a.name, supersededBy: null });
    expect((await w.deps.workRequests.get(three.id))!).toMatchObject({ status: 'pending', worker: null });
    expect((await w.deps.workers.get(a.name))!.assigned).toBe(2);

    await completeAndPullNext(w.deps, await a.caller(), two.id, { result: 'success' }).then(async ({ next: n }) => {
      expect(n?.id).toBe(three.id);
      await completeAndPullNext(w.deps, await a.caller(), n!.id, { result: 'success' });
    });
    // Assigned by a pass (pending on this worker): started first, even though `five` ranks higher.
    const six = await w.submit('noop');
    await schedule(w.deps);
    expect((await w.deps.workRequests.get(six.id))!).toMatchObject({ status: 'pending', worker: a.name });
    const five = await w.submit('noop');
    await raisePriority(five, 9);
    expect((await completeAndPullNext(w.deps, await a.caller(), four.id, { result: 'success' })).next?.id).toBe(six.id);
    expect((await w.deps.workRequests.get(five.id))!).toMatchObject({ status: 'pending', worker: null });
  });

  it('skips requests of disabled creators and pulls nothing for a quiescing machine', async () => {
    const a = await w.addWorker('a.lan');
    const running = await w.submit('noop');
    await getNextForWorker(w.deps, await a.caller());
    const fromDisabled = await w.submit('noop');
    await setUserDisabled(w.deps, 'test', 'contributor', true);
    expect((await completeAndPullNext(w.deps, await a.caller(), running.id, { result: 'success' })).next).toBeUndefined();
    expect((await w.deps.workRequests.get(fromDisabled.id))!).toMatchObject({ status: 'pending', worker: null });

    await setUserDisabled(w.deps, 'test', 'contributor', false);
    const second = await w.submit('noop');
    expect((await getNextForWorker(w.deps, await a.caller()))?.id).toBe(fromDisabled.id);
    await setMachineState(w.deps, 'user:admin', a.name, 'quiesce');
    expect((await completeAndPullNext(w.deps, await a.caller(), fromDisabled.id, { result: 'success' })).next).toBeUndefined();
    expect((await w.deps.workRequests.get(second.id))!).toMatchObject({ status: 'pending', worker: null });
    expect((await w.deps.workers.get(a.name))!).toMatchObject({ machineState: 'OFFLINE' });
  });

  it('a failed pull never fails the stored completion: it is reported, and get-next hands the request over afterwards', async () => {
    const a = await w.addWorker('a.lan');
    const first = await w.submit('noop');
    const second = await w.submit('noop');
    await getNextForWorker(w.deps, await a.caller());
    const activeForWorker = jest.spyOn(w.deps.workRequests, 'activeForWorker').mockRejectedValueOnce(new Error('DynamoDB is throttling'));
    const failures: FollowUpFailure[] = [];
    const answer = await completeAndPullNext(w.deps, await a.caller(), first.id, { result: 'success' }, failures);
    activeForWorker.mockRestore();
    expect(answer).toEqual({ finished: expect.objectContaining({ id: first.id, status: 'completed' }), pullFailed: true });
    expect((await w.deps.workRequests.get(first.id))!).toMatchObject({ status: 'completed', result: 'success' });
    expect(failures).toEqual([expect.objectContaining({ step: 'pull the next request', workRequestId: first.id })]);
    expect((await getNextForWorker(w.deps, await a.caller(), []))).toMatchObject({ id: second.id, status: 'running', worker: a.name });
  });

  it('refuses a completion that is not the worker\'s to make, pulling nothing', async () => {
    const a = await w.addWorker('a.lan');
    const b = await w.addWorker('b.lan');
    const mine = await w.submit('noop');
    const waiting = await w.submit('noop');
    await getNextForWorker(w.deps, await a.caller());
    await expect(completeAndPullNext(w.deps, await b.caller(), mine.id, { result: 'success' })).rejects.toThrow(/not assigned to worker/);
    await completeAndPullNext(w.deps, await a.caller(), mine.id, { result: 'success' });
    await expect(completeAndPullNext(w.deps, await a.caller(), mine.id, { result: 'success' })).rejects.toThrow(/is completed/);
    expect((await w.deps.workRequests.get(waiting.id))!).toMatchObject({ status: 'running', worker: a.name });
  });
});
