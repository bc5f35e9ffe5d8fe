import { createHash } from 'node:crypto';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { createMemoryDeps, type MemoryDeps } from '../../shared/adapters/memory';
import { recurringRunsInProcess } from '../../shared/app/recurring-runs';
import { createToken, createUser, createWorkspace, grantRole } from '../../shared/app/admin';
import { authenticate, type Caller } from '../../shared/app/auth';
import { initDatabase } from '../../shared/app/bootstrap';
import { httpHandler } from '../../shared/http/handler';
import { expiryStoreFor } from '../../shared/adapters/expiry';
import { artifactRoutes } from '../../shared/http/routes/artifacts';
import { identityRoutes } from '../../shared/http/routes/identity';
import type { Role } from '../../shared/domain/roles';
import type { Deps } from '../../shared/ports';
import type { RouteHandler } from '../../shared/http/request';

export const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

export interface World {
  deps: MemoryDeps;
  keys: Record<string, string>;
  caller(name: string): Promise<Caller>;
}

/**
 * A memory-backed Conveyor with users `admin`, `viewer`, `uploader`, `uploader2`,
 * `contributor`, `owner` and `outsider`, a private workspace `priv` and a public `pub`,
 * where each named user holds the role of its name.
 */
export async function createWorld(): Promise<World> {
  const deps = createMemoryDeps();
  // The recurring-run hooks live with the use cases (memory adapters do not import them): runs follow at once.
  deps.recurringRunHooks = recurringRunsInProcess();
  await initDatabase(deps);
  const keys = await seedUsers(deps);
  return {
    deps,
    keys,
    caller: (name) => (name === 'anonymous' ? authenticate(deps, undefined) : authenticate(deps, keys[name])),
  };
}

/** Seeds the users, tokens, workspaces and roles described above into any backend. */
export async function seedUsers(deps: Deps): Promise<Record<string, string>> {
  const keys: Record<string, string> = {};
  const { key: adminKey } = await createToken(deps, 'test', { username: 'admin', enabled: true });
  keys['admin'] = adminKey;
  await createWorkspace(deps, 'test', { name: 'priv' });
  await createWorkspace(deps, 'test', { name: 'pub', public: true });
  const roleUsers: [string, Role | undefined][] = [
    ['viewer', 'viewer'],
    ['uploader', 'uploader'],
    ['uploader2', 'uploader'],
    ['contributor', 'contributor'],
    ['owner', 'owner'],
    ['outsider', undefined],
  ];
  for (const [name, role] of roleUsers) {
    await createUser(deps, 'test', { username: name });
    keys[name] = (await createToken(deps, 'test', { username: name, enabled: true })).key;
    if (role) {
      for (const ws of ['priv', 'pub']) await grantRole(deps, 'test', { workspace: ws, username: name, role });
    }
  }
  const { key: disabledKey } = await createToken(deps, 'test', { username: 'viewer', enabled: false });
  keys['disabled'] = disabledKey;
  return keys;
}

const routePatterns = (routes: Record<string, unknown>) =>
  Object.keys(routes).map((routeKey) => {
    const [method, path] = routeKey.split(' ') as [string, string];
    const names: string[] = [];
    const regex = new RegExp(
      '^' +
        path.replace(/[.]/g, '\\.').replace(/\{(\w+)(\+?)\}/g, (_m, name: string, greedy: string) => {
          names.push(name);
          return greedy ? '(.+)' : '([^/]+)';
        }) +
        '$',
    );
    return { routeKey, method, regex, names };
  });

/** Calls the real HTTP handlers in-process with API Gateway v2 events, like the gateway does. */
export function httpClient(deps: MemoryDeps, extraRoutes: Record<string, RouteHandler> = {}) {
  const routes = { ...artifactRoutes(() => deps, expiryStoreFor), ...identityRoutes(() => deps), ...extraRoutes };
  const handler = httpHandler(() => deps, routes);
  const patterns = routePatterns(routes);
  return async (
    method: string,
    url: string,
    opts: { token?: string; body?: unknown; rawBody?: Buffer; headers?: Record<string, string> } = {},
  ) => {
    const [path, query = ''] = url.split('?') as [string, string?];
    const candidates = patterns.filter((p) => p.method === method && p.regex.test(path!));
    // Literal segments beat parameters, as in API Gateway.
    candidates.sort((a, b) => b.routeKey.replace(/\{[^}]+\}/g, '').length - a.routeKey.replace(/\{[^}]+\}/g, '').length);
    const match = candidates[0];
    if (!match) throw new Error(`no route for ${method} ${path}`);
    const m = match.regex.exec(path!)!;
    const pathParameters = Object.fromEntries(match.names.map((n, i) => [n, decodeURIComponent(m[i + 1]!)]));
    const headers: Record<string, string> = { host: 'conveyor.test', ...(opts.headers ?? {}) };
    if (opts.token) headers['token'] = opts.token;
    let body: string | undefined;
    let isBase64Encoded = false;
    if (opts.rawBody) {
      body = opts.rawBody.toString('base64');
      isBase64Encoded = true;
    } else if (opts.body !== undefined) {
      body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
      headers['content-type'] ??= 'application/json';
    }
    const event = {
      version: '2.0',
      routeKey: match.routeKey,
      rawPath: path,
      rawQueryString: query,
      headers,
      queryStringParameters: query ? Object.fromEntries(new URLSearchParams(query)) : undefined,
      pathParameters,
      body,
      isBase64Encoded,
      requestContext: { http: { method, path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'test' }, domainName: 'conveyor.test' },
    } as unknown as APIGatewayProxyEventV2;
    const res = await handler(event, {} as never);
    const text = typeof res.body === 'string' ? res.body : '';
    let json: any;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.statusCode!, headers: (res.headers ?? {}) as Record<string, string>, json };
  };
}
