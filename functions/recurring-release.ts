/**
 * The recurring-job tick (every minute): releases the runs that are due, read from the sparse date_due
 * index (never a scan of the jobs), as work requests for the ordinary scheduler.
 */
import { createAwsDeps } from '../shared/adapters/aws';
import { releaseDueRuns } from '../shared/app/recurring-release';
import type { Deps } from '../shared/ports';
import { logger } from '../shared/observability/logger';

let deps: Deps | undefined;
const getDeps = () => (deps ??= createAwsDeps());

export function recurringReleaseHandler(getDeps: () => Deps, release: typeof releaseDueRuns = releaseDueRuns) {
  return async (_event: unknown): Promise<{ released: number[] }> => {
    const released = await release(getDeps());
    if (released.length) logger.info('released recurring runs', { released });
    return { released };
  };
}

export const handler = recurringReleaseHandler(getDeps);
