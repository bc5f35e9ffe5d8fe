/**
 * How a function that has both a queue and a timer (the scheduler, the accountant) tells them apart.
 * A module of its own so that such a function does not bundle another function's handler module.
 */
import type { SQSEvent } from 'aws-lambda';

/** What EventBridge Scheduler sends (`{scheduleId, scheduledTime}`), or the local stack's timer event. */
export type ScheduleInvocation = Record<string, unknown>;

export function isSqsEvent(event: unknown): event is SQSEvent {
  return typeof event === 'object' && event !== null && Array.isArray((event as { Records?: unknown }).Records);
}
