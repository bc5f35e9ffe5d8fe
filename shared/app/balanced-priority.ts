/**
 * REANA's `balanced` scheduling policy applied through Conveyor's own priorities: a root
 * workflow's base priority gets REANA's overload × complexity priority (0 to 100) added, and its
 * children inherit the workflow's effective priority, so the scheduler's usual order (priority,
 * then age) does the rest. `fifo` (the default) leaves priorities alone.
 */
import { balancedPriority, type Complexity } from '../domain/scheduling-policy';
import { effectiveMetadata } from '../domain/workers';
import type { Deps } from '../ports';

/** How many active workflows are counted at most (REANA's overload saturates at MAX anyway). */
const ACTIVE_SCAN_LIMIT = 200;

export function schedulingPolicyOf(deps: Deps): { policy: 'fifo' | 'balanced'; maxConcurrent: number } {
  return deps.schedulingPolicy ?? { policy: 'fifo', maxConcurrent: 30 };
}

/**
 * The priority a new root workflow adds under the policy: 0 for fifo; for balanced, REANA's
 * `get_priority` with the owner's pending and running workflows in the workspace and the enabled
 * workers' memory as the cluster's.
 */
export async function workflowPolicyPriority(deps: Deps, input: { scope: string; workspace: string; createdBy: string; complexity: Complexity }): Promise<number> {
  const { policy, maxConcurrent } = schedulingPolicyOf(deps);
  if (policy !== 'balanced') return 0;
  let active = 0;
  for (const status of ['pending', 'running'] as const) {
    const page = await deps.workRequests.list({ scope: input.scope, workspace: input.workspace, status, limit: ACTIVE_SCAN_LIMIT });
    active += page.items.filter((wr) => wr.taskType === 'Workflow' && wr.parent === null && wr.createdBy === input.createdBy).length;
  }
  const totalMemory = (await deps.workers.list())
    .filter((w) => w.enabled)
    .reduce((sum, w) => sum + Number(effectiveMetadata(w)['system:total_physical_memory'] ?? 0), 0);
  return balancedPriority(active, input.complexity, totalMemory, maxConcurrent);
}
