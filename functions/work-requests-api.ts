import { createAwsDeps } from '../shared/adapters/aws';
import { httpHandler } from '../shared/http/handler';
import { workRequestRoutes } from '../shared/http/routes/work-requests';
import type { Deps } from '../shared/ports';

let deps: Deps | undefined;
const getDeps = () => (deps ??= createAwsDeps());

export const routes = workRequestRoutes(getDeps);
export const handler = httpHandler(getDeps, routes);
