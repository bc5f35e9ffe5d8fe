/** Runs Server tasks (e.g. servernoop), one work request per message; replays find it no longer running. */
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { createAwsDeps } from '../shared/adapters/aws';
import { parseJobMessageOf } from '../shared/adapters/sqs/job-queues';
import { runServerTask } from '../shared/app/server-tasks';
import type { Deps } from '../shared/ports';

let deps: Deps | undefined;
const getDeps = () => (deps ??= createAwsDeps());

export function serverTaskHandler(getDeps: () => Deps, run: typeof runServerTask = runServerTask) {
  return async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
    for (const record of event.Records) {
      let workRequestId: number;
      try {
        workRequestId = parseJobMessageOf(record.body, 'server-task').workRequestId;
      } catch (err) {
        console.error('dropping malformed server-task message', record.messageId, (err as Error).message, record.body.slice(0, 500));
        continue;
      }
      try {
        await run(getDeps(), workRequestId);
      } catch (err) {
        console.error('server task failed; it will be delivered again', workRequestId, err);
        batchItemFailures.push({ itemIdentifier: record.messageId });
      }
    }
    return { batchItemFailures };
  };
}

export const handler = serverTaskHandler(getDeps);
