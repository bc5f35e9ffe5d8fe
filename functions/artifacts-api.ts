import { awsDeps, awsRetentionGraph, identity, artifacts, audit, queues, workRequests, workers, collections, sequences, quotas, accountingQueue } from '../shared/adapters/aws-adapters';
import { files } from '../shared/adapters/aws-files';
import { httpHandler } from '../shared/http/handler';
import { artifactRoutes } from '../shared/http/routes/artifacts';
import { collectionRoutes } from '../shared/http/routes/collections';

const getDeps = awsDeps({ identity, artifacts, audit, files, queues, workRequests, workers, collections, sequences, quotas, accountingQueue });

// Collections and lookups share this function: the same tables, and no separate cold start.
export const routes = { ...artifactRoutes(getDeps, awsRetentionGraph), ...collectionRoutes(getDeps) };
export const handler = httpHandler(getDeps, routes);
