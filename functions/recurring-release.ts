/**
 * The recurring-job tick (every minute): releases the runs that are due, read from the sparse date_due
 * index (never a scan of the jobs), as work requests for the ordinary scheduler; then finishes runs
 * whose work request finished without finishing them (a crash between the two writes).
 */
import { awsDeps, identity, queues, workRequests, workers, templates, collections, channels, sequences, accounts, quotas, schema, recurringJobs } from '../shared/adapters/aws-adapters';
import { notifier } from '../shared/adapters/aws-notifier';
import { releaseDueRuns } from '../shared/app/recurring-release';
import { reconcileRecurringRuns } from '../shared/app/recurring-reconcile';
import type { Deps } from '../shared/ports';
import { logger } from '../shared/observability/logger';

const getDeps = awsDeps({ identity, queues, workRequests, workers, templates, collections, channels, notifier, sequences, accounts, quotas, schema, recurringJobs });

export function recurringReleaseHandler(getDeps: () => Deps, release: typeof releaseDueRuns = releaseDueRuns, reconcile: typeof reconcileRecurringRuns = reconcileRecurringRuns) {
  return async (_event: unknown): Promise<{ released: number[]; reconciled: number[] }> => {
    const released = await release(getDeps());
    if (released.length) logger.info('released recurring runs', { released });
    const reconciled = await reconcile(getDeps());
    if (reconciled.length) logger.info('finished recurring runs whose work request had finished', { jobs: reconciled });
    return { released, reconciled };
  };
}

export const handler = recurringReleaseHandler(getDeps);
