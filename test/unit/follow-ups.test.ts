/**
 * Issue 7, item 2: a completion is one conditional write; what follows it (unblocking dependents,
 * event reactions, workflow completion, notifications) is retried on its own. A conflict injected
 * into each follow-up must neither turn the worker's `PUT completed/` into an error (its completion
 * is stored: a retry of everything would answer 409 "Not running") nor lose the follow-up.
 */
import { ConflictError } from '../../shared/domain/errors';
import type { WorkRequest } from '../../shared/domain/work-requests';
import { bump } from '../../shared/domain/work-requests';
import { orchestrate } from '../../shared/app/workflow-orchestration';
import { createTemplate } from '../../shared/app/workflow-templates';
import { startWorkflow } from '../../shared/app/workflow-runs';
import { schedule } from '../../shared/app/scheduler';
import { getNextForWorker } from '../../shared/app/workers';
import { createSchedulingWorld, AMD64_METADATA, type SchedulingWorld } from '../support/scheduling';
import { workApiClient } from '../support/work-api';
import { defaultScript } from '../support/workflows';

let w: SchedulingWorld;
let worker: Awaited<ReturnType<SchedulingWorld['addWorker']>>;
beforeEach(async () => {
  w = await createSchedulingWorld();
  worker = await w.addWorker('f.follow.test', { metadata: { ...AMD64_METADATA, 'mkdeb:available': true, 'mkdeb:version': 1 } });
});

/** Makes `times` calls of `target[method]` that match `when` throw ConflictError, then lets them through. */
function injectConflicts<T extends object, K extends keyof T>(target: T, method: K, times: number, when: (...args: any[]) => boolean = () => true): { injected: () => number } {
  const original = (target[method] as unknown as (...args: unknown[]) => Promise<unknown>).bind(target);
  let injected = 0;
  (target as any)[method] = async (...args: unknown[]) => {
    if (injected < times && when(...args)) {
      injected++;
      throw new ConflictError('Injected conflict', `follow-up race #${injected}`);
    }
    return original(...args);
  };
  return { injected: () => injected };
}

const drainOrchestrator = async () => {
  while (w.deps.queues.orchestration.length) await orchestrate(w.deps, w.deps.queues.orchestration.shift()!);
};

/** Starts a build-and-lint run for amd64 and hands the worker its build; returns the build. */
async function buildAssigned(): Promise<{ root: WorkRequest; build: WorkRequest }> {
  await createTemplate(w.deps, await w.caller('owner'), { scope: 'debusine', workspace: 'priv', name: 'bl', taskName: 'build-and-lint', taskData: { package: 'hello', fail_on_severity: 'none' } });
  const root = await startWorkflow(w.deps, await w.caller('contributor'), { scope: 'debusine', workspace: 'priv', templateName: 'bl', taskData: { version: '1.0-1', architectures: ['amd64'] } });
  for (let i = 0; i < 5; i++) {
    await drainOrchestrator();
    await schedule(w.deps);
  }
  const build = (await getNextForWorker(w.deps, await worker.caller()))!;
  expect(build.taskName).toBe('mkdeb');
  await defaultScript(w)(build, worker);
  return { root, build };
}

const complete = (id: number, result = 'success') =>
  workApiClient(w.deps)('PUT', `/api/1.0/work-request/${id}/completed/`, { token: worker.key, body: { result } });

describe('follow-ups of a completion are not retried with its commit', () => {
  it('unblocking a dependent: conflicts past its own retries answer 200, and the orchestrator unblocks it', async () => {
    const { root, build } = await buildAssigned();
    const lint = (await w.deps.workRequests.children(root.id)).find((c) => c.taskName === 'lintian')!;
    expect(lint.status).toBe('blocked');
    // Every attempt to unblock the lint check loses its race (more often than settleDependent retries).
    const conflicts = injectConflicts(w.deps.workRequests, 'commit', 6, (changes: any) => changes.update?.some((u: any) => u.workRequest.id === lint.id && u.workRequest.status === 'pending'));
    const res = await complete(build.id);
    expect(res.status).toBe(200);
    expect((await w.deps.workRequests.get(build.id))!.status).toBe('completed');
    expect(conflicts.injected()).toBe(5);
    expect((await w.deps.workRequests.get(lint.id))!.status).toBe('blocked');
    expect(w.deps.queues.orchestration.map((m) => m.kind)).toContain('settle-dependents');
    await drainOrchestrator();
    expect((await w.deps.workRequests.get(lint.id))!.status).toBe('pending');
  });

  it('an event reaction (collection update): a conflict is retried and the item is written', async () => {
    const { root, build } = await buildAssigned();
    const conflicts = injectConflicts(w.deps.collections, 'addItem', 1);
    const res = await complete(build.id);
    expect(res.status).toBe(200);
    expect(conflicts.injected()).toBe(1);
    // build-and-lint's build promises its package in the internal collection; the reaction fills it in.
    const internal = (await w.deps.workRequests.get(root.id))!.internalCollection!;
    const items = await w.deps.collections.activeItems(internal);
    expect(items.some((i) => i.artifactId !== null)).toBe(true);
  });

  it('a notification: a conflict is retried and the mail is sent', async () => {
    await w.deps.channels.put({ name: 'team', method: 'email', data: { to: ['team@example.org'], from: 'conveyor@example.org' } });
    const wr = await w.submit('noop');
    const stored = (await w.deps.workRequests.get(wr.id))!;
    await w.deps.workRequests.commit({
      update: [{ workRequest: bump(stored, { eventReactions: { on_success: [{ action: 'send-notification', channel: 'team' }] } }), expectedVersion: stored.version }],
    });
    await schedule(w.deps);
    const running = (await getNextForWorker(w.deps, await worker.caller()))!;
    const conflicts = injectConflicts(w.deps.notifier, 'send', 1);
    const res = await complete(running.id);
    expect(res.status).toBe(200);
    expect(conflicts.injected()).toBe(1);
    expect(w.deps.notifier.sent).toHaveLength(1);
  });

  it('workflow completion: a conflict on the workflow is retried and the workflow completes', async () => {
    const { root, build } = await buildAssigned();
    expect((await complete(build.id)).status).toBe(200);
    // Run the rest; the commit that completes the workflow loses one race.
    const conflicts = injectConflicts(w.deps.workRequests, 'commit', 1, (changes: any) => changes.update?.some((u: any) => u.workRequest.id === root.id && u.workRequest.status === 'completed'));
    for (let round = 0; round < 20; round++) {
      await drainOrchestrator();
      await schedule(w.deps);
      const next = await getNextForWorker(w.deps, await worker.caller());
      if (!next) continue;
      await defaultScript(w)(next, worker);
      expect((await complete(next.id)).status).toBe(200);
    }
    expect(conflicts.injected()).toBe(1);
    expect(await w.deps.workRequests.get(root.id)).toMatchObject({ status: 'completed', result: 'success' });
  });
});
