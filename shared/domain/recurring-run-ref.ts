/**
 * Which recurring run a work request carries: one item of its `workflow_data`. Kept apart from the
 * recurring-job rules (recurring-jobs.ts) so that the work-request paths can tell a run's request
 * from any other at the cost of a field read, without bundling what following the run takes.
 */
import type { WorkRequest } from './work-requests';

/** The work request's data item naming the job and run it carries. */
export const RECURRING_RUN_KEY = 'recurring_job';

/** The job and run a work request carries, if it carries one. */
export function recurringRunOf(wr: Pick<WorkRequest, 'workflowData'>): { job: number; run: number } | undefined {
  const value = wr.workflowData?.[RECURRING_RUN_KEY] as { job?: unknown; run?: unknown } | undefined;
  if (!value || typeof value.job !== 'number' || typeof value.run !== 'number') return undefined;
  return { job: value.job, run: value.run };
}
