import { createAwsDeps } from '../shared/adapters/aws';
import { httpHandler } from '../shared/http/handler';
import { workerRoutes } from '../shared/http/routes/workers';
import type { Deps } from '../shared/ports';

let deps: Deps | undefined;
const getDeps = () => (deps ??= createAwsDeps());

export const routes = workerRoutes(getDeps);
export const handler = httpHandler(getDeps, routes);
