import { awsDeps, identity, audit, queues, workRequests, workers, sequences } from '../shared/adapters/aws-adapters';
import { workerChannels } from '../shared/adapters/aws-worker-channels';
import { httpHandler } from '../shared/http/handler';
import { workerRoutes } from '../shared/http/routes/workers';

const getDeps = awsDeps({ identity, audit, queues, workRequests, workers, workerChannels, sequences });

export const routes = workerRoutes(getDeps);
export const handler = httpHandler(getDeps, routes);
