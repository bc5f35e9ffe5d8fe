import { awsDeps, identity, files, workRequests, workers, sockets } from '../shared/adapters/aws-adapters';
import { httpHandler } from '../shared/http/handler';
import { identityRoutes } from '../shared/http/routes/identity';

const getDeps = awsDeps({ identity, files, workRequests, workers, sockets });

export const routes = identityRoutes(getDeps);
export const handler = httpHandler(getDeps, routes);
