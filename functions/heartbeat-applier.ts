/**
 * Applies the heartbeats the API accepted, in batches (up to 100 per invocation). Each write is
 * conditional (still running on that worker, newer than the stored one), so replays change nothing.
 */
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { createAwsDeps } from '../shared/adapters/aws';
import { parseJobMessageOf } from '../shared/adapters/sqs/job-queues';
import { applyHeartbeats } from '../shared/app/heartbeats';
import type { Deps, HeartbeatMessage } from '../shared/ports';

let deps: Deps | undefined;
const getDeps = () => (deps ??= createAwsDeps());

export function heartbeatHandler(getDeps: () => Deps, apply: typeof applyHeartbeats = applyHeartbeats) {
  return async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const messages: HeartbeatMessage[] = [];
    const ids: string[] = [];
    for (const record of event.Records) {
      try {
        const { type: _type, ...heartbeat } = parseJobMessageOf(record.body, 'heartbeat');
        messages.push(heartbeat);
        ids.push(record.messageId);
      } catch (err) {
        // A malformed heartbeat can never apply: log and drop it instead of retrying it into the DLQ.
        console.error('dropping malformed heartbeat message', record.messageId, (err as Error).message, record.body.slice(0, 500));
      }
    }
    if (messages.length === 0) return { batchItemFailures: [] };
    try {
      const { applied, ignored } = await apply(getDeps(), messages);
      console.log(JSON.stringify({ msg: 'heartbeats', received: event.Records.length, applied, ignored }));
      return { batchItemFailures: [] };
    } catch (err) {
      console.error('applying heartbeats failed; they will be delivered again', err);
      return { batchItemFailures: ids.map((itemIdentifier) => ({ itemIdentifier })) };
    }
  };
}

export const handler = heartbeatHandler(getDeps);
