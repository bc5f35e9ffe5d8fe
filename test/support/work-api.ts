/**
 * The work-request and worker APIs over HTTP (work-requests-api and workers-api) against memory
 * deps: requests are routed with the manifest's routes exactly as the local gateway routes them
 * (literal segments beat parameters), then handled by the real middy handlers.
 */
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { buildEvent, matchRoute, routesOf } from '../../cli/dev/gateway';
import type { MemoryDeps } from '../../shared/adapters/memory';
import { httpHandler } from '../../shared/http/handler';
import { workRequestRoutes } from '../../shared/http/routes/work-requests';
import { workerRoutes } from '../../shared/http/routes/workers';
import { FUNCTIONS } from '../../shared/manifest';

const ROUTES = routesOf(FUNCTIONS);

export interface ApiReply {
  status: number;
  headers: Record<string, string>;
  body: string;
  json: any;
}

export type WorkApiClient = (method: string, url: string, opts?: { token?: string; body?: unknown; headers?: Record<string, string> }) => Promise<ApiReply>;

export function workApiClient(deps: MemoryDeps): WorkApiClient {
  const handlers: Record<string, ReturnType<typeof httpHandler>> = {
    'work-requests-api': httpHandler(() => deps, workRequestRoutes(() => deps)),
    'workers-api': httpHandler(() => deps, workerRoutes(() => deps)),
  };
  return async (method, url, opts = {}) => {
    const path = url.split('?')[0]!;
    const match = matchRoute(ROUTES, method, path);
    if (!match) throw new Error(`no route for ${method} ${path}`);
    const handler = handlers[match.route.fn.name];
    if (!handler) throw new Error(`${method} ${path} is served by ${match.route.fn.name}, not by a function under test`);
    const headers: Record<string, string> = { host: 'conveyor.test', ...(opts.headers ?? {}) };
    if (opts.token) headers['token'] = opts.token;
    let body = Buffer.alloc(0);
    if (opts.body !== undefined) {
      body = Buffer.from(typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body));
      headers['content-type'] ??= 'application/json';
    }
    const event = buildEvent(
      { method, url, rawHeaders: Object.entries(headers).flat(), body, sourceIp: '127.0.0.1', httpVersion: '1.1', localHost: 'conveyor.test' },
      match,
    );
    const res = (await handler(event, {} as never)) as APIGatewayProxyStructuredResultV2;
    const text = typeof res.body === 'string' ? res.body : '';
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.statusCode!, headers: (res.headers ?? {}) as Record<string, string>, body: text, json };
  };
}
