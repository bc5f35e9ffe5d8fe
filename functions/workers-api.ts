import { awsDeps, identity, audit, files, queues, workRequests, workers, workerChannels, sequences } from '../shared/adapters/aws-adapters';
import { httpHandler } from '../shared/http/handler';
import { workerRoutes } from '../shared/http/routes/workers';

const getDeps = awsDeps({ identity, audit, files, queues, workRequests, workers, workerChannels, sequences });

export const routes = workerRoutes(getDeps);
export const handler = httpHandler(getDeps, routes);
