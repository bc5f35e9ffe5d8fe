/**
 * The local stand-in for API Gateway's WebSocket API, on the HTTP gateway's port: upgrades of
 * `/api/ws/…` become `$connect` events for the function with `websocketRoutes` (the path goes in
 * the `conveyor_path` query parameter, as CloudFront's function puts it in the cloud), closes
 * become `$disconnect`, and the management API (`POST|GET|DELETE /@connections/<id>`) that
 * functions post through (PostToConnection) is answered here.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { FunctionSpec } from '../../shared/manifest';
import { PATH_QUERY_PARAMETER, WEBSOCKET_PATH_PREFIX } from '../../shared/formats/debusine-websocket-edge';
import { lambdaContext, formatError, type LoadHandler, type Log } from './handlers';

const MANAGEMENT_PREFIX = '/@connections/';

export interface LocalWebSockets {
  /** Answers management API requests; false for any other request (the HTTP gateway's). */
  handleManagementRequest(req: IncomingMessage, res: ServerResponse, body: Buffer): boolean;
  close(): void;
  /** Open sockets, by connection id (tests). */
  readonly sockets: ReadonlyMap<string, WebSocket>;
}

export function attachWebSockets(server: Server, options: { functions: FunctionSpec[]; loadHandler: LoadHandler; log: Log }): LocalWebSockets {
  const fn = options.functions.find((f) => f.websocketRoutes?.length);
  const sockets = new Map<string, WebSocket>();
  const connectedAt = new Map<string, string>();
  const wss = new WebSocketServer({ noServer: true });

  const invoke = async (routeKey: string, connectionId: string, extra: Record<string, unknown> = {}) => {
    const handler = await options.loadHandler(fn!);
    const event = { requestContext: { routeKey, eventType: routeKey === '$connect' ? 'CONNECT' : 'DISCONNECT', connectionId, requestId: connectionId }, ...extra };
    return (await handler(event, lambdaContext(fn!, connectionId))) as { statusCode?: number } | undefined;
  };

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://local');
      if (!fn || !url.pathname.startsWith(WEBSOCKET_PATH_PREFIX)) return refuse(socket, 404);
      const connectionId = randomBytes(12).toString('base64url');
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
      const query = Object.fromEntries(url.searchParams);
      const result = await invoke('$connect', connectionId, { headers, queryStringParameters: { ...query, [PATH_QUERY_PARAMETER]: url.pathname } });
      const status = result?.statusCode ?? 200;
      if (status !== 200) return refuse(socket, status);
      wss.handleUpgrade(req, socket, head, (ws) => {
        sockets.set(connectionId, ws);
        connectedAt.set(connectionId, new Date().toISOString());
        ws.on('close', () => {
          sockets.delete(connectionId);
          connectedAt.delete(connectionId);
          invoke('$disconnect', connectionId).catch((err: unknown) => options.log('error', `$disconnect of ${connectionId} failed: ${formatError(err)}`));
        });
        ws.on('error', () => ws.terminate());
      });
    })().catch((err: unknown) => {
      options.log('error', `WebSocket $connect failed: ${formatError(err)}`);
      refuse(socket, 500);
    });
  });

  return {
    sockets,
    handleManagementRequest(req, res, body) {
      const path = (req.url ?? '').split('?')[0] ?? '';
      if (!path.startsWith(MANAGEMENT_PREFIX)) return false;
      const connectionId = decodeURIComponent(path.slice(MANAGEMENT_PREFIX.length));
      const ws = sockets.get(connectionId);
      if (!ws || ws.readyState !== ws.OPEN) {
        res.writeHead(410, { 'content-type': 'application/json', 'x-amzn-errortype': 'GoneException' });
        res.end(JSON.stringify({ message: `connection ${connectionId} is gone` }));
        return true;
      }
      if (req.method === 'POST') {
        ws.send(body.toString('utf8'));
        res.writeHead(200).end();
      } else if (req.method === 'DELETE') {
        ws.close(1000);
        res.writeHead(204).end();
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ConnectedAt: connectedAt.get(connectionId), LastActiveAt: new Date().toISOString(), Identity: { SourceIp: '127.0.0.1' } }));
      }
      return true;
    },
    close() {
      for (const ws of sockets.values()) ws.terminate();
      wss.close();
    },
  };
}

function refuse(socket: Duplex, status: number): void {
  if (socket.destroyed) return;
  socket.end(`HTTP/1.1 ${status} ${status === 404 ? 'Not Found' : status === 403 ? 'Forbidden' : 'Error'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}
