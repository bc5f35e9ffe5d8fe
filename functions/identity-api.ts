import { createAwsDeps } from '../shared/adapters/aws';
import { httpHandler } from '../shared/http/handler';
import { identityRoutes } from '../shared/http/routes/identity';
import type { Deps } from '../shared/ports';

let deps: Deps | undefined;
const getDeps = () => (deps ??= createAwsDeps());

export const routes = identityRoutes(getDeps);
export const handler = httpHandler(getDeps, routes);
