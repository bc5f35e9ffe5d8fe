/**
 * The local stand-in for API Gateway (HTTP API, payload format 2.0): routes requests by the route
 * keys of shared/manifest.ts, turns them into APIGatewayProxyEventV2 events for the same handlers
 * that run in Lambda, and writes their results back.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { FunctionSpec } from '../../shared/manifest';
import { LOCAL_ACCOUNT_ID, consoleLog, formatError, lambdaContext, type LoadHandler, type Log } from './handlers';
import { LOOPBACK, settlesWithin } from './emulators';
import { staticFile, type HttpResponse } from './static-site';
import { readBodyUpTo } from './read-body';

/** API Gateway's request payload limit. */
export const MAX_REQUEST_BODY_BYTES = 10 * 1024 * 1024;
/** Lambda's synchronous invocation payload limit: bigger events or results fail in the cloud. */
const LAMBDA_PAYLOAD_LIMIT_BYTES = 6 * 1024 * 1024;
/** A client sending far more than the limit is cut off instead of drained. */
const MAX_DRAINED_BYTES = 64 * 1024 * 1024;
/** API Gateway's integration timeout (HTTP APIs: 30 s): it answers 503 and stops waiting. */
export const INTEGRATION_TIMEOUT_MS = 30_000;

// ---------------------------------------------------------------- routing

type RouteSegment = { kind: 'literal'; value: string } | { kind: 'param'; name: string } | { kind: 'greedy'; name: string };

export interface Route {
  routeKey: string;
  /** Upper-case method, or `ANY`; `$default` routes have method `ANY` and `isDefault`. */
  method: string;
  segments: RouteSegment[];
  isDefault: boolean;
  fn: FunctionSpec;
}

export interface RouteMatch {
  route: Route;
  pathParameters: Record<string, string>;
}

export function parseRouteKey(routeKey: string, fn: FunctionSpec): Route {
  if (routeKey === '$default') return { routeKey, method: 'ANY', segments: [], isDefault: true, fn };
  const match = /^([A-Z]+) (\/.*)$/.exec(routeKey);
  if (!match?.[1] || match[2] === undefined) throw new Error(`invalid route key "${routeKey}" (function ${fn.name})`);
  const rawSegments = match[2].split('/').slice(1);
  const segments = rawSegments.map((segment, index): RouteSegment => {
    const variable = /^\{([A-Za-z0-9_.-]+)(\+?)\}$/.exec(segment);
    if (!variable?.[1]) return { kind: 'literal', value: segment };
    if (variable[2] === '+') {
      if (index !== rawSegments.length - 1) throw new Error(`greedy variable must end the route: "${routeKey}"`);
      return { kind: 'greedy', name: variable[1] };
    }
    return { kind: 'param', name: variable[1] };
  });
  return { routeKey, method: match[1], segments, isDefault: false, fn };
}

export function routesOf(functions: FunctionSpec[]): Route[] {
  const routes = functions.flatMap((fn) => (fn.routes ?? []).map((key) => parseRouteKey(key, fn)));
  const seen = new Set<string>();
  for (const route of routes) {
    if (seen.has(route.routeKey)) throw new Error(`route "${route.routeKey}" is declared twice`);
    seen.add(route.routeKey);
  }
  return routes;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment; // malformed %-escape: compare it as written, like a literal
  }
}

/** A trailing slash is an empty last segment; API Gateway matches with or without it. */
function withoutTrailingSlash<T>(segments: T[], isEmpty: (segment: T) => boolean): T[] {
  return segments.length > 1 && isEmpty(segments[segments.length - 1]!) ? segments.slice(0, -1) : segments;
}

/**
 * Matches a path (still percent-encoded, so that an encoded `/` stays inside its segment) against
 * one route. As in the cloud (where route paths are deployed without Debusine's trailing slash),
 * `/x` and `/x/` both match the route `/x/`; a greedy `{path+}` keeps the slash in its value.
 */
function matchPath(route: Route, rawPath: string): Record<string, string> | undefined {
  const greedy = route.segments.some((s) => s.kind === 'greedy');
  const rawSegments = rawPath.split('/').slice(1);
  const requestSegments = greedy ? rawSegments : withoutTrailingSlash(rawSegments, (s) => s === '');
  const routeSegments = greedy ? route.segments : withoutTrailingSlash(route.segments, (s) => s.kind === 'literal' && s.value === '');
  const pathParameters: Record<string, string> = {};
  for (let i = 0; i < routeSegments.length; i++) {
    const segment = routeSegments[i];
    if (segment === undefined) return undefined;
    if (segment.kind === 'greedy') {
      const rest = requestSegments.slice(i).join('/');
      if (rest === '') return undefined; // `{name+}` matches at least one character
      pathParameters[segment.name] = decodeSegment(rest);
      return pathParameters;
    }
    const requestSegment = requestSegments[i];
    if (requestSegment === undefined) return undefined;
    if (segment.kind === 'literal') {
      if (decodeSegment(requestSegment) !== segment.value) return undefined;
    } else {
      if (requestSegment === '') return undefined;
      pathParameters[segment.name] = decodeSegment(requestSegment);
    }
  }
  return requestSegments.length === routeSegments.length ? pathParameters : undefined;
}

const SEGMENT_RANK = { literal: 0, param: 1, greedy: 2 } as const;

/**
 * API Gateway's "most specific match": segment by segment, a literal beats `{param}`, which beats
 * `{greedy+}`; on equal paths an explicit method beats `ANY`; `$default` only when nothing matched.
 * Negative when `a` is more specific.
 */
function compareSpecificity(a: Route, b: Route): number {
  if (a.isDefault !== b.isDefault) return a.isDefault ? 1 : -1;
  const length = Math.min(a.segments.length, b.segments.length);
  for (let i = 0; i < length; i++) {
    const rankA = SEGMENT_RANK[a.segments[i]!.kind];
    const rankB = SEGMENT_RANK[b.segments[i]!.kind];
    if (rankA !== rankB) return rankA - rankB;
  }
  if (a.segments.length !== b.segments.length) return b.segments.length - a.segments.length;
  return (a.method === 'ANY' ? 1 : 0) - (b.method === 'ANY' ? 1 : 0);
}

export function matchRoute(routes: Route[], method: string, rawPath: string): RouteMatch | undefined {
  let best: RouteMatch | undefined;
  for (const route of routes) {
    if (route.method !== 'ANY' && route.method !== method.toUpperCase()) continue;
    const pathParameters = route.isDefault ? {} : matchPath(route, rawPath);
    if (pathParameters === undefined) continue;
    if (best === undefined || compareSpecificity(route, best.route) < 0) best = { route, pathParameters };
  }
  return best;
}

// ---------------------------------------------------------------- events

export interface IncomingRequest {
  method: string;
  /** Path and query as received, e.g. `/api/1.0/artifact/?x=1`. */
  url: string;
  /** `IncomingMessage.rawHeaders`: names and values alternating, duplicates kept. */
  rawHeaders: string[];
  body: Buffer;
  sourceIp: string;
  httpVersion: string;
  /** `host:port` the server listens on, for requests without a Host header. */
  localHost: string;
}

const TEXT_CONTENT_TYPE = /^(text\/|application\/([\w.+-]*\+)?(json|xml|javascript|x-www-form-urlencoded|problem\+json)\b)/i;

/** API Gateway passes text bodies as they are and everything else base64-encoded. */
export function isTextContentType(contentType: string | undefined): boolean {
  return contentType !== undefined && TEXT_CONTENT_TYPE.test(contentType.trim());
}

export function buildEvent(request: IncomingRequest, match: RouteMatch, now: Date = new Date()): APIGatewayProxyEventV2 {
  const questionMark = request.url.indexOf('?');
  const rawPath = questionMark === -1 ? request.url : request.url.slice(0, questionMark);
  const rawQueryString = questionMark === -1 ? '' : request.url.slice(questionMark + 1);

  // Payload 2.0: lower-case names, repeated headers joined with commas, cookies moved to `cookies`.
  const headers: Record<string, string> = {};
  let cookies: string[] = [];
  for (let i = 0; i + 1 < request.rawHeaders.length; i += 2) {
    const name = request.rawHeaders[i]!.toLowerCase();
    const value = request.rawHeaders[i + 1]!;
    if (name === 'cookie') {
      cookies = cookies.concat(value.split(';').map((c) => c.trim()).filter((c) => c !== ''));
      continue;
    }
    headers[name] = headers[name] === undefined ? value : `${headers[name]},${value}`;
  }
  const sourceIp = request.sourceIp.replace(/^::ffff:/, '');
  headers['x-forwarded-for'] ??= sourceIp;
  headers['x-forwarded-proto'] ??= 'http';
  headers['x-forwarded-port'] ??= request.localHost.split(':').pop() ?? '80';
  const domainName = headers.host ?? request.localHost;

  const queryStringParameters: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(rawQueryString)) {
    queryStringParameters[name] = queryStringParameters[name] === undefined ? value : `${queryStringParameters[name]},${value}`;
  }

  const routeKey = match.route.routeKey;
  const method = request.method.toUpperCase();
  const event: APIGatewayProxyEventV2 = {
    version: '2.0',
    routeKey,
    rawPath,
    rawQueryString,
    headers,
    requestContext: {
      accountId: LOCAL_ACCOUNT_ID,
      apiId: 'local',
      domainName,
      domainPrefix: domainName.split('.')[0] ?? domainName,
      http: {
        method,
        path: rawPath,
        protocol: `HTTP/${request.httpVersion}`,
        sourceIp,
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey,
      stage: '$default',
      time: apiGatewayTime(now),
      timeEpoch: now.getTime(),
    },
    isBase64Encoded: false,
  };
  if (cookies.length > 0) event.cookies = cookies;
  if (Object.keys(queryStringParameters).length > 0) event.queryStringParameters = queryStringParameters;
  if (Object.keys(match.pathParameters).length > 0) event.pathParameters = match.pathParameters;
  if (request.body.length > 0) {
    const text = isTextContentType(headers['content-type']);
    event.body = request.body.toString(text ? 'utf8' : 'base64');
    event.isBase64Encoded = !text;
  }
  return event;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `12/Mar/2020:19:03:58 +0000`, API Gateway's `requestContext.time` format. */
function apiGatewayTime(date: Date): string {
  const pad = (n: number): string => String(n).padStart(2, '0');
  return (
    `${pad(date.getUTCDate())}/${MONTHS[date.getUTCMonth()]}/${date.getUTCFullYear()}:` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} +0000`
  );
}

// ---------------------------------------------------------------- results


/**
 * Payload 2.0 results: a structured result is used as is; anything else (a string, an object
 * without `statusCode`) is, as in API Gateway, a 200 JSON response whose body is that value.
 */
export function toHttpResponse(result: unknown): HttpResponse {
  if (!isStructuredResult(result)) {
    const body = typeof result === 'string' ? result : JSON.stringify(result ?? null);
    return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: Buffer.from(body, 'utf8') };
  }
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(result.headers ?? {})) headers[name.toLowerCase()] = String(value);
  if (result.cookies && result.cookies.length > 0) headers['set-cookie'] = result.cookies;
  const body = Buffer.from(result.body ?? '', result.isBase64Encoded ? 'base64' : 'utf8');
  return { statusCode: result.statusCode ?? 200, headers, body };
}

function isStructuredResult(result: unknown): result is APIGatewayProxyStructuredResultV2 {
  return typeof result === 'object' && result !== null && 'statusCode' in result;
}

export function problem(status: number, title: string): HttpResponse {
  return {
    statusCode: status,
    headers: { 'content-type': 'application/problem+json' },
    body: Buffer.from(JSON.stringify({ type: 'about:blank', title, status })),
  };
}

// ---------------------------------------------------------------- server

export interface GatewayOptions {
  functions: FunctionSpec[];
  loadHandler: LoadHandler;
  /** 0 picks a free port. */
  port: number;
  host?: string;
  log?: Log;
  /** Log one line per request. */
  accessLog?: boolean;
  integrationTimeoutMs?: number;
  /** Serves the web UI's files from this folder for GETs no route matches (as CloudFront does from S3). */
  staticDir?: string;
  /** Answers a request itself before routing (the WebSocket management API); false passes it on. */
  intercept?: (req: IncomingMessage, res: ServerResponse, body: Buffer) => boolean;
  /** CloudFront's behaviours in front of the API (Debusine's ranged uploads): an answer, or undefined to route. */
  edge?: (req: IncomingMessage, method: string, url: string) => Promise<HttpResponse | undefined>;
}

export interface Gateway {
  url: string;
  port: number;
  server: Server;
  /** Stops accepting, lets in-flight requests finish (up to `graceMs`), then drops the rest. */
  close(graceMs?: number): Promise<void>;
}

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const routes = routesOf(options.functions);
  const log = options.log ?? consoleLog;
  const host = options.host ?? LOOPBACK;
  const integrationTimeoutMs = options.integrationTimeoutMs ?? INTEGRATION_TIMEOUT_MS;
  const inFlight = new Set<Promise<void>>();

  const server = createServer((req, res) => {
    const handled = handleRequest(req, res).catch((err: unknown) => {
      // Only a bug in the gateway itself lands here; answer if we still can.
      log('error', `gateway failure on ${req.method} ${req.url}`, err);
      if (!res.headersSent) writeResponse(res, problem(500, 'Internal Server Error'));
      else res.destroy();
    });
    inFlight.add(handled);
    void handled.finally(() => inFlight.delete(handled));
  });

  async function handleRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = Date.now();
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    if (options.intercept && url.startsWith('/@connections/')) {
      const body = await readBody(req);
      if (body !== 'too-large' && options.intercept(req, res, body)) return;
    }
    const response = (await options.edge?.(req, method, url)) ?? (await respond(req, method, url));
    writeResponse(res, response);
    if (options.accessLog) log('info', `${method} ${url} → ${response.statusCode} (${Date.now() - started} ms)`);
  }

  async function respond(req: IncomingMessage, method: string, url: string): Promise<HttpResponse> {
    const body = await readBody(req);
    if (body === 'too-large') return problem(413, 'Content Too Large');
    const rawPath = url.split('?')[0] ?? '/';
    const match = matchRoute(routes, method, rawPath);
    if (match === undefined) {
      const file = options.staticDir === undefined ? undefined : await staticFile(options.staticDir, method, rawPath);
      return file ?? problem(404, 'Not Found');
    }
    const address = server.address() as AddressInfo;
    const event = buildEvent(
      {
        method,
        url,
        rawHeaders: req.rawHeaders,
        body,
        sourceIp: req.socket.remoteAddress ?? LOOPBACK,
        httpVersion: req.httpVersion,
        localHost: `${host}:${address.port}`,
      },
      match,
    );
    const fn = match.route.fn;
    if (Buffer.byteLength(JSON.stringify(event)) > LAMBDA_PAYLOAD_LIMIT_BYTES) {
      log('warn', `${method} ${rawPath}: the event exceeds Lambda's 6 MB payload limit and would fail in the cloud`);
    }
    try {
      const handler = await options.loadHandler(fn);
      // `then` also turns a synchronous throw into a rejection.
      const invocation = Promise.resolve().then(() => handler(event, lambdaContext(fn, event.requestContext.requestId)));
      const outcome = await withTimeout(invocation, Math.min(integrationTimeoutMs, fn.timeoutSeconds * 1000));
      if (outcome.timedOut) {
        log('error', `${fn.name} did not answer ${match.route.routeKey} within ${integrationTimeoutMs} ms`);
        return problem(503, 'Service Unavailable');
      }
      const response = toHttpResponse(outcome.value);
      if (response.body.length > LAMBDA_PAYLOAD_LIMIT_BYTES) {
        log('warn', `${fn.name}: the response exceeds Lambda's 6 MB payload limit and would fail in the cloud`);
      }
      return response;
    } catch (err) {
      log('error', `${fn.name} failed on ${match.route.routeKey}: ${formatError(err)}`);
      return problem(500, 'Internal Server Error');
    }
  }

  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolveListen();
    });
  });
  const { port } = server.address() as AddressInfo;

  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    port,
    server,
    close(graceMs = 5_000) {
      closing ??= (async () => {
        const closed = new Promise<void>((resolveClose) => server.close(() => resolveClose()));
        server.closeIdleConnections();
        await settlesWithin(Promise.allSettled([...inFlight]), graceMs);
        server.closeAllConnections();
        await closed;
      })();
      return closing;
    },
  };
}

/**
 * Reads the body, keeping at most MAX_REQUEST_BODY_BYTES. A bigger body is drained (so that the
 * client, still sending, gets to read the 413) unless it is absurdly big.
 */
function readBody(req: IncomingMessage): Promise<Buffer | 'too-large'> {
  return readBodyUpTo(req, MAX_REQUEST_BODY_BYTES, MAX_DRAINED_BYTES);
}

function writeResponse(res: ServerResponse, response: HttpResponse): void {
  if (res.destroyed) return;
  res.writeHead(response.statusCode, { ...response.headers, 'content-length': String(response.body.length) });
  res.end(response.body);
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<{ timedOut: false; value: T } | { timedOut: true }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<{ timedOut: true }>((resolveTimeout) => {
    timer = setTimeout(() => resolveTimeout({ timedOut: true }), ms);
  });
  try {
    return await Promise.race([promise.then((value) => ({ timedOut: false as const, value })), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
