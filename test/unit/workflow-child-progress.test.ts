/**
 * A workflow's child progress (created / finished / unsuccessful, moved in the children's own
 * commits): the orchestrator's child-finished step reads the counts, not every child, while
 * children are still in progress and none failed; it reads every child only to judge the end.
 */
import { finish } from '../../shared/app/lifecycle';
import { orchestrate } from '../../shared/app/workflow-orchestration';
import { childProgressDeltas, childrenStillInProgress } from '../../shared/domain/child-progress';
import { newWorkRequest, type WorkRequest } from '../../shared/domain/work-requests';
import { createMemoryDeps } from '../../shared/adapters/memory';

const NOW = '2026-12-06T04:00:00.000Z';

/** A running root workflow with `n` running Internal children (created like the orchestrator does: one commit each). */
async function workflowWithChildren(n: number) {
  const deps = createMemoryDeps();
  const base = { scope: 'debusine', workspace: 'System', createdBy: 'user:alice', createdAt: NOW, taskData: {} };
  const root = newWorkRequest({ ...base, id: 1, taskType: 'Workflow', taskName: 'bench', status: 'running', startedAt: NOW });
  await deps.workRequests.commit({ create: [root] });
  const children: WorkRequest[] = [];
  for (let i = 0; i < n; i++) {
    const child = newWorkRequest({ ...base, id: 100 + i, taskType: 'Internal', taskName: 'noop', parent: root.id, status: 'running', startedAt: NOW });
    await deps.workRequests.commit({ create: [child] });
    children.push(child);
  }
  return { deps, root, children };
}

/** Finishes one child, then runs the child-finished step it queued, counting the repository reads of the step. */
async function childFinishedStep(deps: ReturnType<typeof createMemoryDeps>, child: WorkRequest, result: 'success' | 'failure') {
  await finish(deps, child, { status: 'completed', result });
  const message = deps.queues.orchestration.find((m) => m.kind === 'child-finished' && m.workRequestId === child.id);
  expect(message).toBeDefined();
  deps.queues.orchestration.length = 0;
  const spies = {
    children: jest.spyOn(deps.workRequests, 'children'),
    get: jest.spyOn(deps.workRequests, 'get'),
    getMany: jest.spyOn(deps.workRequests, 'getMany'),
    childProgress: jest.spyOn(deps.workRequests, 'childProgress'),
  };
  await orchestrate(deps, message!);
  const calls = Object.fromEntries(Object.entries(spies).map(([k, s]) => [k, s.mock.calls.length]));
  for (const s of Object.values(spies)) s.mockRestore();
  return calls;
}

describe('child progress', () => {
  test.each([10, 100, 400])('a child-finished step with %i children reads the finished child and the counts, never the children', async (n) => {
    const { deps, root, children } = await workflowWithChildren(n);
    expect(await deps.workRequests.childProgress(root.id)).toEqual({ created: n, finished: 0, unsuccessful: 0 });
    const calls = await childFinishedStep(deps, children[0]!, 'success');
    expect(calls).toEqual({ children: 0, get: 1, getMany: 0, childProgress: 1 });
    expect(await deps.workRequests.childProgress(root.id)).toEqual({ created: n, finished: 1, unsuccessful: 0 });
    expect((await deps.workRequests.get(root.id))!.status).toBe('running');
  });

  test('the last child to finish completes the workflow (every child is read once, to judge it)', async () => {
    const { deps, root, children } = await workflowWithChildren(3);
    await childFinishedStep(deps, children[0]!, 'success');
    await childFinishedStep(deps, children[1]!, 'success');
    const last = await childFinishedStep(deps, children[2]!, 'success');
    expect(last.children).toBeGreaterThanOrEqual(1);
    expect((await deps.workRequests.get(root.id))!).toMatchObject({ status: 'completed', result: 'success' });
    expect(await deps.workRequests.childProgress(root.id)).toEqual({ created: 3, finished: 3, unsuccessful: 0 });
  });

  test('after a failed child every step reads the children (a sibling may be stranded or a retry due), and the outcome is failure', async () => {
    const { deps, root, children } = await workflowWithChildren(3);
    expect((await childFinishedStep(deps, children[0]!, 'failure')).children).toBeGreaterThanOrEqual(1);
    expect(await deps.workRequests.childProgress(root.id)).toEqual({ created: 3, finished: 1, unsuccessful: 1 });
    expect((await childFinishedStep(deps, children[1]!, 'success')).children).toBeGreaterThanOrEqual(1);
    await childFinishedStep(deps, children[2]!, 'success');
    expect((await deps.workRequests.get(root.id))!).toMatchObject({ status: 'completed', result: 'failure' });
  });

  test('the reconcile sweep always recounts: counts that say "in progress" never keep a finished workflow running', async () => {
    const { deps, root, children } = await workflowWithChildren(2);
    for (const c of children) await finish(deps, c, { status: 'completed', result: 'success' });
    // Counts that drifted (as if a finish had not been counted): the child-finished step would wait...
    (deps.workRequests as unknown as { progress: Map<number, { created: number; finished: number; unsuccessful: number }> }).progress.set(root.id, { created: 2, finished: 1, unsuccessful: 0 });
    await orchestrate(deps, { rootId: root.id, kind: 'child-finished', workRequestId: children[1]!.id });
    expect((await deps.workRequests.get(root.id))!.status).toBe('running');
    // ...the reconcile sweep reads the children and completes it.
    await orchestrate(deps, { rootId: root.id, kind: 'reconcile', workRequestId: root.id });
    expect((await deps.workRequests.get(root.id))!.status).toBe('completed');
  });

  test('a commit that finishes a child without saying so is refused by the memory repository (the DynamoDB one cannot see it)', async () => {
    const { deps, children } = await workflowWithChildren(1);
    const child = children[0]!;
    const done = { ...child, status: 'completed' as const, result: 'success' as const, version: child.version + 1 };
    await expect(deps.workRequests.commit({ update: [{ workRequest: done, expectedVersion: child.version }] })).rejects.toThrow(/finishes without/);
  });

  test('deltas: creates count per parent, finishes only when marked, unsuccessful unless success or skipped', () => {
    const child = (parent: number | null, status: WorkRequest['status'], result: WorkRequest['result']) => ({ parent, status, result });
    const deltas = childProgressDeltas(
      [child(1, 'pending', ''), child(1, 'blocked', ''), child(null, 'pending', ''), child(2, 'pending', '')],
      [
        { workRequest: child(1, 'completed', 'skipped'), finishes: true },
        { workRequest: child(1, 'aborted', ''), finishes: true },
        { workRequest: child(2, 'completed', 'error'), finishes: true },
        { workRequest: child(2, 'completed', 'success') },
        { workRequest: child(null, 'completed', 'success'), finishes: true },
      ],
    );
    expect(Object.fromEntries(deltas)).toEqual({
      1: { created: 2, finished: 2, unsuccessful: 1 },
      2: { created: 1, finished: 1, unsuccessful: 1 },
    });
    expect(() => childProgressDeltas([], [{ workRequest: child(1, 'running', ''), finishes: true }])).toThrow(/leaves work request status running/);
    expect(childrenStillInProgress(undefined)).toBe(false);
    expect(childrenStillInProgress({ created: 2, finished: 1, unsuccessful: 0 })).toBe(true);
    expect(childrenStillInProgress({ created: 2, finished: 2, unsuccessful: 0 })).toBe(false);
    expect(childrenStillInProgress({ created: 2, finished: 1, unsuccessful: 1 })).toBe(false);
  });
});
