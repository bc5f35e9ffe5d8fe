/**
 * The release tick of recurring jobs: due runs, read from the due index (never the jobs that are not
 * due), most urgent first (user-requested, then oldest due), each released by its kind: a git-import
 * run as a `git-import` work request (recurring-runs.ts), a workflow run as a new run of its workflow
 * template with the job's fixed parameters. This module may import the workflow use cases; lifecycle
 * (which calls the run hooks) imports only recurring-runs.ts.
 */
import { ConflictError, DomainError } from '../domain/errors';
import { compareDueRuns, type RecurringJob } from '../domain/recurring-jobs';
import { bump, isFinished, type WorkRequest } from '../domain/work-requests';
import type { Deps } from '../ports';
import { isCreatorDisabled } from './user-status';
import { finish } from './lifecycle';
import { callerForCreator } from './acting-as';
import { failRunAtRelease, ignoreConflict, isReleasable, recurringJobsOf, recurringRunData, recurringRunFinished, releaseRun } from './recurring-runs';
import { startWorkflow } from './workflow-runs';

/** Due runs released per tick; the rest wait for the next tick (every minute). */
export const RELEASE_BATCH = 100;

/**
 * REANA's model: a recurring job whose owner is disabled keeps its run due and is not released
 * (it runs again once the owner is enabled). `disabledOwners` caches the answer for one tick.
 */
export async function recurringJobOwnerMayRun(deps: Deps, job: RecurringJob, disabledOwners: Map<string, boolean> = new Map()): Promise<boolean> {
  return !(await isCreatorDisabled(deps, job.owner, disabledOwners));
}

export async function releaseDueRuns(deps: Deps, opts: { limit?: number } = {}): Promise<number[]> {
  const now = deps.clock.now().toISOString();
  const due = await recurringJobsOf(deps).dueRuns(now, opts.limit ?? RELEASE_BATCH);
  due.sort((a, b) => compareDueRuns(a.run!, b.run!) || a.id - b.id);
  const released: number[] = [];
  const disabledOwners = new Map<string, boolean>();
  for (const job of due) {
    if (!(await recurringJobOwnerMayRun(deps, job, disabledOwners))) continue;
    const wrId = await releaseAnyRun(deps, job).catch(ignoreConflict);
    if (typeof wrId === 'number') released.push(wrId);
  }
  return released;
}

/** Releases a due run of any kind; returns the work request that carries it. */
export async function releaseAnyRun(deps: Deps, job: RecurringJob): Promise<number | undefined> {
  return job.kind === 'workflow' ? releaseWorkflowRun(deps, job) : releaseRun(deps, job);
}

/**
 * Starts the template's workflow as the job's owner (or the requester) with the job's parameters, then
 * ties the run to the root work request. A racing tick that loses the job write aborts the workflow it
 * started. The root is marked with the run (workflow_data), so its completion finishes the run with the
 * workflow's result; a root that already finished is finished here.
 */
async function releaseWorkflowRun(deps: Deps, job: RecurringJob): Promise<number | undefined> {
  if (!isReleasable(job, deps.clock.now())) return undefined;
  let root: WorkRequest;
  try {
    const caller = await callerForCreator(deps, job.run!.requestingUser ?? job.owner);
    root = await startWorkflow(deps, caller, {
      scope: job.scope,
      workspace: job.workspace,
      templateName: String(job.target['template']),
      taskData: (job.target['parameters'] as Record<string, unknown>) ?? {},
    });
  } catch (err) {
    if (!(err instanceof DomainError) || err instanceof ConflictError) throw err;
    // Launchpad's FAILURE_INVALID: the import's data cannot be used (template gone, parameters refused, no right).
    await failRunAtRelease(deps, job, 'FAILURE_INVALID', `${err.title}: ${err.detail ?? ''}`);
    return undefined;
  }
  const now = deps.clock.now().toISOString();
  const released = { ...job, run: { ...job.run!, workRequestId: root.id, releasedAt: now }, version: job.version + 1 };
  try {
    await recurringJobsOf(deps).commit({ job: released, expectedVersion: job.version });
  } catch (err) {
    if (err instanceof ConflictError) await finish(deps, root, { status: 'aborted', error: { code: 'superseded', message: 'another tick released this run' } }).catch(ignoreConflict);
    throw err;
  }
  for (let attempt = 0; attempt < 5; attempt++) {
    const fresh = (await deps.workRequests.get(root.id))!;
    const marked = bump(fresh, { workflowData: { ...fresh.workflowData, ...recurringRunData(released) } });
    try {
      await deps.workRequests.commit({ update: [{ workRequest: marked, expectedVersion: fresh.version }] });
    } catch (err) {
      if (err instanceof ConflictError) continue; // the orchestrator moved it: mark the newer version
      throw err;
    }
    if (isFinished(marked)) await recurringRunFinished(deps, marked);
    return root.id;
  }
  return root.id;
}
