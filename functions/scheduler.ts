/**
 * The scheduler: one bounded scheduling pass per batch of scheduler events (SQS), and one per
 * schedule tick (every minute: the fallback when an event was lost or a candidate marker is wrong,
 * and what completes Wait tasks whose delay has passed). Events carry no work of their own: any batch means "look again".
 */
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { awsDeps, identity, artifacts, queues, workRequests, workers, collections, channels, sequences, accountingQueue, schema, recurringJobs, machineEventLog } from '../shared/adapters/aws-adapters';
import { recurringRunsInProcess } from '../shared/app/recurring-runs';
import { workerChannels } from '../shared/adapters/aws-worker-channels';
import { notifier } from '../shared/adapters/aws-notifier';
import { sockets } from '../shared/adapters/aws-sockets';
import { parseJobMessageOf } from '../shared/adapters/sqs/job-queues';
import { EVENT_PASS, TICK_PASS, schedule } from '../shared/app/scheduler';
import type { Deps } from '../shared/ports';
import { logger } from '../shared/observability/logger';
import { wholeBatch } from '../shared/observability/sqs-batches';
import { isSqsEvent, type ScheduleInvocation } from './schedule-invocation';
export { isSqsEvent, type ScheduleInvocation } from './schedule-invocation';

const getDeps = awsDeps({ identity, artifacts, queues, workRequests, workers, workerChannels, collections, channels, notifier, sequences, accountingQueue, schema, recurringJobs, machineEventLog, recurringRunHooks: recurringRunsInProcess, sockets });

export function schedulerHandler(getDeps: () => Deps, run: typeof schedule = schedule) {
  // Events carry nothing but "look again": one pass for the whole batch.
  const onEvents = wholeBatch({
    what: 'scheduler',
    parse: (body) => parseJobMessageOf(body, 'scheduler-event'),
    // An event's pass trusts the candidate markers and leaves due waits to the tick.
    applyAll: async (events) => logSummary(`batch of ${events.length}`, await run(getDeps(), EVENT_PASS)),
  });
  return async (event: SQSEvent | ScheduleInvocation, context?: Context): Promise<SQSBatchResponse | void> => {
    if (isSqsEvent(event)) return onEvents(event, context);
    // A failed tick is retried by the schedule's retry policy, and superseded by the next one.
    // The tick reads every partition whatever its marker says (repairing the markers) and completes due waits.
    logSummary('tick', await run(getDeps(), TICK_PASS));
  };
}

function logSummary(trigger: string, summary: Awaited<ReturnType<typeof schedule>>): void {
  if (summary.assigned.length || summary.completed.length || summary.started.length) {
    logger.info('scheduling pass', { trigger, ...summary });
  }
}

export const handler = schedulerHandler(getDeps);
