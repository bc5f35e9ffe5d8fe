/**
 * Recurring jobs, user operations (SPEC §5): create, list, show, review, request, try again, delete,
 * results and events, with the roles of SPEC §2 (contributors create and request, owners review).
 * The release tick and the hooks that follow a run's work request are in recurring-runs.ts.
 */
import { ConflictError, NotFoundError, ValidationError } from '../domain/errors';
import {
  createRecurringJob as newRecurringJob,
  requestImport,
  RECURRING_JOB_KINDS,
  REVIEW_STATUSES,
  tryFailingImportAgain,
  updateRecurringJob,
  validateUpdateInterval,
  type RecurringJob,
  type RecurringJobKind,
  type ReviewStatus,
} from '../domain/recurring-jobs';
import { bump } from '../domain/work-requests';
import type { Deps, Page } from '../ports';
import { accessWorkspace, callerId, requireUser, type Caller } from './auth';
import { commitChange, ignoreConflict, recurringJobsOf, REQUESTED_RUN_PRIORITY } from './recurring-runs';
import { releaseAnyRun } from './recurring-release';

function notFound(id: number): NotFoundError {
  return new NotFoundError('Recurring job not found', `recurring job ${id} not found`);
}

// ---------------------------------------------------------------------------------------------
// User operations

export interface CreateRecurringJobInput {
  scope: string;
  workspace: string;
  kind: unknown;
  target: unknown;
  updateInterval?: unknown;
}

/** Checks a target for its kind: a git URL (file, git, http(s), ssh) or a template name with parameters. */
export function validateTarget(kind: RecurringJobKind, target: unknown): Record<string, unknown> {
  if (!target || typeof target !== 'object' || Array.isArray(target)) throw ValidationError.field('target', 'must be an object');
  const t = target as Record<string, unknown>;
  if (kind === 'git-import') {
    const url = t['url'];
    if (typeof url !== 'string' || !/^(file|git|https?|ssh):\/\/\S+$/.test(url)) {
      throw ValidationError.field('target.url', 'must be a git URL with scheme file, git, http, https or ssh');
    }
    return { url };
  }
  const template = t['template'];
  if (typeof template !== 'string' || template.length === 0) throw ValidationError.field('target.template', 'must name a workflow template of the workspace');
  const parameters = t['parameters'] ?? {};
  if (typeof parameters !== 'object' || parameters === null || Array.isArray(parameters)) throw ValidationError.field('target.parameters', 'must be an object');
  return { template, parameters };
}

/**
 * Contributors create jobs. Launchpad approves new imports at once (REVIEWED); here that holds for
 * owners, while a contributor's job starts NEW and an owner reviews it (docs/decisions.md).
 */
export async function createRecurringJob(deps: Deps, caller: Caller, input: CreateRecurringJobInput): Promise<RecurringJob> {
  requireUser(caller);
  const ctx = await accessWorkspace(deps, caller, input.scope, input.workspace, 'contributor');
  if (typeof input.kind !== 'string' || !(RECURRING_JOB_KINDS as readonly string[]).includes(input.kind)) {
    throw ValidationError.field('kind', `must be one of ${RECURRING_JOB_KINDS.join(', ')}`);
  }
  const kind = input.kind as RecurringJobKind;
  const target = validateTarget(kind, input.target);
  const updateInterval = validateUpdateInterval(input.updateInterval);
  if (kind === 'workflow' && !(await deps.templates.getByName(input.scope, input.workspace, String(target['template'])))) {
    throw ValidationError.field('target.template', `no workflow template "${String(target['template'])}" in this workspace`);
  }
  const id = await deps.sequences.next('recurring-job');
  const change = newRecurringJob(
    {
      id,
      scope: input.scope,
      workspace: input.workspace,
      owner: callerId(caller)!,
      kind,
      target,
      updateInterval,
      reviewStatus: ctx.role === 'owner' ? 'REVIEWED' : 'NEW',
    },
    deps.clock.now(),
  );
  await recurringJobsOf(deps).create(change.job, change.events);
  return change.job;
}

/** Loads a job the caller may see with the role the operation needs (404 when it may not see it). */
export async function loadRecurringJob(deps: Deps, caller: Caller, id: number, needed: 'viewer' | 'contributor' | 'owner'): Promise<RecurringJob> {
  const job = await recurringJobsOf(deps).get(id);
  if (!job) throw notFound(id);
  await accessWorkspace(deps, caller, job.scope, job.workspace, needed, () => notFound(id));
  return job;
}

export async function listRecurringJobs(deps: Deps, caller: Caller, input: { scope: string; workspace: string; limit: number; cursor?: string }): Promise<Page<RecurringJob>> {
  await accessWorkspace(deps, caller, input.scope, input.workspace, 'viewer');
  return recurringJobsOf(deps).list(input.scope, input.workspace, input.limit, input.cursor);
}

export interface RecurringJobUpdateInput {
  reviewStatus?: unknown;
  updateInterval?: unknown;
  target?: unknown;
}

/** Owners review (review status) and change the interval or target; a pending released run is withdrawn. */
export async function updateRecurringJobAs(deps: Deps, caller: Caller, id: number, input: RecurringJobUpdateInput): Promise<RecurringJob> {
  requireUser(caller);
  const job = await loadRecurringJob(deps, caller, id, 'owner');
  const update: { reviewStatus?: ReviewStatus; updateInterval?: number | null; target?: Record<string, unknown> } = {};
  if (input.reviewStatus !== undefined) {
    if (typeof input.reviewStatus !== 'string' || !(REVIEW_STATUSES as string[]).includes(input.reviewStatus)) {
      throw ValidationError.field('review_status', `must be one of ${REVIEW_STATUSES.join(', ')}`);
    }
    update.reviewStatus = input.reviewStatus as ReviewStatus;
  }
  if (input.updateInterval !== undefined) update.updateInterval = validateUpdateInterval(input.updateInterval);
  if (input.target !== undefined) update.target = validateTarget(job.kind, input.target);
  const change = updateRecurringJob(job, update, callerId(caller)!, deps.clock.now());
  const written = await commitChange(deps, job, change);
  if (job.run && !written.run) await withdrawRunRequest(deps, job.run.workRequestId, callerId(caller)!);
  return written;
}

/** Deletes a job that has no running run (Launchpad: a running import finishes first). */
export async function deleteRecurringJob(deps: Deps, caller: Caller, id: number): Promise<void> {
  requireUser(caller);
  const job = await loadRecurringJob(deps, caller, id, 'owner');
  if (job.run?.state === 'RUNNING') throw new ConflictError('CodeImportAlreadyRunning', `recurring job ${id} is running; suspend it and delete it once it finished`);
  await recurringJobsOf(deps).delete(job);
  if (job.run) await withdrawRunRequest(deps, job.run.workRequestId, callerId(caller)!);
}

/** Contributors request a run now (requestImport with error_if_already_requested). */
export async function requestRecurringJob(deps: Deps, caller: Caller, id: number): Promise<RecurringJob> {
  requireUser(caller);
  const job = await loadRecurringJob(deps, caller, id, 'contributor');
  const written = await commitChange(deps, job, requestImport(job, callerId(caller)!, deps.clock.now()));
  await prioritiseRequestedRun(deps, written);
  await releaseAnyRun(deps, written).catch(ignoreConflict);
  return (await recurringJobsOf(deps).get(id)) ?? written;
}

/** Owners bring a FAILING job back: REVIEWED with a requested run due now. */
export async function tryRecurringJobAgain(deps: Deps, caller: Caller, id: number): Promise<RecurringJob> {
  requireUser(caller);
  const job = await loadRecurringJob(deps, caller, id, 'owner');
  const written = await commitChange(deps, job, tryFailingImportAgain(job, callerId(caller)!, deps.clock.now()));
  await releaseAnyRun(deps, written).catch(ignoreConflict);
  return (await recurringJobsOf(deps).get(id)) ?? written;
}

/** A released run that was requested afterwards goes ahead of the scheduled ones. */
async function prioritiseRequestedRun(deps: Deps, job: RecurringJob): Promise<void> {
  const wrId = job.run?.releasedAt ? job.run.workRequestId : null;
  if (wrId === null) return;
  const wr = await deps.workRequests.get(wrId);
  if (!wr || wr.status !== 'pending' || wr.priorityBase >= REQUESTED_RUN_PRIORITY) return;
  await deps.workRequests.commit({ update: [{ workRequest: bump(wr, { priorityBase: REQUESTED_RUN_PRIORITY }), expectedVersion: wr.version }] }).catch(ignoreConflict);
}

/** The run left (suspended, deleted): its work request, if still waiting, is aborted. */
async function withdrawRunRequest(deps: Deps, workRequestId: number | null, by: string): Promise<void> {
  if (workRequestId === null) return;
  const wr = await deps.workRequests.get(workRequestId);
  if (!wr || wr.status !== 'pending' || wr.worker !== null) return;
  const now = deps.clock.now().toISOString();
  await deps.workRequests.commit({ update: [{ workRequest: bump(wr, { status: 'aborted', completedAt: now, abortedBy: by }), expectedVersion: wr.version, finishes: true }] }).catch(ignoreConflict);
}

export async function recurringJobResults(deps: Deps, caller: Caller, id: number, limit: number, cursor?: string) {
  await loadRecurringJob(deps, caller, id, 'viewer');
  return recurringJobsOf(deps).results(id, limit, cursor);
}

export async function recurringJobEvents(deps: Deps, caller: Caller, id: number, limit: number, cursor?: string) {
  await loadRecurringJob(deps, caller, id, 'viewer');
  return recurringJobsOf(deps).events(id, limit, cursor);
}

