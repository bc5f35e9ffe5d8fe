/**
 * The release tick of recurring jobs: due runs, read from the due index (never the jobs that are not
 * due), most urgent first (user-requested, then oldest due), each released by its kind: a git-import
 * run as a `git-import` work request (recurring-runs.ts), a workflow run as a new run of its workflow
 * template with the job's fixed parameters. This module may import the workflow use cases; lifecycle
 * (which calls the run hooks) imports only recurring-runs.ts.
 */
import { ConflictError, DomainError } from '../domain/errors';
import { compareDueRuns, effectiveUpdateInterval, type RecurringJob } from '../domain/recurring-jobs';
import { isFinished } from '../domain/work-requests';
import type { Deps } from '../ports';
import { isCreatorDisabled } from './user-status';
import { callerForCreator } from './acting-as';
import { failRunAtRelease, ignoreConflict, isReleasable, recurringJobsOf, recurringRunData, recurringRunFinished, releaseRun, withReservedWorkRequestId } from './recurring-runs';
import { startWorkflow } from './workflow-runs';

/** Due runs released per tick; the rest wait for the next tick (every minute). */
export const RELEASE_BATCH = 100;

/**
 * Why the run may not be released now, or null: a run acts for the user who requested it, else the
 * job's owner, and neither may be disabled (REANA: a disabled user's work does not start). The owner
 * is checked even for a requested run: a disabled owner's jobs do not run at all. `disabledOwners`
 * caches the answers for one tick.
 */
export async function recurringRunHeldReason(deps: Deps, job: RecurringJob, disabledOwners: Map<string, boolean> = new Map()): Promise<string | null> {
  for (const user of [job.owner, job.run?.requestingUser]) {
    if (user && (await isCreatorDisabled(deps, user, disabledOwners))) return `${user} is disabled`;
  }
  return null;
}

/**
 * Skips a due run whose owner or requester is disabled: it is put off by one update interval (so that
 * held runs never fill the tick's batch ahead of the others), with the reason recorded on the run, and
 * no result (a skip is not a failure: the failure count and its backoff are left alone). Once the user
 * is enabled again, the run is released when it next comes due. Conditional on the job's version.
 */
async function skipHeldRun(deps: Deps, job: RecurringJob, reason: string): Promise<void> {
  const now = deps.clock.now();
  const dateDue = new Date(now.getTime() + effectiveUpdateInterval(job) * 1000).toISOString();
  const skipped: RecurringJob = { ...job, run: { ...job.run!, dateDue, skipped: { at: now.toISOString(), reason } }, version: job.version + 1 };
  await recurringJobsOf(deps).commit({ job: skipped, expectedVersion: job.version }).catch(ignoreConflict);
}

export async function releaseDueRuns(deps: Deps, opts: { limit?: number } = {}): Promise<number[]> {
  const now = deps.clock.now().toISOString();
  const due = await recurringJobsOf(deps).dueRuns(now, opts.limit ?? RELEASE_BATCH);
  due.sort((a, b) => compareDueRuns(a.run!, b.run!) || a.id - b.id);
  const released: number[] = [];
  const disabledOwners = new Map<string, boolean>();
  for (const job of due) {
    const heldReason = await recurringRunHeldReason(deps, job, disabledOwners);
    if (heldReason !== null) {
      await skipHeldRun(deps, job, heldReason);
      continue;
    }
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
 * Starts the template's workflow as the job's owner (or the requester) with the job's parameters, in
 * steps that each survive a crash or a racing tick, like a git-import release: reserve the root's
 * work-request id on the run (conditional on the job's version), start the workflow with that id and
 * the run's `workflow_data` (a second start with the same id is refused, so a retried tick never starts
 * a duplicate), then mark the run released. A run found with a reserved id carries on from the second
 * step. A root that already finished (nothing ran yet, in practice) finishes the run here.
 */
async function releaseWorkflowRun(deps: Deps, job: RecurringJob): Promise<number | undefined> {
  if (!isReleasable(job, deps.clock.now())) return undefined;
  const current = await withReservedWorkRequestId(deps, job);
  const rootId = current.run!.workRequestId!;
  if (!(await deps.workRequests.get(rootId))) {
    try {
      const caller = await callerForCreator(deps, current.run!.requestingUser ?? current.owner);
      await startWorkflow(deps, caller, {
        scope: current.scope,
        workspace: current.workspace,
        templateName: String(current.target['template']),
        taskData: (current.target['parameters'] as Record<string, unknown>) ?? {},
        id: rootId,
        workflowData: recurringRunData(current),
      });
    } catch (err) {
      if (err instanceof ConflictError) {
        // A racing tick started it with the reserved id: carry on with that root.
        if (!(await deps.workRequests.get(rootId))) throw err;
      } else if (err instanceof DomainError) {
        // Launchpad's FAILURE_INVALID: the import's data cannot be used (template gone, parameters refused, no right).
        await failRunAtRelease(deps, current, 'FAILURE_INVALID', `${err.title}: ${err.detail ?? ''}`);
        return undefined;
      } else throw err;
    }
  }
  const released = { ...current, run: { ...current.run!, releasedAt: deps.clock.now().toISOString() }, version: current.version + 1 };
  await recurringJobsOf(deps).commit({ job: released, expectedVersion: current.version });
  const root = await deps.workRequests.get(rootId);
  if (root && isFinished(root)) await recurringRunFinished(deps, root);
  return rootId;
}
