import { awsDeps, identity, queues, workRequests, workers, templates, collections, sequences, accounts, quotas, schema } from '../shared/adapters/aws-adapters';
import { httpHandler } from '../shared/http/handler';
import { workflowRoutes } from '../shared/http/routes/workflows';

const getDeps = awsDeps({ identity, queues, workRequests, workers, templates, collections, sequences, accounts, quotas, schema });

export const routes = workflowRoutes(getDeps);
export const handler = httpHandler(getDeps, routes);
