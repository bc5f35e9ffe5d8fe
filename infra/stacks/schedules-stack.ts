import { Duration, Stack } from 'aws-cdk-lib';
import type { StackProps } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { ContextAttribute, Schedule, ScheduleExpression, ScheduleTargetInput } from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke } from 'aws-cdk-lib/aws-scheduler-targets';
import type { Construct } from 'constructs';
import { pascal } from '../manifest';
import type { ConveyorManifest } from '../manifest';

export interface SchedulesStackProps extends StackProps {
  manifest: ConveyorManifest;
  /** The deployed functions by manifest name (ApiStack.functions). */
  functions: Record<string, IFunction>;
}

/** True when some function in the manifest has a `schedule` (the app only creates this stack then). */
export function hasSchedules(manifest: ConveyorManifest): boolean {
  return manifest.functions.some((f) => f.schedule);
}

/**
 * EventBridge Scheduler schedules for the FUNCTIONS that declare a `schedule`. Each schedule
 * invokes its function with `{ scheduleId, scheduledTime }`. The invoke permission lives on
 * the scheduler role in this stack, so references only point from here to ApiStack.
 */
export class SchedulesStack extends Stack {
  readonly schedules: Record<string, Schedule> = {};

  constructor(scope: Construct, id: string, props: SchedulesStackProps) {
    super(scope, id, props);
    for (const spec of props.manifest.functions) {
      if (!spec.schedule) continue;
      const fn = props.functions[spec.name];
      if (!fn) throw new Error(`SchedulesStack: no function "${spec.name}" was passed in`);
      const { id: scheduleId, rateMinutes } = spec.schedule;
      if (!Number.isInteger(rateMinutes) || rateMinutes < 1) {
        throw new Error(`function ${spec.name}: schedule ${scheduleId} needs a whole rateMinutes ≥ 1`);
      }
      this.schedules[scheduleId] = new Schedule(this, `Schedule${pascal(scheduleId)}`, {
        description: `${spec.name}: ${scheduleId} every ${rateMinutes} min`,
        schedule: ScheduleExpression.rate(Duration.minutes(rateMinutes)),
        target: new LambdaInvoke(fn, {
          input: ScheduleTargetInput.fromObject({ scheduleId, scheduledTime: ContextAttribute.scheduledTime }),
          // A missed tick is superseded by the next one.
          maxEventAge: Duration.minutes(Math.min(rateMinutes, 24 * 60)),
          retryAttempts: 2,
        }),
      });
    }
  }
}
