/**
 * Quota accounting: batches of usage events from the accounting queue (each distinct source synced
 * once per batch; replays change nothing), and the periodic recompute that corrects drift.
 */
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { awsDeps, identity, artifacts, audit, queues, workRequests, workers, collections, channels, sequences, accounts, accountingQueue, schema, recurringJobs, machineEventLog } from '../shared/adapters/aws-adapters';
import { recurringRunsInProcess } from '../shared/app/recurring-runs';
import { files } from '../shared/adapters/aws-files';
import { workerChannels } from '../shared/adapters/aws-worker-channels';
import { notifier } from '../shared/adapters/aws-notifier';
import { sockets } from '../shared/adapters/aws-sockets';
import { parseAccountingMessage } from '../shared/adapters/sqs/accounting-queue';
import { applyAccountingEvents } from '../shared/app/accounting';
import { recomputeUsageInBulk as recomputeUsage } from '../shared/app/bulk-recompute';
import { quotaSettingsOf } from '../shared/app/quotas';
import type { AccountingEvent, Deps } from '../shared/ports';
import { logger } from '../shared/observability/logger';
import { wholeBatch } from '../shared/observability/sqs-batches';
import { isSqsEvent, type ScheduleInvocation } from './schedule-invocation';

const getDeps = awsDeps({ identity, artifacts, audit, files, queues, workRequests, workers, workerChannels, collections, channels, notifier, sequences, accounts, accountingQueue, schema, recurringJobs, machineEventLog, recurringRunHooks: recurringRunsInProcess, sockets });

export function accountantHandler(getDeps: () => Deps) {
  // The whole batch at once: a source named by several messages is synced once. When that fails,
  // message by message, so that only the ones that fail come back.
  const onEvents = wholeBatch<AccountingEvent[]>({
    what: 'accounting',
    parse: parseAccountingMessage,
    applyAll: async (messages) => void (await applyAccountingEvents(getDeps(), messages.flat())),
    applyOne: async (events) => void (await applyAccountingEvents(getDeps(), events)),
  });
  return async (event: SQSEvent | ScheduleInvocation, context?: Context): Promise<SQSBatchResponse | void> => {
    if (isSqsEvent(event)) return onEvents(event, context);
    // REANA_PERIODIC_RESOURCE_QUOTA_UPDATE_POLICY: the recompute runs only when enabled.
    if (!quotaSettingsOf(getDeps()).periodic) return;
    const summary = await recomputeUsage(getDeps(), { actor: 'system:quota-recompute' });
    logger.info('quota recompute', { sources: summary.sources, corrected: summary.corrected.length });
  };
}

export const handler = accountantHandler(getDeps);
