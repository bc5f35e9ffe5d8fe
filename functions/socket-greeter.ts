/** Greets the WebSockets opened by `$connect` (see functions/websocket-api.ts), one message per socket. */
import * as z from 'zod';
import { awsDeps, identity, artifacts, queues, workRequests, workers, collections, channels, sequences, accountingQueue, schema, recurringJobs, machineEventLog } from '../shared/adapters/aws-adapters';
import { recurringRunsInProcess } from '../shared/app/recurring-runs';
import { workerChannels } from '../shared/adapters/aws-worker-channels';
import { notifier } from '../shared/adapters/aws-notifier';
import { sockets } from '../shared/adapters/aws-sockets';
import { greetSocket, hasSockets } from '../shared/app/sockets';
import type { Deps } from '../shared/ports';
import { eachRecord, type SqsConsumer } from '../shared/observability/sqs-batches';


const greetingSchema = z.object({ connectionId: z.string().min(1) });

export function socketGreeterHandler(getDeps: () => Deps, greet: typeof greetSocket = greetSocket): SqsConsumer {
  const socketDeps = () => {
    const current = getDeps();
    if (!hasSockets(current)) throw new Error('the socket greeter needs the connections table');
    return current;
  };
  const consume = eachRecord({
    what: 'socket greeting',
    parse: (body) => greetingSchema.parse(JSON.parse(body)).connectionId,
    handle: (connectionId) => greet(socketDeps(), connectionId),
  });
  return async (event, context) => {
    socketDeps(); // misconfigured: fail the invocation rather than report every message as failed
    return consume(event, context);
  };
}

export const handler = socketGreeterHandler(awsDeps({ identity, artifacts, queues, workRequests, workers, workerChannels, collections, channels, notifier, sequences, accountingQueue, schema, recurringJobs, machineEventLog, recurringRunHooks: recurringRunsInProcess, sockets }));
