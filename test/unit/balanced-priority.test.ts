/** REANA's balanced policy through Conveyor's priorities (behaviours 27 and 28 applied to workflows). */
import { createTemplate } from '../../shared/app/workflow-templates';
import { startWorkflow } from '../../shared/app/workflow-runs';
import { createSchedulingWorld } from '../support/scheduling';

async function setup(policy: 'fifo' | 'balanced') {
  const w = await createSchedulingWorld();
  w.deps.schedulingPolicy = { policy, maxConcurrent: 10 };
  await w.addWorker('bee.example'); // 8 GiB of memory: the cluster's total
  await createTemplate(w.deps, await w.caller('owner'), { scope: 'debusine', workspace: 'priv', name: 'wf', taskName: 'noop' });
  const start = async (complexity?: [number, number][]) =>
    startWorkflow(w.deps, await w.caller('contributor'), { scope: 'debusine', workspace: 'priv', templateName: 'wf', ...(complexity ? { complexity } : {}) });
  return { w, start };
}

const GiB = 1024 ** 3;

describe('balanced scheduling policy', () => {
  it('fifo (the default) leaves the priority alone', async () => {
    const { start } = await setup('fifo');
    expect((await start([[2, GiB]])).priorityBase).toBe(0);
  });

  it('balanced: overload × complexity, lighter and less loaded workflows first', async () => {
    const { start } = await setup('balanced');
    // No active workflow: overload 1; 2 GiB of 8: complexity trunc(round(0.75, 2) × 100) = 75.
    expect((await start([[2, GiB]])).priorityBase).toBe(75);
    // One active (pending) workflow now: overload round(1 − 0.9/10, 2) = 0.91; round(0.91 × 75 = 68.25) = 68.
    expect((await start([[2, GiB]])).priorityBase).toBe(68);
    // Heavier than the cluster, or no complexity: 0 (REANA).
    expect((await start([[9, GiB]])).priorityBase).toBe(0);
    expect((await start()).priorityBase).toBe(0);
  });
});
