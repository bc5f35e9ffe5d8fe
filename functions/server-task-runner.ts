/** Runs Server tasks (e.g. servernoop), one work request per message; replays find it no longer running. */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { createAwsDeps } from '../shared/adapters/aws';
import { parseJobMessageOf } from '../shared/adapters/sqs/job-queues';
import { runServerTask } from '../shared/app/server-tasks';
import type { Deps } from '../shared/ports';
import { errorKeys, logger, withLambdaContext } from '../shared/observability/logger';

let deps: Deps | undefined;
const getDeps = () => (deps ??= createAwsDeps());

export function serverTaskHandler(getDeps: () => Deps, run: typeof runServerTask = runServerTask) {
  const recordHandler = async (record: SQSRecord): Promise<void> => {
    let workRequestId: number;
    try {
      workRequestId = parseJobMessageOf(record.body, 'server-task').workRequestId;
    } catch (err) {
      logger.error('dropping malformed server-task message', { message_id: record.messageId, body: record.body.slice(0, 500), ...errorKeys(err) });
      return;
    }
    try {
      await run(getDeps(), workRequestId);
    } catch (err) {
      logger.error('server task failed; it will be delivered again', { work_request_id: workRequestId, ...errorKeys(err) });
      throw err;
    }
  };
  return withLambdaContext(async (event: SQSEvent, context?: Context): Promise<SQSBatchResponse> =>
    processPartialResponse(event, recordHandler, new BatchProcessor(EventType.SQS), { ...(context ? { context } : {}), throwOnFullBatchFailure: false }),
  );
}

export const handler = serverTaskHandler(getDeps);
