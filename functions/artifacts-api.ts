import { createAwsDeps } from '../shared/adapters/aws';
import { httpHandler } from '../shared/http/handler';
import { artifactRoutes } from '../shared/http/routes/artifacts';
import type { Deps } from '../shared/ports';

let deps: Deps | undefined;
const getDeps = () => (deps ??= createAwsDeps());

export const routes = artifactRoutes(getDeps);
export const handler = httpHandler(getDeps, routes);
