import { createAwsDeps } from '../shared/adapters/aws';
import { httpHandler } from '../shared/http/handler';
import { recurringJobRoutes } from '../shared/http/routes/recurring-jobs';
import type { Deps } from '../shared/ports';

let deps: Deps | undefined;
const getDeps = () => (deps ??= createAwsDeps());

export const routes = recurringJobRoutes(getDeps);
export const handler = httpHandler(getDeps, routes);
