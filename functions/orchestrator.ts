/**
 * Runs one workflow orchestration step per message, from the FIFO `orchestrator` queue (batch 1):
 * the root workflow is the message group, so a root's steps run one at a time and in order. A
 * failed step is reported as a batch item failure: SQS keeps the root's later steps back until it
 * is redelivered (after the visibility timeout), then moves it to the DLQ after 5 receives.
 * Malformed messages are logged and dropped (they would only block their group).
 */
import { processPartialResponse, SqsFifoPartialProcessorAsync } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { awsDeps, identity, artifacts, queues, workRequests, collections, channels, sequences, accountingQueue, schema, recurringJobs } from '../shared/adapters/aws-adapters';
import { recurringRunsInProcess } from '../shared/app/recurring-runs';
import { notifier } from '../shared/adapters/aws-notifier';
import { sockets } from '../shared/adapters/aws-sockets';
import { parseJobMessageOf } from '../shared/adapters/sqs/job-queues';
import { orchestrate } from '../shared/app/workflow-orchestration';
import type { Deps, OrchestrationMessage } from '../shared/ports';
import { errorKeys, logger, withLambdaContext } from '../shared/observability/logger';

const getDeps = awsDeps({ identity, artifacts, queues, workRequests, collections, channels, notifier, sequences, accountingQueue, schema, recurringJobs, recurringRunHooks: recurringRunsInProcess, sockets });

export function orchestratorHandler(getDeps: () => Deps, run: (deps: Deps, message: OrchestrationMessage) => Promise<void> = orchestrate) {
  const recordHandler = async (record: SQSRecord): Promise<void> => {
    let message: OrchestrationMessage;
    try {
      const { type: _type, ...parsed } = parseJobMessageOf(record.body, 'orchestration');
      message = parsed;
    } catch (err) {
      logger.error('dropping malformed orchestration message', { message_id: record.messageId, body: record.body.slice(0, 500), ...errorKeys(err) });
      return;
    }
    try {
      await run(getDeps(), message);
    } catch (err) {
      logger.error('orchestration step failed; it will be delivered again', { work_request_id: message.workRequestId, root_id: message.rootId, kind: message.kind, ...errorKeys(err) });
      throw err;
    }
  };
  // FIFO: once a message of a group failed, the later ones of that group in the batch must not run
  // before it; Powertools reports them as failed too (skipGroupOnError) and they come back after it.
  return withLambdaContext(async (event: SQSEvent, context?: Context): Promise<SQSBatchResponse> =>
    processPartialResponse(event, recordHandler, new SqsFifoPartialProcessorAsync(), { ...(context ? { context } : {}), skipGroupOnError: true, throwOnFullBatchFailure: false }),
  );
}

export const handler = orchestratorHandler(getDeps);
