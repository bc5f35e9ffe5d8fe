import { ConflictError, ForbiddenError, UnauthorizedError, ValidationError } from '../../shared/domain/errors';
import { schedule } from '../../shared/app/scheduler';
import { runServerTask } from '../../shared/app/server-tasks';
import { applyHeartbeats } from '../../shared/app/heartbeats';
import { reclaimStale } from '../../shared/app/watchdog';
import { completeWorkRequest, disableWorker, getNextForWorker, recordHeartbeat, registerWorker } from '../../shared/app/workers';
import { abortWorkRequest, createWorkRequest, retryWorkRequest, setPriorityAdjustment } from '../../shared/app/work-requests';
import { authenticate } from '../../shared/app/auth';
import { generateTokenKey } from '../../shared/app/admin';
import type { WorkRequest } from '../../shared/domain/work-requests';
import { createSchedulingWorld, AMD64_METADATA, type SchedulingWorld } from '../support/scheduling';

let w: SchedulingWorld;
beforeEach(async () => {
  w = await createSchedulingWorld();
});

async function setPriority(wr: WorkRequest, base: number, adjustment: number) {
  const current = (await w.deps.workRequests.get(wr.id))!;
  await w.deps.workRequests.commit({ update: [{ workRequest: { ...current, priorityBase: base, priorityAdjustment: adjustment, version: current.version + 1 }, expectedVersion: current.version }] });
}

describe('assignment', () => {
  it('11: assigns the highest effective priority first', async () => {
    const worker = await w.addWorker('a.lan');
    const reqs = [];
    for (const [base, adj] of [[0, 0], [0, 10], [10, 0], [10, 1]] as const) {
      const r = await w.submit('noop');
      await setPriority(r, base, adj);
      reqs.push(r);
    }
    const summary = await schedule(w.deps);
    expect(summary.assigned).toEqual([{ workRequestId: reqs[3]!.id, worker: worker.name }]);
    expect(w.deps.workerChannels.messagesFor(worker.name)).toEqual([{ type: 'work_request_available', workRequestId: reqs[3]!.id }]);
  });

  it('12: then the oldest', async () => {
    await w.addWorker('a.lan');
    const first = await w.submit('noop');
    w.deps.clock.advance(1000);
    await w.submit('noop');
    expect((await schedule(w.deps)).assigned.map((a) => a.workRequestId)).toEqual([first.id]);
  });

  it('15: skips requests the worker cannot run, so a later one may start first', async () => {
    await w.addWorker('a.lan');
    const arm = await w.submit('noop');
    await w.deps.workRequests.commit({ update: [{ workRequest: { ...(await w.deps.workRequests.get(arm.id))!, hostArchitecture: 'arm64', version: 2 }, expectedVersion: 1 }] });
    const lint = await w.submit('lintian', { input: { binary_artifacts: [1] }, host_architecture: 'arm64' });
    const ok = await w.submit('noop');
    const assigned = (await schedule(w.deps)).assigned.map((a) => a.workRequestId);
    expect(assigned).toEqual([ok.id]);
    expect(assigned).not.toContain(lint.id);
  });

  it('16: respects concurrency, and fills a larger one', async () => {
    const one = await w.addWorker('one.lan', { concurrency: 1 });
    for (let i = 0; i < 5; i++) await w.submit('noop');
    expect((await schedule(w.deps)).assigned).toHaveLength(1);
    expect((await schedule(w.deps)).assigned).toHaveLength(0);
    const three = await w.addWorker('three.lan', { concurrency: 3 });
    const second = await schedule(w.deps);
    expect(second.assigned.map((a) => a.worker)).toEqual([three.name, three.name, three.name]);
    expect((await w.deps.workers.get(one.name))!.assigned).toBe(1);
    expect((await w.deps.workers.get(three.name))!.assigned).toBe(3);
  });

  it('does not assign to disabled or disconnected workers', async () => {
    const a = await w.addWorker('a.lan');
    await disableWorker(w.deps, 'test', a.name);
    await w.submit('noop');
    expect((await schedule(w.deps)).assigned).toEqual([]);
    const key = generateTokenKey();
    await registerWorker(w.deps, { tokenKey: key, fqdn: 'never-said-hello.lan' });
    expect((await schedule(w.deps)).assigned).toEqual([]);
  });

  it('17: completes a request whose task data is invalid with configure-failed', async () => {
    await w.addWorker('a.lan');
    const r = await w.submit('noop');
    const stored = (await w.deps.workRequests.get(r.id))!;
    await w.deps.workRequests.commit({ update: [{ workRequest: { ...stored, taskData: { result: 'yes' }, version: 2 }, expectedVersion: 1 }] });
    await schedule(w.deps);
    const after = (await w.deps.workRequests.get(r.id))!;
    expect(after).toMatchObject({ status: 'completed', result: 'error' });
    expect(after.outputData?.errors?.[0]?.code).toBe('configure-failed');
  });

  it('reads a bounded number of candidates per assignment, whatever the backlog', async () => {
    await w.addWorker('a.lan', { concurrency: 1 });
    for (let i = 0; i < 300; i++) await w.submit('noop');
    w.deps.workRequests.reads.itemsReturned = 0;
    w.deps.workRequests.reads.pendingCandidates = 0;
    expect((await schedule(w.deps)).assigned).toHaveLength(1);
    expect(w.deps.workRequests.reads.itemsReturned).toBeLessThanOrEqual(30);
  });
});

describe('worker protocol', () => {
  it('7: get-next retries what the worker left running, then starts its assigned request', async () => {
    const a = await w.addWorker('a.lan', { concurrency: 2 });
    const r = await w.submit('noop');
    await schedule(w.deps);
    const running = await getNextForWorker(w.deps, await a.caller());
    expect(running).toMatchObject({ id: r.id, status: 'running', worker: a.name });
    const p = await w.submit('noop');
    await schedule(w.deps);
    const next = await getNextForWorker(w.deps, await a.caller());
    expect(next?.id).toBe(p.id);
    const old = (await w.deps.workRequests.get(r.id))!;
    expect(old).toMatchObject({ status: 'aborted' });
    expect(old.outputData?.errors?.[0]?.code).toBe('worker-failed');
    const successor = (await w.deps.workRequests.get(old.supersededBy!))!;
    expect(successor).toMatchObject({ supersedes: r.id, retryCount: 1, worker: null, status: 'pending' });
  });

  it('keeps requests the worker says it still runs', async () => {
    const a = await w.addWorker('a.lan', { concurrency: 2 });
    const r = await w.submit('noop');
    await schedule(w.deps);
    await getNextForWorker(w.deps, await a.caller());
    await getNextForWorker(w.deps, await a.caller(), [r.id]);
    expect((await w.deps.workRequests.get(r.id))!.status).toBe('running');
  });

  it('8: answers nothing when nothing is assigned', async () => {
    const a = await w.addWorker('a.lan');
    expect(await getNextForWorker(w.deps, await a.caller())).toBeUndefined();
  });

  it('9: refuses a completion from another worker (401), twice (409), and frees the slot once', async () => {
    const a = await w.addWorker('a.lan');
    const b = await w.addWorker('b.lan');
    const r = await w.submit('noop');
    await schedule(w.deps);
    const holder = (await w.deps.workRequests.get(r.id))!.worker === a.name ? a : b;
    const other = holder === a ? b : a;
    await getNextForWorker(w.deps, await holder.caller());
    await expect(completeWorkRequest(w.deps, await other.caller(), r.id, { result: 'success' })).rejects.toThrow(UnauthorizedError);
    const done = await completeWorkRequest(w.deps, await holder.caller(), r.id, { result: 'success', outputData: { runtime_statistics: { duration: 1 } } });
    expect(done).toMatchObject({ status: 'completed', result: 'success' });
    await expect(completeWorkRequest(w.deps, await holder.caller(), r.id, { result: 'success' })).rejects.toThrow(ConflictError);
    expect((await w.deps.workers.get(holder.name))!.assigned).toBe(0);
  });

  it('refuses user tokens on worker endpoints and worker tokens on user endpoints', async () => {
    const a = await w.addWorker('a.lan');
    await expect(getNextForWorker(w.deps, await w.caller('contributor'))).rejects.toThrow(ForbiddenError);
    await expect(
      createWorkRequest(w.deps, await a.caller(), { scope: 'debusine', workspace: 'priv', taskName: 'noop', taskData: {} }),
    ).rejects.toThrow(ForbiddenError);
  });

  it('refuses a disabled worker', async () => {
    const a = await w.addWorker('a.lan');
    await disableWorker(w.deps, 'test', a.name);
    await expect(a.caller()).rejects.toThrow(ForbiddenError); // Debusine: 403 for a disabled token
  });
});

describe('heartbeats and the watchdog', () => {
  async function runningOn() {
    const a = await w.addWorker('a.lan');
    const r = await w.submit('noop');
    await schedule(w.deps);
    await getNextForWorker(w.deps, await a.caller());
    return { a, r };
  }

  it('accepts heartbeats only for a running request of this worker, and applies the newest', async () => {
    const { a, r } = await runningOn();
    w.deps.clock.advance(1000);
    await recordHeartbeat(w.deps, await a.caller(), r.id, ['1', '2', '3', '4', '5', '6']);
    w.deps.clock.advance(1000);
    await recordHeartbeat(w.deps, await a.caller(), r.id, ['newer']);
    const [older, newer] = w.deps.queues.heartbeats;
    expect(older!.logtail).toEqual(['2', '3', '4', '5', '6']);
    // Replays and reordering: the newest wins, whatever the order.
    expect(await applyHeartbeats(w.deps, [newer!, older!, newer!])).toEqual({ applied: 1, ignored: 2 });
    expect(await applyHeartbeats(w.deps, [older!])).toEqual({ applied: 0, ignored: 1 });
    expect((await w.deps.workRequests.get(r.id))!.logtail).toEqual(['newer']);
    const other = await w.submit('noop');
    await expect(recordHeartbeat(w.deps, await a.caller(), other.id, [])).rejects.toThrow(UnauthorizedError);
  });

  it('reclaims a request without heartbeat, refuses the late worker, and runs it elsewhere', async () => {
    const { a, r } = await runningOn();
    w.deps.clock.advance(301_000);
    const b = await w.addWorker('b.lan');
    expect(await reclaimStale(w.deps)).toEqual([r.id]);
    const old = (await w.deps.workRequests.get(r.id))!;
    expect(old.status).toBe('aborted');
    expect(old.outputData?.errors).toEqual([{ code: 'worker-failed', message: expect.stringMatching(/no heartbeat/) }]);
    expect((await w.deps.workers.get(a.name))!).toMatchObject({ assigned: 0, connectedAt: null });
    await expect(recordHeartbeat(w.deps, await a.caller(), r.id, ['late'])).rejects.toThrow(ConflictError);
    await expect(completeWorkRequest(w.deps, await a.caller(), r.id, { result: 'success' })).rejects.toThrow(ConflictError);
    expect((await w.deps.workRequests.get(r.id))!.version).toBe(old.version);
    const assigned = (await schedule(w.deps)).assigned;
    expect(assigned).toEqual([{ workRequestId: old.supersededBy, worker: b.name }]);
  });

  it('gives up after three automatic retries with worker-failed', async () => {
    const a = await w.addWorker('a.lan');
    let r = await w.submit('noop');
    for (let attempt = 0; attempt < 4; attempt++) {
      await updateMetadata(a);
      await schedule(w.deps);
      const started = await getNextForWorker(w.deps, await a.caller());
      expect(started?.retryCount).toBe(attempt);
      w.deps.clock.advance(301_000);
      await reclaimStale(w.deps);
      r = started!;
    }
    const last = (await w.deps.workRequests.get(r.id))!;
    expect(last).toMatchObject({ status: 'completed', result: 'error', supersededBy: null });
    expect(last.outputData?.errors?.[0]?.code).toBe('worker-failed');
  });

  async function updateMetadata(a: { caller: () => Promise<any> }) {
    const { updateDynamicMetadata } = await import('../../shared/app/workers');
    await updateDynamicMetadata(w.deps, await a.caller(), AMD64_METADATA);
  }
});

describe('dependencies, abort and retry', () => {
  async function chain() {
    const d = await w.submit('noop');
    const r = await w.submit('noop');
    // Dependencies come from workflows (next issue); set one up directly.
    await w.deps.workRequests.commit({
      update: [{ workRequest: { ...(await w.deps.workRequests.get(r.id))!, status: 'blocked', dependencies: [d.id], version: 2 }, expectedVersion: 1 }],
      addReverseDependencies: [{ dependency: d.id, dependent: r.id }],
    });
    return { d, r };
  }
  async function runAndComplete(id: number, result: 'success' | 'failure') {
    const a = await w.addWorker(`w${id}.lan`);
    await schedule(w.deps);
    const started = await getNextForWorker(w.deps, await a.caller());
    expect(started?.id).toBe(id);
    return completeWorkRequest(w.deps, await a.caller(), id, { result });
  }

  it('21: a successful dependency unblocks its dependent', async () => {
    const { d, r } = await chain();
    await runAndComplete(d.id, 'success');
    expect((await w.deps.workRequests.get(r.id))!.status).toBe('pending');
  });

  it('22: a failed dependency aborts its dependent; retrying it re-points the dependents', async () => {
    const { d, r } = await chain();
    await runAndComplete(d.id, 'failure');
    expect((await w.deps.workRequests.get(r.id))!.status).toBe('aborted');
    const retried = await retryWorkRequest(w.deps, await w.caller('contributor'), d.id);
    expect(retried).toMatchObject({ supersedes: d.id, status: 'pending', retryCount: 0 });
    await expect(retryWorkRequest(w.deps, await w.caller('contributor'), d.id)).rejects.toThrow(ValidationError);
  });

  it('retrying re-points blocked dependents to the new request', async () => {
    const { d, r } = await chain();
    // D aborted with allow_failure keeps R blocked (behaviour 23), then a retry takes over.
    const stored = (await w.deps.workRequests.get(d.id))!;
    await w.deps.workRequests.commit({ update: [{ workRequest: { ...stored, workflowData: { allow_failure: true }, version: 2 }, expectedVersion: 1 }] });
    await abortWorkRequest(w.deps, await w.caller('contributor'), d.id);
    expect((await w.deps.workRequests.get(r.id))!.status).toBe('blocked');
    const retried = await retryWorkRequest(w.deps, await w.caller('contributor'), d.id);
    expect((await w.deps.workRequests.get(r.id))!.dependencies).toEqual([retried.id]);
    await runAndComplete(retried.id, 'success');
    expect((await w.deps.workRequests.get(r.id))!.status).toBe('pending');
  });

  it('35: refuses to retry a successful request', async () => {
    const r = await w.submit('noop');
    await runAndComplete(r.id, 'success');
    await expect(retryWorkRequest(w.deps, await w.caller('contributor'), r.id)).rejects.toThrow('Cannot retry work request');
  });

  it('aborting a running request frees the slot and tells the worker to stop', async () => {
    const a = await w.addWorker('a.lan');
    const r = await w.submit('noop');
    await schedule(w.deps);
    await getNextForWorker(w.deps, await a.caller());
    await expect(abortWorkRequest(w.deps, await w.caller('viewer'), r.id)).rejects.toThrow(ForbiddenError);
    const aborted = await abortWorkRequest(w.deps, await w.caller('contributor'), r.id);
    expect(aborted).toMatchObject({ status: 'aborted', abortedBy: 'user:contributor' });
    expect(w.deps.workerChannels.messagesFor(a.name).at(-1)).toEqual({ type: 'abort', workRequestId: r.id });
    expect((await w.deps.workers.get(a.name))!.assigned).toBe(0);
    await expect(abortWorkRequest(w.deps, await w.caller('contributor'), r.id)).rejects.toThrow(ValidationError);
  });

  it('44: priority adjustments', async () => {
    const r = await w.submit('noop');
    expect((await setPriorityAdjustment(w.deps, await w.caller('contributor'), r.id, -5)).priorityAdjustment).toBe(-5);
    await expect(setPriorityAdjustment(w.deps, await w.caller('contributor'), r.id, 5)).rejects.toThrow(ForbiddenError);
    expect((await setPriorityAdjustment(w.deps, await w.caller('admin'), r.id, 5)).priorityAdjustment).toBe(5);
  });
});

describe('server-side tasks', () => {
  it('18: a synchronization point completes at once and unblocks its dependents', async () => {
    const sync = await createWorkRequest(w.deps, await w.caller('admin'), { scope: 'debusine', workspace: 'priv', taskName: 'noop', taskData: {} });
    const stored = (await w.deps.workRequests.get(sync.id))!;
    await w.deps.workRequests.commit({ update: [{ workRequest: { ...stored, taskType: 'Internal', taskName: 'synchronization_point', taskData: {}, version: 2 }, expectedVersion: 1 }] });
    const summary = await schedule(w.deps);
    expect(summary.completed).toContain(sync.id);
    expect((await w.deps.workRequests.get(sync.id))!).toMatchObject({ status: 'completed', result: 'success' });
  });

  it('19: Wait/delay completes when delay_until has passed', async () => {
    const until = new Date(w.deps.clock.now().getTime() + 60_000).toISOString();
    const wait = await createWorkRequest(w.deps, await w.caller('admin'), { scope: 'debusine', workspace: 'priv', taskName: 'delay', taskData: { delay_until: until } });
    await schedule(w.deps);
    expect((await w.deps.workRequests.get(wait.id))!.status).toBe('running');
    w.deps.clock.advance(61_000);
    await schedule(w.deps);
    expect((await w.deps.workRequests.get(wait.id))!).toMatchObject({ status: 'completed', result: 'success' });
  });

  it('41: servernoop is for administrators, and runs in the server-task runner', async () => {
    await expect(
      createWorkRequest(w.deps, await w.caller('contributor'), { scope: 'debusine', workspace: 'priv', taskName: 'servernoop', taskData: {} }),
    ).rejects.toThrow(/not registered/);
    const ok = await createWorkRequest(w.deps, await w.caller('admin'), { scope: 'debusine', workspace: 'priv', taskName: 'servernoop', taskData: { result: true } });
    const boom = await createWorkRequest(w.deps, await w.caller('admin'), { scope: 'debusine', workspace: 'priv', taskName: 'servernoop', taskData: { exception: true } });
    await schedule(w.deps);
    expect(w.deps.queues.serverTasks.map((t) => t.workRequestId).sort()).toEqual([ok.id, boom.id].sort());
    await runServerTask(w.deps, ok.id);
    await runServerTask(w.deps, boom.id);
    await runServerTask(w.deps, ok.id); // replayed message: nothing changes
    expect((await w.deps.workRequests.get(ok.id))!).toMatchObject({ status: 'completed', result: 'success' });
    const failed = (await w.deps.workRequests.get(boom.id))!;
    expect(failed).toMatchObject({ status: 'completed', result: 'error' });
    expect(failed.outputData?.errors?.[0]?.code).toBe('execute-failed');
  });
});

describe('registration (behaviours 1-3)', () => {
  it('names workers after their FQDN and keeps tokens disabled until enabled', async () => {
    const k1 = generateTokenKey();
    const first = await registerWorker(w.deps, { tokenKey: k1, fqdn: 'worker-bee.lan' });
    const second = await registerWorker(w.deps, { tokenKey: generateTokenKey(), fqdn: 'worker-bee.lan' });
    expect([first.name, second.name]).toEqual(['worker-bee-lan', 'worker-bee-lan-2']);
    expect(first).toMatchObject({ enabled: false, connectedAt: null });
    await expect(authenticate(w.deps, k1)).rejects.toThrow(/disabled/);
    await expect(registerWorker(w.deps, { tokenKey: k1, fqdn: 'x.lan' })).rejects.toThrow(ConflictError);
  });

  it('enables a pool worker that presents an activation token, once', async () => {
    const { createActivationToken } = await import('../../shared/app/workers');
    const { key } = await createActivationToken(w.deps, 'test');
    const tokenKey = generateTokenKey();
    const worker = await registerWorker(w.deps, { tokenKey, fqdn: 'pool-1.lan' }, key);
    expect(worker.enabled).toBe(true);
    expect((await authenticate(w.deps, tokenKey)).kind).toBe('worker');
    await expect(registerWorker(w.deps, { tokenKey: generateTokenKey(), fqdn: 'pool-2.lan' }, key)).rejects.toThrow(/revoked/);
  });
});
