import { awsDeps, identity, artifacts, files, queues, workRequests, workers, workerChannels, templates, collections, channels, notifier, sequences, accounts, accountingQueue, schema, recurringJobs, sockets } from '../shared/adapters/aws-adapters';
import { httpHandler } from '../shared/http/handler';
import { workRequestRoutes } from '../shared/http/routes/work-requests';

const getDeps = awsDeps({ identity, artifacts, files, queues, workRequests, workers, workerChannels, templates, collections, channels, notifier, sequences, accounts, accountingQueue, schema, recurringJobs, sockets });

export const routes = workRequestRoutes(getDeps);
export const handler = httpHandler(getDeps, routes);
