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

/** The requests started at or after `from` and acknowledged by `until`, grouped into sequential steps (overlapping requests share one). */
export function sequentialSteps(calls: readonly Call[], from: number, until: number): string[][] {
  const inWindow = calls.filter((c) => c.start >= from && c.end > 0 && c.end <= until).sort((a, b) => a.start - b.start);
  const steps: { commands: string[]; end: number }[] = [];
  for (const call of inWindow) {
    const last = steps.at(-1);
    if (last && call.start < last.end) {
      last.commands.push(call.command);
      last.end = Math.max(last.end, call.end);
    } else steps.push({ commands: [call.command], end: call.end });
  }
  return steps.map((s) => s.commands);
}

/** `GetItem → BatchGetItem ‖ GetItem → PutItem`: ‖ joins requests sent in parallel. */
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
