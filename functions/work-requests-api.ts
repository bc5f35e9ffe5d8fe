import { awsDeps, identity, artifacts, queues, workRequests, workers, templates, collections, channels, sequences, quotas, accountingQueue, schema, machineEventLog } from '../shared/adapters/aws-adapters';
import { queuedRecurringRunHooks } from '../shared/adapters/aws-recurring-runs';
import { workerChannels } from '../shared/adapters/aws-worker-channels';
import { notifier } from '../shared/adapters/aws-notifier';
import { sockets } from '../shared/adapters/aws-sockets';
import { httpHandler } from '../shared/http/handler';
import { workRequestRoutes } from '../shared/http/routes/work-requests';

const getDeps = awsDeps({ identity, artifacts, queues, workRequests, workers, workerChannels, templates, collections, channels, notifier, sequences, quotas, accountingQueue, schema, machineEventLog, recurringRunHooks: queuedRecurringRunHooks, sockets });

export const routes = workRequestRoutes(getDeps);
export const handler = httpHandler(getDeps, routes);
