/**
 * Debusine's WebSocket channel (the connections table and API Gateway's management API): a module of
 * its own so that only the functions wired with `sockets` require that SDK package at cold start.
 */
import type { AwsAdapter } from './aws-adapters';
import { documentClient } from './aws-clients';
import { DynamoSocketConnections } from './sockets/dynamo-connections';
import { ManagementApiPusher } from './sockets/management-api-pusher';

export const sockets: AwsAdapter<'sockets'> = (ctx) =>
  ctx.config.connectionsTable
    ? { connections: new DynamoSocketConnections(documentClient(ctx), ctx.config.connectionsTable), pusher: new ManagementApiPusher(undefined, ctx.config.region) }
    : undefined;
