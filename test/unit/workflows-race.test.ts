/**
 * Regression (found by the build-and-lint e2e test): both checks of a workflow finish within
 * milliseconds; the orchestrator handles the first one's message after the second one's commit
 * but before the second one settled its dependents. The synchronization point, whose
 * dependencies all succeeded, must then be unblocked, not aborted as stranded.
 */
import { afterFinish } from '../../shared/app/lifecycle';
import { bump } from '../../shared/domain/work-requests';
import { schedule } from '../../shared/app/scheduler';
import { completeWorkRequest, getNextForWorker } from '../../shared/app/workers';
import { createTemplate } from '../../shared/app/workflow-templates';
import { startWorkflow } from '../../shared/app/workflow-runs';
import { orchestrate } from '../../shared/app/workflow-orchestration';
import type { WorkRequest } from '../../shared/domain/work-requests';
import { AMD64_METADATA, createSchedulingWorld } from '../support/scheduling';
import { defaultScript } from '../support/workflows';

describe('orchestrator racing a completion', () => {
  it('a synchronization point whose dependencies all succeeded is not aborted as stranded when the orchestrator runs between the last completion and its settling', async () => {
    const w = await createSchedulingWorld();
    const metadata = { ...AMD64_METADATA, 'mkdeb:available': true, 'mkdeb:version': 1 };
    const pool = [await w.addWorker('a.bug.test', { metadata }), await w.addWorker('b.bug.test', { metadata })];
    const script = defaultScript(w);
    const scope = 'debusine';
    await createTemplate(w.deps, await w.caller('owner'), { scope, workspace: 'priv', name: 'bl', taskName: 'build-and-lint', taskData: { package: 'hello', fail_on_severity: 'none' } });
    const root = await startWorkflow(w.deps, await w.caller('contributor'), { scope, workspace: 'priv', templateName: 'bl', taskData: { version: '1.0-1', architectures: ['amd64', 'i386'] } });

    // Run everything, but hold each lintian check as running on its worker once started.
    const held = new Map<string, WorkRequest>();
    for (let round = 0; round < 50 && held.size < 2; round++) {
      while (w.deps.queues.orchestration.length) await orchestrate(w.deps, w.deps.queues.orchestration.shift()!);
      await schedule(w.deps);
      for (const worker of pool) {
        const mine = held.get(worker.name);
        const wr = await getNextForWorker(w.deps, await worker.caller(), mine ? [mine.id] : []);
        if (!wr) continue;
        const result = await script(wr, worker); // uploads the build / lintian artifact
        if (wr.taskName === 'lintian') held.set(worker.name, wr);
        else await completeWorkRequest(w.deps, await worker.caller(), wr.id, { result });
      }
    }
    expect([...held.values()].map((wr) => wr.taskName)).toEqual(['lintian', 'lintian']);
    const [[nameA, checkA], [, checkB]] = [...held.entries()] as [[string, WorkRequest], [string, WorkRequest]];
    const children = await w.deps.workRequests.children(root.id);
    const sync = children.find((c) => c.taskName === 'synchronization_point')!;
    expect(sync.status).toBe('blocked');

    // Check A completes normally: the synchronization point waits for B; a child-finished message is queued.
    await completeWorkRequest(w.deps, await pool.find((p) => p.name === nameA)!.caller(), checkA.id, { result: 'success' });
    expect((await w.deps.workRequests.get(sync.id))!.status).toBe('blocked');
    expect(w.deps.queues.orchestration.length).toBeGreaterThan(0);

    // Check B's completion, first half: the commit (what finish() does before afterFinish()).
    const b = (await w.deps.workRequests.get(checkB.id))!;
    const completedB = bump(b, { status: 'completed', result: 'success', completedAt: new Date().toISOString() });
    await w.deps.workRequests.commit({ update: [{ workRequest: completedB, expectedVersion: b.version, finishes: true }], slots: [{ worker: b.worker!, delta: -1 }] });
    // Meanwhile the orchestrator consumes A's message.
    while (w.deps.queues.orchestration.length) await orchestrate(w.deps, w.deps.queues.orchestration.shift()!);
    // Check B's completion, second half.
    await afterFinish(w.deps, completedB);

    // Every dependency of the synchronization point succeeded: it must run, not be aborted.
    const after = (await w.deps.workRequests.get(sync.id))!;
    expect({ status: after.status, errors: after.outputData?.errors ?? null }).toEqual({ status: 'pending', errors: null });
  });
});
