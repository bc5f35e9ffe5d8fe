import { createAwsDeps } from '../shared/adapters/aws';
import { httpHandler } from '../shared/http/handler';
import { accountsRoutes } from '../shared/http/routes/accounts';
import type { Deps } from '../shared/ports';

let deps: Deps | undefined;
const getDeps = () => (deps ??= createAwsDeps());

export const routes = accountsRoutes(getDeps);
export const handler = httpHandler(getDeps, routes);
