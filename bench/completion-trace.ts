/**
 * The AWS requests between the start of `completeWorkRequest` and the acknowledgement of the
 * dependent's blocked → pending write (section 8.2), from an SDK middleware on uncounted clients.
 * Requests that overlap in time were sent in parallel: they form one step of the sequence, so the
 * number of steps is the number of sequential round trips (exact, whatever the machine's load;
 * the times are not).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { createAwsDeps } from '../shared/adapters/aws';
import type { Deps } from '../shared/ports';
import { timed, type Call } from './dispatch-trace';

/** Deps on the bench's environment whose DynamoDB and SQS requests are appended to `calls`. */
export function tracedDeps(env: Record<string, string>, calls: Call[]): Deps {
  const region = env['AWS_REGION'] ?? 'us-east-1';
  const credentials = { accessKeyId: env['AWS_ACCESS_KEY_ID'] ?? 'local', secretAccessKey: env['AWS_SECRET_ACCESS_KEY'] ?? 'local' };
  const dynamoClient = timed(new DynamoDBClient({ region, credentials, endpoint: env['AWS_ENDPOINT_URL_DYNAMODB'] }), calls);
  const sqs = timed(new SQSClient({ region, credentials, endpoint: env['AWS_ENDPOINT_URL_SQS'] }), calls);
  return createAwsDeps({ ...env }, { dynamoClient, sqs });
}

/** A request with its start and end times (bench/dispatch-trace.ts records them). */
export interface TimedCall {
  command: string;
  start: number;
  end: number;
}

/**
 * The sequential round trips that led to the last request acknowledged by `until` (among those
 * started at or after `from`): the longest chain of requests each sent after the one before it
 * was answered, ending with that request. Each step lists the request on the path first, then the
 * others that were under way at the same time (sent in parallel: they did not delay it).
 */
export function sequentialSteps(calls: readonly TimedCall[], from: number, until: number): string[][] {
  const inWindow = calls.filter((c) => c.start >= from && c.end > 0 && c.end <= until).sort((a, b) => a.end - b.end);
  const target = inWindow.at(-1);
  if (!target) return [];
  const depth = new Map<TimedCall, { steps: number; previous?: TimedCall }>();
  for (const call of [...inWindow].sort((a, b) => a.start - b.start)) {
    let best: { steps: number; previous?: TimedCall } = { steps: 1 };
    for (const before of inWindow) {
      const d = before.end <= call.start ? depth.get(before) : undefined;
      // Of equally long chains, the one whose last request was answered latest before this one was sent.
      if (d && (d.steps + 1 > best.steps || (d.steps + 1 === best.steps && before.end > (best.previous?.end ?? -Infinity)))) {
        best = { steps: d.steps + 1, previous: before };
      }
    }
    depth.set(call, best);
  }
  const path: TimedCall[] = [];
  for (let at: TimedCall | undefined = target; at; at = depth.get(at)?.previous) path.unshift(at);
  return path.map((call) => [
    call.command,
    ...inWindow.filter((other) => !path.includes(other) && other.start < call.end && other.end > call.start).map((other) => other.command),
  ]);
}

/** `GetItem → BatchGetItem ‖ GetItem → PutItem`: ‖ joins requests under way at the same time. */
export function renderSteps(steps: string[][]): string {
  return steps.map((s) => s.join(' ‖ ')).join(' → ');
}

/** The most frequent sequence among the samples, with how many samples had it. */
export function commonSequence(sequences: string[][][]): { steps: string[][]; samples: number } | undefined {
  const byText = new Map<string, { steps: string[][]; samples: number }>();
  for (const steps of sequences) {
    const key = renderSteps(steps);
    const entry = byText.get(key) ?? { steps, samples: 0 };
    entry.samples += 1;
    byText.set(key, entry);
  }
  return [...byText.values()].sort((a, b) => b.samples - a.samples)[0];
}
