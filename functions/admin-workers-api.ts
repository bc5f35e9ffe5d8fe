import { awsDeps, identity, artifacts, audit, queues, workRequests, workers, collections, channels, sequences, accountingQueue, recurringJobs } from '../shared/adapters/aws-adapters';
import { recurringRunsInProcess } from '../shared/app/recurring-runs';
import { workerChannels } from '../shared/adapters/aws-worker-channels';
import { notifier } from '../shared/adapters/aws-notifier';
import { sockets } from '../shared/adapters/aws-sockets';
import { httpHandler } from '../shared/http/handler';
import { adminWorkerRoutes } from '../shared/http/routes/admin';

const getDeps = awsDeps({ identity, artifacts, audit, queues, workRequests, workers, workerChannels, collections, channels, notifier, sequences, accountingQueue, recurringJobs, recurringRunHooks: recurringRunsInProcess, sockets });

export const routes = adminWorkerRoutes(getDeps);
export const handler = httpHandler(getDeps, routes);
