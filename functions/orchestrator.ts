/**
 * Runs one workflow orchestration step per message, from the FIFO `orchestrator` queue (batch 1):
 * the root workflow is the message group, so a root's steps run one at a time and in order. A
 * failed step is reported as a batch item failure: SQS keeps the root's later steps back until it
 * is redelivered (after the visibility timeout), then moves it to the DLQ after 5 receives.
 * Malformed messages are logged and dropped (they would only block their group).
 */
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { createAwsDeps } from '../shared/adapters/aws';
import { parseJobMessageOf } from '../shared/adapters/sqs/job-queues';
import { orchestrate } from '../shared/app/workflow-orchestration';
import type { Deps, OrchestrationMessage } from '../shared/ports';

let deps: Deps | undefined;
const getDeps = () => (deps ??= createAwsDeps());

export function orchestratorHandler(getDeps: () => Deps, run: (deps: Deps, message: OrchestrationMessage) => Promise<void> = orchestrate) {
  return async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
    const failedGroups = new Set<string>();
    for (const record of event.Records) {
      // FIFO: once a message of a group failed, the later ones of that group in the batch must not
      // run before it; they are reported as failed too and come back after it.
      const group = record.attributes.MessageGroupId;
      if (group !== undefined && failedGroups.has(group)) {
        batchItemFailures.push({ itemIdentifier: record.messageId });
        continue;
      }
      let message: OrchestrationMessage;
      try {
        const { type: _type, ...parsed } = parseJobMessageOf(record.body, 'orchestration');
        message = parsed;
      } catch (err) {
        console.error('dropping malformed orchestration message', record.messageId, (err as Error).message, record.body.slice(0, 500));
        continue;
      }
      try {
        await run(getDeps(), message);
      } catch (err) {
        console.error('orchestration step failed; it will be delivered again', message, err);
        batchItemFailures.push({ itemIdentifier: record.messageId });
        if (group !== undefined) failedGroups.add(group);
      }
    }
    return { batchItemFailures };
  };
}

export const handler = orchestratorHandler(getDeps);
