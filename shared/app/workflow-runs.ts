/**
 * Workflow runs: starting one from a template, finding it by its REANA run number, its tree, and
 * restarting a failed one (REANA: failed → running, run number `M.m+1`).
 */
import { NotFoundError, ValidationError } from '../domain/errors';
import type { Complexity } from '../domain/scheduling-policy';
import { bump, hasFailed, isFinished, newWorkRequest, type WorkRequest } from '../domain/work-requests';
import { canRunTransition } from '../domain/run-status';
import { moveRun, parseRunLookup } from '../domain/workflows';
import { prefixFields, zodFieldErrors } from '../domain/zod-errors';
import { findWorkflow } from '../workflows';
import type { Deps } from '../ports';
import { rootWorkflowOf } from './acting-as';
import { accessWorkspace, callerId, requireUser, type Caller } from './auth';
import { workflowPolicyPriority } from './balanced-priority';
import { ensureInternalCollection } from './collections';
import { createSuccessor } from './lifecycle';
import { loadWorkRequest } from './loaders';
import { enforceQuotas } from './quotas';
import { templateNotFound } from './workflow-templates';


export async function startWorkflow(
  deps: Deps,
  caller: Caller,
  input: {
    scope: string;
    workspace: string;
    templateName: string;
    taskData?: Record<string, unknown>;
    complexity?: Complexity;
    /** The root's id, reserved beforehand: a second start with it fails with ConflictError (recurring runs). */
    id?: number;
    /** Extra `workflow_data` items of the root (the recurring run it carries). */
    workflowData?: Record<string, unknown>;
  },
): Promise<WorkRequest> {
  requireUser(caller);
  await accessWorkspace(deps, caller, input.scope, input.workspace, 'contributor');
  await enforceQuotas(deps, caller, input.scope, input.workspace);
  const template = await deps.templates.getByName(input.scope, input.workspace, input.templateName);
  if (!template) throw templateNotFound();
  const def = findWorkflow(template.taskName);
  if (!def) throw new ValidationError('Cannot create workflow', {}, `workflow ${template.taskName} is not registered`);
  // Run-time data goes under the template's: the template wins.
  const merged = { ...(input.taskData ?? {}), ...template.taskData };
  const parsed = def.schema.safeParse(merged);
  if (!parsed.success) throw new ValidationError('Cannot create workflow', prefixFields('task_data', zodFieldErrors(parsed.error)));
  const now = deps.clock.now().toISOString();
  const id = input.id ?? (await deps.sequences.next('work-request'));
  const major = await deps.sequences.next(`run:${input.scope}#${input.workspace}#${template.name}`);
  const root = newWorkRequest({
    id,
    scope: input.scope,
    workspace: input.workspace,
    createdBy: callerId(caller)!,
    taskType: 'Workflow',
    taskName: template.taskName,
    taskData: parsed.data as Record<string, unknown>,
    createdAt: now,
    // REANA's balanced policy adds its priority (0 under fifo); children inherit the effective priority.
    priorityBase: template.priority + (await workflowPolicyPriority(deps, { scope: input.scope, workspace: input.workspace, createdBy: callerId(caller)!, complexity: input.complexity ?? [] })),
    workflowData: { ...input.workflowData, workflow_template_name: template.name },
    run: { name: template.name, major, minor: 0, status: 'created' },
  });
  // The internal collection exists before the root does, so the root is written once, already
  // queued: a scheduling pass that picks the new root up cannot race a second write of it.
  const collection = await ensureInternalCollection(deps, root);
  const queued = { ...root, internalCollection: collection.id, run: moveRun(root, 'queued') };
  await deps.workRequests.commit({ create: [queued] });
  await deps.templates.recordRun(input.scope, input.workspace, template.name, { major, minor: 0 }, id);
  await deps.queues.enqueueSchedulerEvent({ type: 'work-request-pending', workRequestId: id });
  return queued;
}

/** A run by REANA lookup: `name` (latest), `name.N`, `name.N.M`. */
export async function findWorkflowRun(deps: Deps, caller: Caller, input: { scope: string; workspace: string; lookup: string }): Promise<WorkRequest> {
  await accessWorkspace(deps, caller, input.scope, input.workspace, 'viewer');
  const { name, run } = parseRunLookup(input.lookup);
  const found = await deps.templates.findRun(input.scope, input.workspace, name, run);
  if (!found) throw new NotFoundError('Not found', `no workflow run "${input.lookup}" in ${input.workspace}`);
  try {
    return (await loadWorkRequest(deps, caller, found.workRequestId)).wr;
  } catch (err) {
    // The run record outlives its request once the work-request expiry step deleted the tree: say so.
    if (err instanceof NotFoundError && !(await deps.workRequests.get(found.workRequestId))) {
      throw new NotFoundError('Expired', `workflow run "${input.lookup}" was work request ${found.workRequestId}, which has expired and was deleted`);
    }
    throw err;
  }
}

export interface WorkflowTreeNode {
  workRequest: WorkRequest;
  children: WorkflowTreeNode[];
}

export async function workflowTree(deps: Deps, caller: Caller, id: number): Promise<WorkflowTreeNode> {
  const { wr } = await loadWorkRequest(deps, caller, id);
  const build = async (node: WorkRequest, depth: number): Promise<WorkflowTreeNode> => ({
    workRequest: node,
    children: node.taskType === 'Workflow' && depth < 20 ? await Promise.all((await deps.workRequests.children(node.id)).map((c) => build(c, depth + 1))) : [],
  });
  return build(wr, 0);
}

/**
 * Retrying a workflow restarts it (REANA: failed → running, run number `M.m+1`), retries its
 * failed and aborted children, and populates again. A stopped (aborted) run cannot restart:
 * REANA's table has no stopped → running.
 */
export async function restartWorkflow(deps: Deps, caller: Caller, wf: WorkRequest, opts: { retryChildren: boolean }): Promise<WorkRequest> {
  if (wf.status === 'running') return wf;
  if (wf.supersededBy !== null) throw new ValidationError('Cannot retry work request', {}, 'Cannot retry a work request that has already been retried');
  if (!hasFailed(wf)) throw new ValidationError('Cannot retry work request', {}, 'Only aborted or failed tasks can be retried');
  let run = wf.run;
  if (run) {
    if (!canRunTransition(run.status, 'running')) {
      throw new ValidationError('Cannot retry work request', {}, `a ${run.status} workflow run cannot be restarted`);
    }
    const minor = await deps.sequences.next(`run:${wf.scope}#${wf.workspace}#${run.name}#${run.major}`);
    run = { ...run, minor, status: 'running' };
  }
  const restarted = bump(wf, { status: 'running', result: '', completedAt: null, abortedBy: null, run });
  await deps.workRequests.commit({ update: [{ workRequest: restarted, expectedVersion: wf.version }] });
  if (run) await deps.templates.recordRun(wf.scope, wf.workspace, run.name, { major: run.major, minor: run.minor }, wf.id);
  if (wf.parent !== null) {
    const parent = await deps.workRequests.get(wf.parent);
    if (parent && isFinished(parent)) await restartWorkflow(deps, caller, parent, { retryChildren: false });
  }
  if (opts.retryChildren) {
    for (const child of await deps.workRequests.children(wf.id)) {
      const current = (await deps.workRequests.get(child.id))!;
      if (current.supersededBy !== null || !hasFailed(current)) continue;
      if (current.taskType === 'Workflow') await restartWorkflow(deps, caller, current, { retryChildren: true });
      else await createSuccessor(deps, current, { reason: 'manual' }).catch((err) => {
        if (!(err instanceof ValidationError)) throw err;
      });
    }
  }
  const root = (await rootWorkflowOf(deps, restarted)) ?? restarted;
  await deps.queues.enqueueOrchestration({ rootId: root.id, kind: 'populate', workRequestId: restarted.id });
  return (await deps.workRequests.get(wf.id))!;
}

/** Debusine behaviour 36: retrying a failed child of a finished workflow puts the workflow back to running. */
export async function reopenParents(deps: Deps, caller: Caller, child: WorkRequest): Promise<void> {
  if (child.parent === null) return;
  const parent = await deps.workRequests.get(child.parent);
  if (parent && isFinished(parent)) await restartWorkflow(deps, caller, parent, { retryChildren: false });
}
