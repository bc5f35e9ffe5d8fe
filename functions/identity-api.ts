import { awsDeps, identity, workRequests, workers } from '../shared/adapters/aws-adapters';
import { sockets } from '../shared/adapters/aws-sockets';
import { httpHandler } from '../shared/http/handler';
import { identityRoutes } from '../shared/http/routes/identity';

const getDeps = awsDeps({ identity, workRequests, workers, sockets });

export const routes = identityRoutes(getDeps);
export const handler = httpHandler(getDeps, routes);
