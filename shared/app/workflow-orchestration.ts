/**
 * The orchestrator (a FIFO queue consumer, one root workflow at a time): populates workflow
 * graphs through the plug-ins' WorkflowContext, runs callbacks, adds delayed retries and
 * completes workflows (reference/debusine.md §4).
 */
import { NotFoundError, ValidationError } from '../domain/errors';
import { PROMISE_CATEGORY } from '../domain/collections';
import { delayedRetryOf } from '../domain/event-reactions';
import { bump, effectivePriority, isFinished, newWorkRequest, unblockDecision, type TaskType, type WorkRequest } from '../domain/work-requests';
import { moveRun, workflowOutcome } from '../domain/workflows';
import { childrenStillInProgress } from '../domain/child-progress';
import { zodFieldErrors } from '../domain/zod-errors';
import { sameJson } from '../domain/json';
import { findTask, validateTaskData } from '../tasks';
import { findWorkflow, type ChildSpec, type WorkflowContext } from '../workflows';
import type { Deps, OrchestrationMessage } from '../ports';
import { creatorCaller, lookupContextOf, rootWorkflowOf, type LookupContext } from './acting-as';
import { ignoreConflict, withRetries } from './concurrency';
import { addItemAsWorkflow, ensureInternalCollection } from './collections';
import { runEventReactions } from './event-reactions';
import { createSuccessor, endUnblockBatch, finish, settleDependent, settleDependentsOf, startServerSide, startUnblockBatch } from './lifecycle';
import { resolveLookupMultiple } from './lookups';
import { CreatorDisabledError } from './user-status';


function matchesSpec(child: WorkRequest, spec: ChildSpec): boolean {
  return (
    child.taskType === (spec.taskType ?? 'Worker') &&
    child.taskName === spec.taskName &&
    sameJson(child.taskData, spec.taskData) &&
    sameJson(child.workflowData, spec.workflowData)
  );
}

/**
 * `countChildren: 'after'` (a populate): children are created without counting them in the
 * workflow's progress (an item in every create transaction, 2 WCU each); the caller raises the
 * count once when the plug-in is done (`raiseChildrenCreated`). Callbacks and retries, which create
 * a few children, count each in its own transaction.
 */
async function buildContext(deps: Deps, workflow: WorkRequest, opts: { countChildren?: 'each' | 'after' } = {}): Promise<WorkflowContext> {
  const root = (await rootWorkflowOf(deps, workflow)) ?? workflow;
  // Resolved at the first lookup: only lookups need the creator's rights (a delayed retry does not,
  // so a disabled creator's retry is still made, and held by the scheduler like its other work).
  let lookupCtx: Promise<LookupContext> | undefined;
  const lookupContext = () => (lookupCtx ??= lookupContextOf(deps, workflow, root));
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
      await deps.workRequests.commit({ create: [child], ...(opts.countChildren === 'after' ? { uncountedChildren: true } : {}) });
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
        ).catch(ignoreConflict); // added concurrently: the same promise
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
      for (const result of await resolveLookupMultiple(deps, await lookupContext(), lookup, 'artifact-or-promise')) {
        const item = result.collectionItem;
        if (item?.category !== PROMISE_CATEGORY) continue;
        const producer = await deps.workRequests.get(Number(item.data['promise_work_request_id']));
        if (producer) current = await ctx.addDependency(current, producer);
      }
      return current;
    },
    lookupArtifacts: async (lookup) => resolveLookupMultiple(deps, await lookupContext(), lookup, 'artifact-or-promise'),
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

/** How a step that threw ends: `creator-disabled` when it may not act for its creator, else `orchestrator-failed`. */
function stepFailureCode(err: unknown): string {
  return err instanceof CreatorDisabledError ? 'creator-disabled' : 'orchestrator-failed';
}

/**
 * Populate and callbacks are the workflow acting for its creator: a disabled creator ends the step in
 * error (code `creator-disabled`) at once, instead of a step that fails and is delivered again forever.
 * (The scheduler does not hand such steps over in the first place; this is for those already on their way.)
 */
async function requireActiveCreator(deps: Deps, workflow: WorkRequest): Promise<void> {
  await creatorCaller(deps, workflow);
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
  try {
    await requireActiveCreator(deps, current);
    await def.populate(await buildContext(deps, current, { countChildren: 'after' }), parsed.data);
  } catch (err) {
    return failWorkflow(deps, current, stepFailureCode(err), err);
  }
  const children = await deps.workRequests.children(current.id);
  // Before any child can go ahead (and finish): the count of what populate created uncounted. Read
  // first, so a replay writes nothing and a populate that died before this write is repaired.
  if (children.length > ((await deps.workRequests.childProgress(current.id))?.created ?? 0)) {
    await deps.workRequests.raiseChildrenCreated(current.id, children.length);
  }
  // One marker batch for the children let go (a flat populate: two marker sets and two scheduler events, not one of each per child).
  const batch = startUnblockBatch(deps);
  try {
    for (const child of children) {
      if (child.status === 'blocked') await settleDependent(deps, child.id, { batch });
      if (child.taskType === 'Workflow' && child.status === 'pending') {
        const fresh = (await deps.workRequests.get(child.id))!;
        const started = bump(fresh, { status: 'running', startedAt: deps.clock.now().toISOString() });
        await deps.workRequests.commit({ update: [{ workRequest: started, expectedVersion: fresh.version }] });
        await populateWorkflow(deps, started);
      }
    }
  } finally {
    // Also when a step failed: the children already let go must not wait for the redelivery.
    await endUnblockBatch(deps, batch);
  }
  if (children.length === 0) {
    const latest = (await deps.workRequests.get(current.id))!;
    if (latest.status === 'running') await finish(deps, latest, { status: 'completed', result: 'success' });
    return;
  }
  await maybeFinishWorkflow(deps, current.id);
}

/**
 * Completes a running workflow once none of its (current) children is in progress. The child
 * progress counts answer the common step (a child finished, others still in progress, none failed)
 * with one read; otherwise, and always on `recount` (the watchdog's reconcile sweep, which also
 * repairs what a lost message left), every child is read.
 */
export async function maybeFinishWorkflow(deps: Deps, workflowId: number, opts: { recount?: boolean } = {}): Promise<void> {
  if (!opts.recount && childrenStillInProgress(await deps.workRequests.childProgress(workflowId))) return;
  const wf = await deps.workRequests.get(workflowId);
  if (!wf || wf.taskType !== 'Workflow' || wf.status !== 'running') return;
  let children = await deps.workRequests.children(wf.id);
  if (children.length === 0) return; // not populated yet
  if (await retryDueChildren(deps, children)) children = await deps.workRequests.children(wf.id);
  if (await abortStrandedChildren(deps, children)) children = await deps.workRequests.children(wf.id);
  const outcome = workflowOutcome(children);
  if (!outcome) return;
  // Only this commit is retried (re-read on a lost race); its follow-ups never throw.
  await withRetries(async () => {
    const current = await deps.workRequests.get(wf.id);
    if (!current || current.status !== 'running') return;
    await finish(deps, current, { status: outcome.status, result: outcome.result });
  });
  if (wf.parent !== null) await maybeFinishWorkflow(deps, wf.parent);
}

/**
 * Failed children whose delayed retry is due but not made yet (its orchestrator message lost or
 * still queued) are retried before the workflow's outcome is judged. Returns whether any was.
 */
async function retryDueChildren(deps: Deps, children: WorkRequest[]): Promise<boolean> {
  let retried = false;
  for (const child of children) {
    const until = delayedRetryOf(child);
    if (!until) continue;
    await createDelayedSuccessor(deps, child, until);
    retried = true;
  }
  return retried;
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
    await finish(deps, child, { status: 'aborted', error: { code: 'dependency-failed', message: 'its dependencies finished without letting it run' } }).catch(ignoreConflict);
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
      ignoreConflict(err);
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
      else await maybeFinishWorkflow(deps, wr.id, { recount: true });
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
        await requireActiveCreator(deps, parent);
        await callback(await buildContext(deps, parent), parsed);
        await finish(deps, (await deps.workRequests.get(wr.id))!, { status: 'completed', result: 'success' });
      } catch (err) {
        const current = (await deps.workRequests.get(wr.id))!;
        if (!isFinished(current)) {
          await finish(deps, current, { status: 'completed', result: 'error', error: { code: stepFailureCode(err), message: err instanceof Error ? err.message : String(err) } });
        }
      }
      return;
    }
    case 'child-finished':
      if (wr.parent !== null) await maybeFinishWorkflow(deps, wr.parent);
      return;
    case 'settle-dependents':
      // Idempotent: a dependent that was settled meanwhile is no longer blocked and is left alone.
      await settleDependentsOf(deps, wr.id);
      return;
    case 'retry-delayed': {
      // Replays find the request already superseded (retried): nothing is due any more.
      const until = delayedRetryOf(wr);
      if (until) await createDelayedSuccessor(deps, wr, until);
      return;
    }
  }
}

/** retry-with-delays: a `Wait/delay` sibling, and a successor that waits for it. */
async function createDelayedSuccessor(deps: Deps, wr: WorkRequest, until: Date): Promise<WorkRequest> {
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
