/**
 * What a populate writes besides the children themselves: the workflow's child count once (not an
 * item in every create transaction), and each pending partition's candidate marker once per batch.
 */
import * as z from 'zod';
import { schedule } from '../../shared/app/scheduler';
import { createTemplate } from '../../shared/app/workflow-templates';
import { startWorkflow } from '../../shared/app/workflow-runs';
import { orchestrate } from '../../shared/app/workflow-orchestration';
import type { OrchestrationMessage, WorkRequestChanges } from '../../shared/ports';
import type { WorkRequest } from '../../shared/domain/work-requests';
import { registerWorkflow } from '../../shared/workflows';
import { AMD64_METADATA, createSchedulingWorld, type SchedulingWorld } from '../support/scheduling';
import { drive, defaultScript } from '../support/workflows';

const FANOUT = 'test-populate-fanout';

registerWorkflow({
  name: FANOUT,
  schema: z.strictObject({ children: z.number().int().min(1), chain: z.boolean() }),
  async populate(ctx, data: { children: number; chain: boolean }) {
    let previous: WorkRequest | undefined;
    for (let i = 0; i < data.children; i++) {
      let child = await ctx.ensureChild({ taskName: 'noop', taskData: { result: true }, workflowData: { step: `child-${i}` } });
      if (data.chain && previous) child = await ctx.addDependency(child, previous);
      previous = child;
    }
  },
});

let w: SchedulingWorld;
let worker: Awaited<ReturnType<SchedulingWorld['addWorker']>>;
beforeEach(async () => {
  w = await createSchedulingWorld();
  worker = await w.addWorker('a.lan', { metadata: AMD64_METADATA });
  for (const chain of [true, false]) {
    await createTemplate(w.deps, await w.caller('owner'), { scope: 'debusine', workspace: 'priv', name: chain ? 'chain' : 'flat', taskName: FANOUT, taskData: { chain } });
  }
});

/** Starts a run of `children` and hands back its populate message (not processed yet). */
async function started(shape: 'chain' | 'flat', children: number): Promise<{ root: WorkRequest; populate: OrchestrationMessage }> {
  const root = await startWorkflow(w.deps, await w.caller('contributor'), { scope: 'debusine', workspace: 'priv', templateName: shape, taskData: { children } });
  await schedule(w.deps);
  const populate = w.deps.queues.orchestration.find((m) => m.kind === 'populate' && m.workRequestId === root.id)!;
  expect(populate).toBeDefined();
  w.deps.queues.orchestration.length = 0;
  return { root, populate };
}

describe('populate: the child count', () => {
  test.each(['chain', 'flat'] as const)('a %s populate of 30 children creates them uncounted and sets the count once, before any child can go', async (shape) => {
    const { root, populate } = await started(shape, 30);
    const commits: WorkRequestChanges[] = [];
    const commit = w.deps.workRequests.commit.bind(w.deps.workRequests);
    const raised: number[] = [];
    jest.spyOn(w.deps.workRequests, 'commit').mockImplementation(async (changes) => {
      commits.push(changes);
      return commit(changes);
    });
    const raise = w.deps.workRequests.raiseChildrenCreated.bind(w.deps.workRequests);
    jest.spyOn(w.deps.workRequests, 'raiseChildrenCreated').mockImplementation(async (id, n) => {
      // Nothing of the workflow is pending yet: the count is in place before a child can run and finish.
      expect((await w.deps.workRequests.children(id)).every((c) => c.status === 'blocked')).toBe(true);
      raised.push(n);
      return raise(id, n);
    });
    await orchestrate(w.deps, populate);
    const creates = commits.filter((c) => (c.create ?? []).length > 0);
    expect(creates).toHaveLength(30);
    expect(creates.every((c) => c.uncountedChildren === true)).toBe(true);
    expect(raised).toEqual([30]);
    expect(await w.deps.workRequests.childProgress(root.id)).toEqual({ created: 30, finished: 0, unsuccessful: 0 });

    // A replay of the populate creates nothing and writes no count.
    await orchestrate(w.deps, populate);
    expect(raised).toEqual([30]);
    jest.restoreAllMocks();
  });

  test('the run completes on the counts: every child-finished step but the last reads the count, not the children', async () => {
    const { root, populate } = await started('chain', 5);
    await orchestrate(w.deps, populate);
    const childrenReads = jest.spyOn(w.deps.workRequests, 'children');
    await drive(w, [worker], defaultScript(w));
    expect((await w.deps.workRequests.get(root.id))!).toMatchObject({ status: 'completed', result: 'success' });
    expect(await w.deps.workRequests.childProgress(root.id)).toEqual({ created: 5, finished: 5, unsuccessful: 0 });
    expect(childrenReads.mock.calls.length).toBeLessThanOrEqual(2);
    childrenReads.mockRestore();
  });

  test('a populate that died before writing the count is repaired by its redelivery; a lower raise never lowers it', async () => {
    const { root, populate } = await started('flat', 4);
    jest.spyOn(w.deps.workRequests, 'raiseChildrenCreated').mockRejectedValueOnce(new Error('lost'));
    await expect(orchestrate(w.deps, populate)).rejects.toThrow('lost');
    expect(await w.deps.workRequests.childProgress(root.id)).toBeUndefined();
    await orchestrate(w.deps, populate);
    expect(await w.deps.workRequests.childProgress(root.id)).toEqual({ created: 4, finished: 0, unsuccessful: 0 });
    await w.deps.workRequests.raiseChildrenCreated(root.id, 2);
    expect((await w.deps.workRequests.childProgress(root.id))!.created).toBe(4);
    jest.restoreAllMocks();
  });
});

describe('populate: letting the children go', () => {
  test('a flat populate of 30 sends two scheduler events (the first child at once, the rest after the batch closes); a pass then assigns', async () => {
    const { root, populate } = await started('flat', 30);
    w.deps.queues.schedulerEvents.length = 0;
    const close = jest.fn();
    const batch = w.deps.workRequests.pendingBatch.bind(w.deps.workRequests);
    jest.spyOn(w.deps.workRequests, 'pendingBatch').mockImplementation(() => {
      const inner = batch();
      return { close: async () => { close(w.deps.queues.schedulerEvents.length); return inner.close(); } };
    });
    const commits: WorkRequestChanges[] = [];
    const commit = w.deps.workRequests.commit.bind(w.deps.workRequests);
    jest.spyOn(w.deps.workRequests, 'commit').mockImplementation(async (changes) => {
      commits.push(changes);
      return commit(changes);
    });
    await orchestrate(w.deps, populate);
    const pending = (await w.deps.workRequests.children(root.id)).filter((c) => c.status === 'pending');
    expect(pending).toHaveLength(30);
    // Every unblock is in the batch; the batch closed after the first event, before the last.
    expect(commits.filter((c) => c.update?.some((u) => u.workRequest.status === 'pending')).every((c) => c.pendingBatch !== undefined)).toBe(true);
    expect(close.mock.calls).toEqual([[1]]);
    expect(w.deps.queues.schedulerEvents).toEqual([
      { type: 'work-request-pending', workRequestId: pending[0]!.id },
      { type: 'work-request-pending', workRequestId: pending.at(-1)!.id },
    ]);
    jest.restoreAllMocks();
    expect((await schedule(w.deps)).assigned).toHaveLength(1); // one worker, concurrency 1
  });

  test('a chain populate lets one child go: one scheduler event, nothing more at close', async () => {
    await started('chain', 10).then(async ({ populate }) => {
      w.deps.queues.schedulerEvents.length = 0;
      await orchestrate(w.deps, populate);
    });
    expect(w.deps.queues.schedulerEvents).toHaveLength(1);
  });

  test('a completion outside a populate unblocks its dependent with its own event, as before', async () => {
    const { root, populate } = await started('chain', 3);
    await orchestrate(w.deps, populate);
    await schedule(w.deps);
    w.deps.queues.schedulerEvents.length = 0;
    await drive(w, [worker], defaultScript(w));
    expect((await w.deps.workRequests.get(root.id))!.status).toBe('completed');
    expect(w.deps.queues.schedulerEvents.filter((e) => e.type === 'work-request-pending')).toHaveLength(2);
  });
});
