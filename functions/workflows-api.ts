import { createAwsDeps } from '../shared/adapters/aws';
import { httpHandler } from '../shared/http/handler';
import { workflowRoutes } from '../shared/http/routes/workflows';
import type { Deps } from '../shared/ports';

let deps: Deps | undefined;
const getDeps = () => (deps ??= createAwsDeps());

export const routes = workflowRoutes(getDeps);
export const handler = httpHandler(getDeps, routes);
