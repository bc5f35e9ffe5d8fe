import { createAwsDeps } from '../shared/adapters/aws';
import { httpHandler } from '../shared/http/handler';
import { auditRoutes } from '../shared/http/routes/admin';
import type { Deps } from '../shared/ports';

let deps: Deps | undefined;
const getDeps = () => (deps ??= createAwsDeps());

export const routes = auditRoutes(getDeps);
export const handler = httpHandler(getDeps, routes);
