import { awsDeps, identity, artifacts, audit, workRequests, workers, accounts } from '../shared/adapters/aws-adapters';
import { files } from '../shared/adapters/aws-files';
import { httpHandler } from '../shared/http/handler';
import { accountsRoutes } from '../shared/http/routes/accounts';

const getDeps = awsDeps({ identity, artifacts, audit, files, workRequests, workers, accounts });

export const routes = accountsRoutes(getDeps);
export const handler = httpHandler(getDeps, routes);
