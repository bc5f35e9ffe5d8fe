import { awsDeps, identity, artifacts, audit, files, queues, workRequests, workers, workerChannels, collections, channels, notifier, sequences, accountingQueue, recurringJobs, sockets } from '../shared/adapters/aws-adapters';
import { httpHandler } from '../shared/http/handler';
import { adminWorkerRoutes } from '../shared/http/routes/admin';

const getDeps = awsDeps({ identity, artifacts, audit, files, queues, workRequests, workers, workerChannels, collections, channels, notifier, sequences, accountingQueue, recurringJobs, sockets });

export const routes = adminWorkerRoutes(getDeps);
export const handler = httpHandler(getDeps, routes);
