/**
 * Workflows: templates, starting runs, and the orchestrator (a FIFO queue consumer, one root at a
 * time) that populates graphs, runs callbacks and completes workflows (reference/debusine.md §4).
 */
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../domain/errors';
import { roleAtLeast } from '../domain/roles';
import { PROMISE_CATEGORY } from '../domain/collections';
import { effectivePriority, isFinished, newWorkRequest, unblockDecision, type TaskType, type WorkflowData, type WorkRequest } from '../domain/work-requests';
import {
  canRunTransition,
  normaliseWorkflowName,
  parseRunLookup,
  workflowOutcome,
  type RunStatus,
  type WorkflowTemplate,
} from '../domain/workflows';
import { zodFieldErrors } from '../domain/zod-errors';
import { sameJson } from '../domain/json';
import { findTask, validateTaskData } from '../tasks';
import { findWorkflow, type ChildSpec, type WorkflowContext } from '../workflows';
import type { Deps, OrchestrationMessage } from '../ports';
import { accessWorkspace, callerId, isAdmin, requireUser, type Caller } from './auth';
import { addItemAsWorkflow, ensureInternalCollection } from './collections';
import { creatorCaller, rootWorkflowOf, runEventReactions } from './event-reactions';
import { bump, createSuccessor, finish, settleDependent, startServerSide, withRetries } from './lifecycle';
import { resolveLookupMultiple } from './lookups';
import { loadWorkRequest } from './work-requests';

// ---------------------------------------------------------------------------------------------
// Templates

export const templateNotFound = () => new NotFoundError('Not found', 'Workflow template not found');

function checkTemplateData(taskName: string, data: Record<string, unknown>): void {
  const def = findWorkflow(taskName);
  if (!def) throw ValidationError.field('task_name', `${taskName}: no such workflow`, 'Invalid workflow template');
  // The template holds fixed parameters only: check what it has, not what run-time data adds.
  const schema = def.schema as unknown as { partial?: () => { safeParse(v: unknown): { success: boolean; error?: any } } };
  const parsed = schema.partial ? schema.partial().safeParse(data) : { success: true };
  if (!parsed.success) throw new ValidationError('Invalid workflow template', prefixFields('task_data', zodFieldErrors(parsed.error)));
  def.validateTemplateData?.(data);
}

function prefixFields(prefix: string, errors: Record<string, string[]>): Record<string, string[]> {
  return Object.fromEntries(Object.entries(errors).map(([k, v]) => [k === '(body)' ? prefix : `${prefix}.${k}`, v]));
}

function checkPriority(caller: Caller, priority: number): void {
  if (!Number.isInteger(priority)) throw ValidationError.field('priority', 'must be an integer', 'Invalid workflow template');
  if (priority > 0 && !isAdmin(caller)) throw new ForbiddenError('Permission denied', 'only administrators may give a template a priority above 0');
}

export async function createTemplate(
  deps: Deps,
  caller: Caller,
  input: { scope: string; workspace: string; name: string; taskName: string; taskData?: Record<string, unknown>; priority?: number },
): Promise<WorkflowTemplate> {
  requireUser(caller);
  await accessWorkspace(deps, caller, input.scope, input.workspace, 'owner');
  const name = normaliseWorkflowName(input.name);
  checkTemplateData(input.taskName, input.taskData ?? {});
  checkPriority(caller, input.priority ?? 0);
  const template: WorkflowTemplate = {
    id: await deps.sequences.next('workflow-template'),
    scope: input.scope,
    workspace: input.workspace,
    name,
    taskName: input.taskName,
    taskData: input.taskData ?? {},
    priority: input.priority ?? 0,
    createdAt: deps.clock.now().toISOString(),
    version: 1,
  };
  await deps.templates.create(template);
  return template;
}

export async function listTemplates(deps: Deps, caller: Caller, input: { scope: string; workspace: string }): Promise<WorkflowTemplate[]> {
  await accessWorkspace(deps, caller, input.scope, input.workspace, 'viewer');
  return deps.templates.list(input.scope, input.workspace);
}

async function loadTemplate(deps: Deps, caller: Caller, id: number, needed: 'viewer' | 'owner'): Promise<WorkflowTemplate> {
  const template = await deps.templates.get(id);
  if (!template) throw templateNotFound();
  await accessWorkspace(deps, caller, template.scope, template.workspace, needed, templateNotFound);
  return template;
}

export function getTemplate(deps: Deps, caller: Caller, id: number): Promise<WorkflowTemplate> {
  return loadTemplate(deps, caller, id, 'viewer');
}

export async function updateTemplate(
  deps: Deps,
  caller: Caller,
  id: number,
  patch: { name?: string; taskData?: Record<string, unknown>; priority?: number },
): Promise<WorkflowTemplate> {
  requireUser(caller);
  const template = await loadTemplate(deps, caller, id, 'owner');
  const next: WorkflowTemplate = {
    ...template,
    name: patch.name !== undefined ? normaliseWorkflowName(patch.name) : template.name,
    taskData: patch.taskData ?? template.taskData,
    priority: patch.priority ?? template.priority,
    version: template.version + 1,
  };
  checkTemplateData(next.taskName, next.taskData);
  if (patch.priority !== undefined) checkPriority(caller, patch.priority);
  await deps.templates.update(next, template.version);
  return next;
}

export async function deleteTemplate(deps: Deps, caller: Caller, id: number): Promise<void> {
  requireUser(caller);
  await deps.templates.delete(await loadTemplate(deps, caller, id, 'owner'));
}

// ---------------------------------------------------------------------------------------------
// Runs

/** The REANA status a run moves to next, or a ConflictError when REANA's table forbids it. */
function moveRun(wr: WorkRequest, to: RunStatus): WorkRequest['run'] {
  if (!wr.run || wr.run.status === to) return wr.run;
  if (!canRunTransition(wr.run.status, to)) {
    throw new ConflictError('Illegal run transition', `workflow ${wr.id} is ${wr.run.status} and cannot become ${to}`);
  }
  return { ...wr.run, status: to };
}

export async function startWorkflow(
  deps: Deps,
  caller: Caller,
  input: { scope: string; workspace: string; templateName: string; taskData?: Record<string, unknown> },
): Promise<WorkRequest> {
  requireUser(caller);
  await accessWorkspace(deps, caller, input.scope, input.workspace, 'contributor');
  const template = await deps.templates.getByName(input.scope, input.workspace, input.templateName);
  if (!template) throw templateNotFound();
  const def = findWorkflow(template.taskName);
  if (!def) throw new ValidationError('Cannot create workflow', {}, `workflow ${template.taskName} is not registered`);
  // Run-time data goes under the template's: the template wins.
  const merged = { ...(input.taskData ?? {}), ...template.taskData };
  const parsed = def.schema.safeParse(merged);
  if (!parsed.success) throw new ValidationError('Cannot create workflow', prefixFields('task_data', zodFieldErrors(parsed.error)));
  const now = deps.clock.now().toISOString();
  const id = await deps.sequences.next('work-request');
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
    priorityBase: template.priority,
    workflowData: { workflow_template_name: template.name },
    run: { name: template.name, major, minor: 0, status: 'created' },
  });
  await deps.workRequests.commit({ create: [root] });
  const collection = await ensureInternalCollection(deps, root);
  // A scheduling pass may start the new root meanwhile (it is pending): write over what is stored
  // now, and only move a run that is still `created`, instead of answering 409 to its creator.
  const queued = await withRetries(async () => {
    const current = (await deps.workRequests.get(id))!;
    const run = current.run?.status === 'created' ? moveRun(current, 'queued') : current.run;
    const next = bump(current, { internalCollection: collection.id, run });
    await deps.workRequests.commit({ update: [{ workRequest: next, expectedVersion: current.version }] });
    return next;
  });
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
  return (await loadWorkRequest(deps, caller, found.workRequestId)).wr;
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
  const failed = wf.status === 'aborted' || (wf.status === 'completed' && (wf.result === 'failure' || wf.result === 'error'));
  if (!failed) throw new ValidationError('Cannot retry work request', {}, 'Only aborted or failed tasks can be retried');
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
      const childFailed = current.status === 'aborted' || (current.status === 'completed' && (current.result === 'failure' || current.result === 'error'));
      if (current.supersededBy !== null || !childFailed) continue;
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

/** retry-with-delays: a `Wait/delay` sibling, and a successor that waits for it. */
export async function createDelayedSuccessor(deps: Deps, wr: WorkRequest, until: Date): Promise<WorkRequest> {
  const parent = wr.parent !== null ? await deps.workRequests.get(wr.parent) : undefined;
  if (!parent) throw new ValidationError('Cannot retry work request', {}, 'retry-with-delays works on workflow children only');
  const ctx = await buildContext(deps, parent);
  const delay = await ctx.ensureChild({
    taskType: 'Wait',
    taskName: 'delay',
    taskData: { delay_until: until.toISOString() },
    workflowData: { display_name: `wait before retrying ${wr.id}`, step: `retry-delay-${wr.id}`, needs_input: false },
  });
  const successor = await createSuccessor(deps, wr, { reason: 'delay' });
  await ctx.addDependency(successor, delay);
  await settleDependent(deps, delay.id);
  return successor;
}

// ---------------------------------------------------------------------------------------------
// Orchestration

function matchesSpec(child: WorkRequest, spec: ChildSpec): boolean {
  return (
    child.taskType === (spec.taskType ?? 'Worker') &&
    child.taskName === spec.taskName &&
    sameJson(child.taskData, spec.taskData) &&
    sameJson(child.workflowData, spec.workflowData)
  );
}

async function buildContext(deps: Deps, workflow: WorkRequest): Promise<WorkflowContext> {
  const root = (await rootWorkflowOf(deps, workflow)) ?? workflow;
  const caller = await creatorCaller(deps, workflow);
  const lookupCtx = { scope: workflow.scope, workspace: workflow.workspace, caller, workflowRootId: root.id };
  let children = await deps.workRequests.children(workflow.id);

  const refresh = async (wr: WorkRequest) => (await deps.workRequests.get(wr.id)) ?? wr;

  const ctx: WorkflowContext = {
    workflow,
    data: workflow.taskData,
    async ensureChild(spec) {
      const existing = children.filter((c) => c.supersededBy === null && matchesSpec(c, spec));
      if (existing.length) return refresh(existing[0]!);
      const taskType: TaskType = spec.taskType ?? 'Worker';
      let taskData = spec.taskData;
      let hostArchitecture: string | null = null;
      if (taskType !== 'Workflow' && !(taskType === 'Internal' && spec.taskName === 'workflow')) {
        const task = findTask(taskType, spec.taskName);
        if (!task) throw new ValidationError('Cannot create child', {}, `task ${taskType}/${spec.taskName} is not registered`);
        // Validated (and defaults filled), but stored as given so a second populate matches it.
        validateTaskData(task, spec.taskData);
        hostArchitecture = task.hostArchitecture?.(validateTaskData(task, spec.taskData)) ?? null;
      } else if (taskType === 'Workflow') {
        const def = findWorkflow(spec.taskName);
        if (!def) throw new ValidationError('Cannot create child', {}, `workflow ${spec.taskName} is not registered`);
        taskData = def.schema.parse(spec.taskData) as Record<string, unknown>;
      }
      const now = deps.clock.now().toISOString();
      const child = newWorkRequest({
        id: await deps.sequences.next('work-request'),
        scope: workflow.scope,
        workspace: workflow.workspace,
        createdBy: workflow.createdBy,
        taskType,
        taskName: spec.taskName,
        taskData,
        hostArchitecture,
        createdAt: now,
        // Sub-workflows start pending and are orchestrated inline; other children wait for populate to finish.
        status: taskType === 'Workflow' ? 'pending' : 'blocked',
        priorityBase: effectivePriority(workflow) + (spec.relativePriority ?? 0),
        parent: workflow.id,
        workflowData: spec.workflowData,
      });
      await deps.workRequests.commit({ create: [child] });
      children = [...children, child];
      await runEventReactions(deps, child, 'on_creation');
      return child;
    },
    async ensureCallback(step, dependsOn) {
      let cb = await ctx.ensureChild({ taskType: 'Internal', taskName: 'workflow', taskData: {}, workflowData: { step, display_name: step } });
      for (const dep of dependsOn) cb = await ctx.addDependency(cb, dep);
      return cb;
    },
    async addDependency(child, dependency) {
      return withRetries(async () => {
        const current = await refresh(child);
        if (current.dependencies.includes(dependency.id)) return current;
        const depRoot = (await rootWorkflowOf(deps, dependency))?.id;
        if (depRoot !== root.id) throw new ValidationError('Cannot add dependency', {}, 'dependencies must be within the same root workflow');
        const dep = await refresh(dependency);
        // A pending request that gains an unfinished dependency goes back to blocked.
        const status = current.status === 'pending' && !isFinished(dep) && current.worker === null ? 'blocked' : current.status;
        const next = bump(current, { dependencies: [...current.dependencies, dependency.id], status });
        await deps.workRequests.commit({
          update: [{ workRequest: next, expectedVersion: current.version }],
          addReverseDependencies: [{ dependency: dependency.id, dependent: current.id }],
        });
        return next;
      });
    },
    async providesArtifact(child, category, name, data = {}) {
      if (name.includes('/')) throw new ValidationError('Invalid promise', {}, 'a promise name may not contain "/"');
      if (Object.keys(data).some((k) => k.startsWith('promise_'))) throw new ValidationError('Invalid promise', {}, 'promise_* keys are reserved');
      const collection = await ensureInternalCollection(deps, root);
      const active = await deps.collections.activeItem(collection.id, name);
      if (!active) {
        await addItemAsWorkflow(
          deps,
          collection,
          {
            name,
            category: PROMISE_CATEGORY,
            data: { promise_work_request_id: child.id, promise_workflow_id: workflow.id, promise_category: category, ...data },
          },
          root.id,
          { replace: false },
        ).catch((err) => {
          if (!(err instanceof ConflictError)) throw err; // added concurrently: same promise
        });
      }
      await withRetries(async () => {
        const current = await refresh(child);
        const reaction = {
          action: 'update-collection-with-artifacts',
          collection: 'internal@collections',
          name_template: name,
          variables: data,
          artifact_filters: { category },
        };
        const onSuccess = current.eventReactions.on_success ?? [];
        if (onSuccess.some((r) => sameJson(r, reaction))) return;
        const next = bump(current, { eventReactions: { ...current.eventReactions, on_success: [...onSuccess, reaction] } });
        await deps.workRequests.commit({ update: [{ workRequest: next, expectedVersion: current.version }] });
      });
    },
    async requiresArtifact(child, lookup) {
      let current = await refresh(child);
      for (const result of await resolveLookupMultiple(deps, lookupCtx, lookup, 'artifact-or-promise')) {
        const item = result.collectionItem;
        if (item?.category !== PROMISE_CATEGORY) continue;
        const producer = await deps.workRequests.get(Number(item.data['promise_work_request_id']));
        if (producer) current = await ctx.addDependency(current, producer);
      }
      return current;
    },
    lookupArtifacts: (lookup) => resolveLookupMultiple(deps, lookupCtx, lookup, 'artifact-or-promise'),
    async recordOutput(output) {
      await withRetries(async () => {
        const current = await refresh(workflow);
        const next = bump(current, { outputData: { ...(current.outputData ?? {}), ...output } });
        await deps.workRequests.commit({ update: [{ workRequest: next, expectedVersion: current.version }] });
      });
    },
    children: async () => (children = await deps.workRequests.children(workflow.id)),
    async artifact(id) {
      const found = await deps.artifacts.get(id);
      if (!found) throw new NotFoundError('Not found', `no artifact ${id}`);
      return { id, category: found.artifact.category, data: found.artifact.data };
    },
  };
  return ctx;
}

async function failWorkflow(deps: Deps, wf: WorkRequest, code: string, err: unknown): Promise<void> {
  const current = (await deps.workRequests.get(wf.id)) ?? wf;
  if (isFinished(current)) return;
  await finish(deps, current, { status: 'completed', result: 'error', error: { code, message: err instanceof Error ? err.message : String(err) } });
}

/** Runs `populate()`, then lets children whose dependencies are met go ahead. */
async function populateWorkflow(deps: Deps, wf: WorkRequest): Promise<void> {
  let current = wf;
  if (current.run?.status === 'pending') {
    const running = bump(current, { run: moveRun(current, 'running') });
    await deps.workRequests.commit({ update: [{ workRequest: running, expectedVersion: current.version }] });
    current = running;
  }
  const def = findWorkflow(current.taskName);
  if (!def) return failWorkflow(deps, current, 'orchestrator-failed', new Error(`workflow ${current.taskName} is not registered`));
  const parsed = def.schema.safeParse(current.taskData);
  if (!parsed.success) return failWorkflow(deps, current, 'configure-failed', new Error(JSON.stringify(zodFieldErrors(parsed.error))));
  const ctx = await buildContext(deps, current);
  try {
    await def.populate(ctx, parsed.data);
  } catch (err) {
    return failWorkflow(deps, current, 'orchestrator-failed', err);
  }
  const children = await deps.workRequests.children(current.id);
  for (const child of children) {
    if (child.status === 'blocked') await settleDependent(deps, child.id);
    if (child.taskType === 'Workflow' && child.status === 'pending') {
      const fresh = (await deps.workRequests.get(child.id))!;
      const started = bump(fresh, { status: 'running', startedAt: deps.clock.now().toISOString() });
      await deps.workRequests.commit({ update: [{ workRequest: started, expectedVersion: fresh.version }] });
      await populateWorkflow(deps, started);
    }
  }
  if (children.length === 0) {
    const latest = (await deps.workRequests.get(current.id))!;
    if (latest.status === 'running') await finish(deps, latest, { status: 'completed', result: 'success' });
    return;
  }
  await maybeFinishWorkflow(deps, current.id);
}

/** Completes a running workflow once none of its (current) children is in progress. */
export async function maybeFinishWorkflow(deps: Deps, workflowId: number): Promise<void> {
  const wf = await deps.workRequests.get(workflowId);
  if (!wf || wf.taskType !== 'Workflow' || wf.status !== 'running') return;
  let children = await deps.workRequests.children(wf.id);
  if (children.length === 0) return; // not populated yet
  if (await abortStrandedChildren(deps, children)) children = await deps.workRequests.children(wf.id);
  const outcome = workflowOutcome(children);
  if (!outcome) return;
  await finish(deps, wf, { status: outcome.status, result: outcome.result }).catch((err) => {
    if (!(err instanceof ConflictError)) throw err;
  });
  if (wf.parent !== null) await maybeFinishWorkflow(deps, wf.parent);
}

/**
 * A blocked child whose dependencies have all finished but can never unblock it (an aborted
 * dependency with allow_failure leaves it blocked: Debusine behaviour 23) would keep its workflow
 * running forever. Once nothing else in the workflow is in progress, such children are aborted.
 * Children waiting for a manual unblock are left for a human.
 */
async function abortStrandedChildren(deps: Deps, children: WorkRequest[]): Promise<boolean> {
  // Returns whether any child changed (unblocked or aborted), so the caller reloads them.
  const current = children.filter((c) => c.supersededBy === null);
  if (current.some((c) => c.status === 'pending' || c.status === 'running')) return false;
  let aborted = false;
  for (const child of current) {
    if (child.status !== 'blocked' || child.unblockStrategy !== 'deps') continue;
    const dependencies = await deps.workRequests.getMany(child.dependencies);
    if (!dependencies.every((d) => isFinished(d) && d.supersededBy === null)) continue;
    // A dependency may have just finished with its own unblocking still on its way: settle the
    // child like that would; only a child that still cannot move is stranded.
    if (unblockDecision(child, dependencies) !== 'wait') {
      await settleDependent(deps, child.id);
      aborted = true;
      continue;
    }
    await finish(deps, child, { status: 'aborted', error: { code: 'dependency-failed', message: 'its dependencies finished without letting it run' } }).catch((err) => {
      if (!(err instanceof ConflictError)) throw err;
    });
    aborted = true;
  }
  return aborted;
}

/** The FIFO consumer: one message per step, one root at a time. Replays find nothing to do. */
export async function orchestrate(deps: Deps, message: OrchestrationMessage): Promise<void> {
  let wr = await deps.workRequests.get(message.workRequestId);
  if (!wr) return;
  // The scheduler hands a request over before marking it running (so that a lost hand-off can
  // never leave it running with nobody to run it): a pending one is started here.
  const startIfPending = async (current: WorkRequest) =>
    current.status === 'pending' ? startServerSide(deps, current).catch(async (err) => {
      if (!(err instanceof ConflictError)) throw err;
      return (await deps.workRequests.get(current.id))!;
    }) : current;
  switch (message.kind) {
    case 'populate':
      if (wr.taskType !== 'Workflow' || (wr.status === 'pending' && wr.parent !== null)) return;
      wr = await startIfPending(wr);
      if (wr.status === 'running') await populateWorkflow(deps, wr);
      return;
    case 'reconcile':
      // A running workflow nobody has touched for a while: populate again if it has no children
      // (a lost populate), else settle its children and complete it if it is done.
      if (wr.taskType !== 'Workflow' || wr.status !== 'running') return;
      if ((await deps.workRequests.children(wr.id)).length === 0) await populateWorkflow(deps, wr);
      else await maybeFinishWorkflow(deps, wr.id);
      return;
    case 'callback': {
      const parentId = wr.parent;
      if (parentId === null || wr.taskType !== 'Internal') return;
      wr = await startIfPending(wr);
      if (wr.status !== 'running') return;
      const parent = await deps.workRequests.get(parentId);
      const def = parent ? findWorkflow(parent.taskName) : undefined;
      const step = String(wr.workflowData.step ?? '');
      const callback = def?.callbacks?.[step.replace(/-/g, '_')] ?? def?.callbacks?.[step];
      try {
        if (!parent || !def || !callback) throw new Error(`no callback ${step} in workflow ${parent?.taskName ?? '?'}`);
        const parsed = def.schema.parse(parent.taskData);
        await callback(await buildContext(deps, parent), parsed);
        await finish(deps, (await deps.workRequests.get(wr.id))!, { status: 'completed', result: 'success' });
      } catch (err) {
        const current = (await deps.workRequests.get(wr.id))!;
        if (!isFinished(current)) {
          await finish(deps, current, { status: 'completed', result: 'error', error: { code: 'orchestrator-failed', message: err instanceof Error ? err.message : String(err) } });
        }
      }
      return;
    }
    case 'child-finished':
      if (wr.parent !== null) await maybeFinishWorkflow(deps, wr.parent);
      return;
  }
}

/** Checks a caller may retry a workflow (contributor), for the retry use case. */
export async function assertCanRetryWorkflow(deps: Deps, caller: Caller, wf: WorkRequest): Promise<void> {
  const { role } = await accessWorkspace(deps, caller, wf.scope, wf.workspace, 'viewer');
  if (!roleAtLeast(role, 'contributor')) throw new ForbiddenError('Permission denied', 'retrying needs the contributor role');
}

export type { WorkflowData };
