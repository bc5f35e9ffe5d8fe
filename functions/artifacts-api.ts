import { createAwsDeps } from '../shared/adapters/aws';
import { expiryStoreFor } from '../shared/adapters/expiry';
import { httpHandler } from '../shared/http/handler';
import { artifactRoutes } from '../shared/http/routes/artifacts';
import { collectionRoutes } from '../shared/http/routes/collections';
import type { Deps } from '../shared/ports';

let deps: Deps | undefined;
const getDeps = () => (deps ??= createAwsDeps());

// Collections and lookups share this function: the same tables, and no separate cold start.
export const routes = { ...artifactRoutes(getDeps, expiryStoreFor), ...collectionRoutes(getDeps) };
export const handler = httpHandler(getDeps, routes);
