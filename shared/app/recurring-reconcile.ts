/**
 * Reconciles recurring runs with their work requests. A run finishes in a hook that follows the
 * committed finish of its work request (lifecycle.ts `followUpFinish`); if the process dies between
 * the two writes, the request is completed and the run stays released (RUNNING) for ever, holding the
 * job's one run. This pass, part of the every-minute recurring tick, reads the runs that have been out
 * for a while from their sparse index (never the waiting jobs), and finishes those whose request has
 * finished with that request's outcome; the finish hook is idempotent (a run already finished is not
 * found again), so a racing hook and this pass cannot record two results.
 */
import { reclaimJob, startJob, type RecurringJob } from '../domain/recurring-jobs';
import { isFinished } from '../domain/work-requests';
import type { Deps } from '../ports';
import { commitChange, ignoreConflict, recurringJobsOf, recurringRunFinished } from './recurring-runs';

/**
 * A run released this long ago is checked. The finish hook runs right after the request's finish,
 * so a younger run is almost always fine; older ones that are still running cost one read each.
 */
export const RECURRING_RECONCILE_AFTER_MS = 5 * 60_000;

/** Runs checked per pass; the rest wait for the next tick. */
export const RECURRING_RECONCILE_BATCH = 100;

/** Finishes released runs whose work request finished (or vanished); returns their job ids. */
export async function reconcileRecurringRuns(deps: Deps, opts: { quietAfterMs?: number; limit?: number } = {}): Promise<number[]> {
  const now = deps.clock.now();
  const before = new Date(now.getTime() - (opts.quietAfterMs ?? RECURRING_RECONCILE_AFTER_MS)).toISOString();
  const reconciled: number[] = [];
  for (const job of await recurringJobsOf(deps).releasedRuns(before, opts.limit ?? RECURRING_RECONCILE_BATCH)) {
    const wr = await deps.workRequests.get(job.run!.workRequestId!);
    // Still running: its worker's heartbeats (or the watchdog's reclaim) carry it.
    if (wr && !isFinished(wr)) continue;
    try {
      if (wr) await recurringRunFinished(deps, wr);
      else await reclaimLostRun(deps, job);
      reconciled.push(job.id);
    } catch (err) {
      ignoreConflict(err); // a racing hook or pass moved the job: it is no longer this run's to finish
    }
  }
  return reconciled;
}

/** The run's work request is gone (nothing should delete a running one): Launchpad's reclaim, a new run due now. */
async function reclaimLostRun(deps: Deps, job: RecurringJob): Promise<void> {
  const fresh = await recurringJobsOf(deps).get(job.id);
  if (!fresh?.run || fresh.run.id !== job.run!.id || fresh.run.workRequestId !== job.run!.workRequestId) return;
  const now = deps.clock.now();
  let current = fresh;
  if (current.run!.state === 'PENDING') current = await commitChange(deps, current, startJob(current, { name: 'server', state: 'ONLINE' }, now, current.run!.workRequestId!));
  await commitChange(deps, current, reclaimJob(current, now));
}
