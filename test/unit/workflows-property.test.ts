/**
 * Random child graphs with random completion orders, and duplicated or reordered orchestrator
 * messages, end in the same state as a simple reference model, with no duplicate children.
 */
import fc from 'fast-check';
import { z } from 'zod';
import { registerWorkflow } from '../../shared/workflows';
import { createTemplate } from '../../shared/app/workflow-templates';
import { startWorkflow } from '../../shared/app/workflow-runs';
import { orchestrate } from '../../shared/app/workflow-orchestration';
import { schedule } from '../../shared/app/scheduler';
import { completeWorkRequest, getNextForWorker } from '../../shared/app/workers';
import { workflowOutcome } from '../../shared/domain/workflows';
import { createSchedulingWorld } from '../support/scheduling';

interface Node {
  name: string;
  deps: string[];
  succeed: boolean;
  allowFailure: boolean;
}

registerWorkflow({
  name: 'test-graph',
  schema: z.strictObject({ nodes: z.array(z.strictObject({ name: z.string(), deps: z.array(z.string()), succeed: z.boolean(), allowFailure: z.boolean() })) }),
  async populate(ctx, data: { nodes: Node[] }) {
    const made = new Map<string, Awaited<ReturnType<typeof ctx.ensureChild>>>();
    for (const node of data.nodes) {
      let child = await ctx.ensureChild({
        taskName: 'noop',
        taskData: { result: node.succeed },
        workflowData: { step: node.name, ...(node.allowFailure ? { allow_failure: true } : {}) },
      });
      for (const dep of node.deps) child = await ctx.addDependency(child, made.get(dep)!);
      made.set(node.name, child);
    }
  },
});

/** The reference model: which nodes run, and how each ends. */
function expected(nodes: Node[]): Map<string, { status: 'completed' | 'aborted'; result: string }> {
  const out = new Map<string, { status: 'completed' | 'aborted'; result: string }>();
  for (const node of nodes) {
    const blockedForever = node.deps.some((d) => {
      const dep = out.get(d)!;
      const depNode = nodes.find((n) => n.name === d)!;
      // An aborted dependency aborts its dependent; with allow_failure it leaves it blocked
      // (behaviour 23) until the workflow has nothing else running and aborts it.
      return dep.status === 'aborted' || (dep.result !== 'success' && !depNode.allowFailure);
    });
    out.set(node.name, blockedForever ? { status: 'aborted', result: '' } : { status: 'completed', result: node.succeed ? 'success' : 'failure' });
  }
  return out;
}

const graph = fc.integer({ min: 1, max: 6 }).chain((n) =>
  fc.tuple(
    ...Array.from({ length: n }, (_, i) =>
      fc.record({
        deps: fc.subarray(Array.from({ length: i }, (_, j) => `n${j}`)),
        succeed: fc.boolean(),
        allowFailure: fc.boolean(),
      }),
    ),
  ).map((specs) => specs.map((s, i) => ({ name: `n${i}`, ...s }))),
);

it('orchestrates random graphs like the reference model, whatever the message order', async () => {
  await fc.assert(
    fc.asyncProperty(graph, fc.array(fc.nat(), { minLength: 50, maxLength: 50 }), async (nodes, choices) => {
      const w = await createSchedulingWorld();
      const workers = [await w.addWorker('a.lan'), await w.addWorker('b.lan')];
      await createTemplate(w.deps, await w.caller('owner'), { scope: 'debusine', workspace: 'priv', name: 'g', taskName: 'test-graph' });
      const wf = await startWorkflow(w.deps, await w.caller('contributor'), { scope: 'debusine', workspace: 'priv', templateName: 'g', taskData: { nodes } });
      const queue = w.deps.queues.orchestration;
      let pick = 0;
      const next = () => choices[pick++ % choices.length]!;
      for (let step = 0; step < 400; step++) {
        const action = next() % 4;
        if (action === 0 && queue.length) {
          // Redelivery and reordering: take any message, sometimes leave a copy behind.
          const i = next() % queue.length;
          const [message] = queue.splice(i, 1);
          if (next() % 3 === 0) queue.push(message!);
          await orchestrate(w.deps, message!);
        } else if (action === 1) {
          await schedule(w.deps);
        } else {
          const worker = workers[next() % workers.length]!;
          const wr = await getNextForWorker(w.deps, await worker.caller());
          if (wr) await completeWorkRequest(w.deps, await worker.caller(), wr.id, { result: wr.taskData['result'] ? 'success' : 'failure' });
        }
        const root = (await w.deps.workRequests.get(wf.id))!;
        if (root.status !== 'running' && root.status !== 'pending' && queue.length === 0) break;
      }
      // Drain in order.
      for (let round = 0; round < 100; round++) {
        while (queue.length) await orchestrate(w.deps, queue.shift()!);
        await schedule(w.deps);
        let moved = false;
        for (const worker of workers) {
          const wr = await getNextForWorker(w.deps, await worker.caller());
          if (wr) {
            moved = true;
            await completeWorkRequest(w.deps, await worker.caller(), wr.id, { result: wr.taskData['result'] ? 'success' : 'failure' });
          }
        }
        if (!moved && queue.length === 0) break;
      }
      const children = await w.deps.workRequests.children(wf.id);
      expect(children).toHaveLength(nodes.length); // no duplicates under redelivery
      const model = expected(nodes);
      for (const child of children) {
        const want = model.get(String(child.workflowData.step))!;
        expect({ step: child.workflowData.step, status: child.status, result: child.result }).toEqual({ step: child.workflowData.step, ...want });
      }
      const outcome = workflowOutcome(nodes.map((n) => ({ ...model.get(n.name)!, supersededBy: null, workflowData: n.allowFailure ? { allow_failure: true } : {} })) as any);
      const root = (await w.deps.workRequests.get(wf.id))!;
      expect({ status: root.status, result: root.result || undefined }).toEqual({ status: outcome!.status, result: outcome!.result });
    }),
    { numRuns: 150 },
  );
});
