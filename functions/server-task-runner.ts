/** Runs Server tasks (e.g. servernoop), one work request per message; replays find it no longer running. */
import { awsDeps, identity, artifacts, queues, workRequests, collections, channels, sequences, accountingQueue, schema, recurringJobs } from '../shared/adapters/aws-adapters';
import { recurringRunsInProcess } from '../shared/app/recurring-runs';
import { notifier } from '../shared/adapters/aws-notifier';
import { sockets } from '../shared/adapters/aws-sockets';
import { parseJobMessageOf } from '../shared/adapters/sqs/job-queues';
import { runServerTask } from '../shared/app/server-tasks';
import type { Deps } from '../shared/ports';
import { eachRecord, type SqsConsumer } from '../shared/observability/sqs-batches';

const getDeps = awsDeps({ identity, artifacts, queues, workRequests, collections, channels, notifier, sequences, accountingQueue, schema, recurringJobs, recurringRunHooks: recurringRunsInProcess, sockets });

export function serverTaskHandler(getDeps: () => Deps, run: typeof runServerTask = runServerTask): SqsConsumer {
  return eachRecord({
    what: 'server-task',
    parse: (body) => parseJobMessageOf(body, 'server-task').workRequestId,
    keysOf: (workRequestId) => ({ work_request_id: workRequestId }),
    handle: (workRequestId) => run(getDeps(), workRequestId),
  });
}

export const handler = serverTaskHandler(getDeps);
