import { awsDeps, identity, audit, workRequests, workers } from '../shared/adapters/aws-adapters';
import { httpHandler } from '../shared/http/handler';
import { auditRoutes } from '../shared/http/routes/admin';

const getDeps = awsDeps({ identity, audit, workRequests, workers });

export const routes = auditRoutes(getDeps);
export const handler = httpHandler(getDeps, routes);
