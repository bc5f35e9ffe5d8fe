/**
 * Debusine's WebSocket endpoints behind API Gateway's WebSocket API (and the local gateway):
 * `$connect` checks the path and stores the connection (with its rejection when the token is not
 * good: Debusine accepts, then refuses), then queues the greeting; `$disconnect` forgets it.
 * The path the client asked for arrives in the `conveyor_path` query parameter: CloudFront's
 * function moves it there, as WebSocket APIs answer on their stage URL only.
 */
import type { APIGatewayProxyResultV2 } from 'aws-lambda';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { awsDeps, identity, workRequests, workers } from '../shared/adapters/aws-adapters';
import { sockets } from '../shared/adapters/aws-sockets';
import { sqsClient } from '../shared/adapters/aws-clients';
import { readAwsConfig } from '../shared/adapters/aws-config';
import { closeSocket, hasSockets, openSocket } from '../shared/app/sockets';
import { QUEUES } from '../shared/manifest';
import { PATH_QUERY_PARAMETER } from '../shared/formats/debusine-websocket-edge';
import { normaliseHeaders } from '../shared/http/request';
import type { Deps } from '../shared/ports';

/** The fields of API Gateway's WebSocket event this handler reads. */
export interface WebSocketEvent {
  requestContext: { routeKey: string; eventType?: string; connectionId: string };
  headers?: Record<string, string | undefined>;
  queryStringParameters?: Record<string, string | undefined> | null;
}

export function websocketHandler(getDeps: () => Deps, queueGreeting: (connectionId: string) => Promise<void>) {
  return async (event: WebSocketEvent): Promise<APIGatewayProxyResultV2> => {
    const deps = getDeps();
    if (!hasSockets(deps)) throw new Error('the WebSocket function needs the connections table');
    const { routeKey, connectionId } = event.requestContext;
    if (routeKey === '$connect') {
      const query = Object.fromEntries(Object.entries(event.queryStringParameters ?? {}).filter((e): e is [string, string] => e[1] !== undefined));
      const path = query[PATH_QUERY_PARAMETER] ?? '/';
      delete query[PATH_QUERY_PARAMETER];
      const accepted = await openSocket(deps, { connectionId, path, query, headers: normaliseHeaders(event.headers) });
      if (!accepted) return { statusCode: 404, body: 'no WebSocket endpoint here' };
      await queueGreeting(connectionId);
      return { statusCode: 200 };
    }
    if (routeKey === '$disconnect') {
      await closeSocket(deps, connectionId);
      return { statusCode: 200 };
    }
    // Debusine's clients send nothing but pings (answered by the gateway itself).
    return { statusCode: 200 };
  };
}

let sqs: SQSClient | undefined;

async function sendGreeting(connectionId: string): Promise<void> {
  const queueUrl = process.env[QUEUES['socket-greetings'].envVar];
  if (!queueUrl) throw new Error(`${QUEUES['socket-greetings'].envVar} is not set`);
  await (sqs ??= sqsClient({ config: readAwsConfig(), clients: {}, env: process.env })).send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify({ connectionId }) }));
}

export const handler = websocketHandler(awsDeps({ identity, workRequests, workers, sockets }), sendGreeting);
