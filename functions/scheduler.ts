/**
 * The scheduler: one bounded scheduling pass per batch of scheduler events (SQS), and one per
 * schedule tick (every minute: the fallback when an event was lost, and what completes Wait tasks
 * whose delay has passed). Events carry no work of their own: any batch means "look again".
 */
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { createAwsDeps } from '../shared/adapters/aws';
import { parseJobMessageOf } from '../shared/adapters/sqs/job-queues';
import { schedule } from '../shared/app/scheduler';
import type { Deps } from '../shared/ports';

let deps: Deps | undefined;
const getDeps = () => (deps ??= createAwsDeps());

/** What EventBridge Scheduler sends (`{scheduleId, scheduledTime}`), or the local stack's timer event. */
export type ScheduleInvocation = Record<string, unknown>;

export function isSqsEvent(event: unknown): event is SQSEvent {
  return typeof event === 'object' && event !== null && Array.isArray((event as { Records?: unknown }).Records);
}

export function schedulerHandler(getDeps: () => Deps, run: typeof schedule = schedule) {
  return async (event: SQSEvent | ScheduleInvocation): Promise<SQSBatchResponse | void> => {
    if (!isSqsEvent(event)) {
      // A failed tick is retried by the schedule's retry policy, and superseded by the next one.
      const summary = await run(getDeps());
      logSummary('tick', summary);
      return;
    }
    const valid: string[] = [];
    for (const record of event.Records) {
      try {
        parseJobMessageOf(record.body, 'scheduler-event');
        valid.push(record.messageId);
      } catch (err) {
        // It can never become valid: drop it (deleted with the batch) rather than retry it 5 times.
        console.error('dropping malformed scheduler message', record.messageId, (err as Error).message, record.body.slice(0, 500));
      }
    }
    if (valid.length === 0) return { batchItemFailures: [] };
    try {
      logSummary(`batch of ${valid.length}`, await run(getDeps()));
      return { batchItemFailures: [] };
    } catch (err) {
      console.error('scheduling pass failed; the events will be delivered again', err);
      return { batchItemFailures: valid.map((itemIdentifier) => ({ itemIdentifier })) };
    }
  };
}

function logSummary(trigger: string, summary: Awaited<ReturnType<typeof schedule>>): void {
  if (summary.assigned.length || summary.completed.length || summary.started.length) {
    console.log(JSON.stringify({ msg: 'scheduling pass', trigger, ...summary }));
  }
}

export const handler = schedulerHandler(getDeps);
