/**
 * The recurring-job tick (every minute): releases the runs that are due, read from the sparse date_due
 * index (never a scan of the jobs), as work requests for the ordinary scheduler; then finishes runs
 * whose work request finished without finishing them (a crash between the two writes). Also the consumer
 * of the `recurring-runs` queue: the moves of runs' requests that the work-requests API queued (it does
 * not bundle the recurring-job code), each applied from the request's present state.
 */
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { awsDeps, identity, queues, workRequests, workers, templates, collections, channels, sequences, accounts, quotas, schema, recurringJobs } from '../shared/adapters/aws-adapters';
import { notifier } from '../shared/adapters/aws-notifier';
import { releaseDueRuns } from '../shared/app/recurring-release';
import { parseRecurringRunMessage } from '../shared/adapters/sqs/recurring-run-queue';
import { applyRecurringRunMove, recurringRunsInProcess } from '../shared/app/recurring-runs';
import { reconcileRecurringRuns } from '../shared/app/recurring-reconcile';
import type { Deps } from '../shared/ports';
import { logger } from '../shared/observability/logger';
import { eachRecord } from '../shared/observability/sqs-batches';

const getDeps = awsDeps({ identity, queues, workRequests, workers, templates, collections, channels, notifier, sequences, accounts, quotas, schema, recurringJobs, recurringRunHooks: recurringRunsInProcess });

export function recurringReleaseHandler(getDeps: () => Deps, release: typeof releaseDueRuns = releaseDueRuns, reconcile: typeof reconcileRecurringRuns = reconcileRecurringRuns) {
  const onMoves = eachRecord({
    what: 'recurring-run',
    parse: parseRecurringRunMessage,
    keysOf: (message) => ({ work_request_id: message.workRequestId }),
    handle: async (message) => applyRecurringRunMove(getDeps(), message.workRequestId),
  });
  function handler(event: SQSEvent, context?: Context): Promise<SQSBatchResponse>;
  function handler(event: unknown, context?: Context): Promise<{ released: number[]; reconciled: number[] }>;
  async function handler(event: unknown, context?: Context): Promise<SQSBatchResponse | { released: number[]; reconciled: number[] }> {
    if (Array.isArray((event as Partial<SQSEvent> | undefined)?.Records)) return onMoves(event as SQSEvent, context);
    const released = await release(getDeps());
    if (released.length) logger.info('released recurring runs', { released });
    const reconciled = await reconcile(getDeps());
    if (reconciled.length) logger.info('finished recurring runs whose work request had finished', { jobs: reconciled });
    return { released, reconciled };
  }
  return handler;
}

export const handler = recurringReleaseHandler(getDeps);
