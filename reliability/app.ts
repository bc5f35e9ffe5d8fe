/**
 * The in-process Conveyor the reliability parts drive: memory adapters behind every HTTP route of
 * the manifest, routed exactly as the local gateway routes them (cli/dev/gateway.ts), with users of
 * every role, a public and a private workspace, a worker, and one object of each kind in each
 * workspace so that requests naming a real id reach the code past the lookups. Names and data of the
 * seeded objects carry `SECRET-<workspace>`, so that a private object showing up in an answer is found.
 */
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { buildEvent, matchRoute, routesOf } from '../cli/dev/gateway';
import type { MemoryDeps } from '../shared/adapters/memory';
import { expiryStoreFor } from '../shared/adapters/expiry';
import { httpHandler } from '../shared/http/handler';
import type { RouteHandler } from '../shared/http/request';
import { accountsRoutes } from '../shared/http/routes/accounts';
import { adminWorkerRoutes, auditRoutes } from '../shared/http/routes/admin';
import { artifactRoutes } from '../shared/http/routes/artifacts';
import { collectionRoutes } from '../shared/http/routes/collections';
import { identityRoutes } from '../shared/http/routes/identity';
import { recurringJobRoutes } from '../shared/http/routes/recurring-jobs';
import { workRequestRoutes } from '../shared/http/routes/work-requests';
import { workerRoutes } from '../shared/http/routes/workers';
import { workflowRoutes } from '../shared/http/routes/workflows';
import { FUNCTIONS, routeTable } from '../shared/manifest';
import { createSchedulingWorld, type SchedulingWorld } from '../test/support/scheduling';
import { sha256 } from '../test/support/world';

export interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string;
  json: any;
}

export interface CallOptions {
  token?: string;
  /** A value is sent as JSON; a string or Buffer is sent as it is (malformed JSON, other media types). */
  body?: unknown;
  rawBody?: string | Buffer;
  headers?: Record<string, string>;
}

export type Client = (method: string, url: string, opts?: CallOptions) => Promise<Reply>;

/** Every HTTP function of the manifest with its routes, built on one set of deps. */
export function routeHandlersOf(getDeps: () => MemoryDeps): Record<string, Record<string, RouteHandler>> {
  return {
    'identity-api': identityRoutes(getDeps),
    'artifacts-api': { ...artifactRoutes(getDeps, expiryStoreFor), ...collectionRoutes(getDeps) },
    'work-requests-api': workRequestRoutes(getDeps),
    'workers-api': workerRoutes(getDeps),
    'workflows-api': workflowRoutes(getDeps),
    'accounts-api': accountsRoutes(getDeps),
    'recurring-jobs-api': recurringJobRoutes(getDeps),
    'admin-workers-api': adminWorkerRoutes(getDeps),
    'audit-api': auditRoutes(getDeps),
  };
}

const GATEWAY_ROUTES = routesOf(FUNCTIONS);

/** A client that routes like the gateway and calls the real middy handlers in-process. */
export function inProcessClient(deps: MemoryDeps): Client {
  const handlers = Object.fromEntries(Object.entries(routeHandlersOf(() => deps)).map(([fn, routes]) => [fn, httpHandler(() => deps, routes)]));
  return async (method, url, opts = {}) => {
    const path = url.split('?')[0]!;
    const match = matchRoute(GATEWAY_ROUTES, method, path);
    if (!match) return { status: 404, headers: {}, body: '', json: undefined }; // the gateway's own 404
    const handler = handlers[match.route.fn.name];
    if (!handler) throw new Error(`${method} ${path} is served by ${match.route.fn.name}, which the reliability app does not build`);
    const headers: Record<string, string> = { host: 'conveyor.test', ...(opts.headers ?? {}) };
    if (opts.token !== undefined) headers['token'] = opts.token;
    let body = Buffer.alloc(0);
    if (opts.rawBody !== undefined) body = Buffer.from(opts.rawBody);
    else if (opts.body !== undefined) body = Buffer.from(JSON.stringify(opts.body));
    if (body.length && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
    const event = buildEvent({ method, url, rawHeaders: Object.entries(headers).flat(), body, sourceIp: '127.0.0.1', httpVersion: '1.1', localHost: 'conveyor.test' }, match);
    const res = (await handler(event, {} as never)) as APIGatewayProxyStructuredResultV2;
    const text = typeof res.body === 'string' ? res.body : '';
    return { status: res.statusCode!, headers: (res.headers ?? {}) as Record<string, string>, body: text, json: jsonOrUndefined(text) };
  };
}

/** The parsed JSON of an answer; undefined when it is empty or not JSON (a redirect, a file). */
function jsonOrUndefined(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The seeded id a route's `{id}` names, by the resource of its path (`/api/1.0/<resource>/…`). */
export function seededIdFor(s: Seeded, path: string): number | undefined {
  const ids: Record<string, number> = {
    artifact: s.artifact,
    'artifact-relation': s.relation,
    collection: s.collection,
    'work-request': s.workRequest,
    'workflow-template': s.template,
    workflow: s.workflow,
    'recurring-job': s.recurringJob,
  };
  return ids[path.split('/')[3]!];
}

/** Ids of the seeded objects, per workspace. */
export interface Seeded {
  artifact: number;
  otherArtifact: number;
  filePath: string;
  relation: number;
  collection: number;
  workRequest: number;
  template: number;
  templateName: string;
  workflow: number;
  recurringJob: number;
}

export interface ReliabilityWorld extends SchedulingWorld {
  http: Client;
  worker: { name: string; key: string };
  seeded: Record<'priv' | 'pub', Seeded>;
  /** A token of `uploader2`, for the admin token routes. */
  tokenId: string;
}

async function ok(reply: Promise<Reply>, what: string): Promise<any> {
  const r = await reply;
  if (r.status >= 300) throw new Error(`seeding ${what} answered ${r.status}: ${r.body.slice(0, 300)}`);
  return r.json;
}

export async function createReliabilityWorld(): Promise<ReliabilityWorld> {
  const world = await createSchedulingWorld();
  world.deps.clock.current = new Date('2026-12-01T00:00:00Z');
  const http = inProcessClient(world.deps);
  const worker = await world.addWorker('fuzz-worker.lan');
  const owner = world.keys['owner']!;
  const seeded = {} as Record<'priv' | 'pub', Seeded>;
  for (const ws of ['priv', 'pub'] as const) {
    const content = `hello ${ws}\n`;
    const filePath = 'dir/hello.txt';
    const artifact = await ok(
      http('POST', '/api/1.0/artifact/', {
        token: owner,
        body: { category: 'testing', workspace: ws, data: { note: `SECRET-${ws}` }, files: { [filePath]: { type: 'file', size: Buffer.byteLength(content), checksums: { sha256: sha256(content) } } } },
      }),
      'artifact',
    );
    await ok(
      http('PUT', `/api/1.0/artifact/${artifact.id}/files/${filePath}`, { token: owner, rawBody: content, headers: { 'content-type': 'application/octet-stream' } }),
      'file upload',
    );
    const other = await ok(http('POST', '/api/1.0/artifact/', { token: owner, body: { category: 'testing', workspace: ws, data: {}, files: {} } }), 'artifact');
    const relation = await ok(http('POST', '/api/1.0/artifact-relation/', { token: owner, body: { artifact: artifact.id, target: other.id, type: 'relates-to' } }), 'relation');
    const collection = await ok(http('POST', '/api/1.0/collection/', { token: owner, body: { workspace: ws, name: `suite-SECRET-${ws}`, category: 'debian:suite' } }), 'collection');
    await ok(
      http('POST', `/api/1.0/collection/${collection.id}/items/`, { token: owner, body: { name: 'item-1', category: 'debian:qa-result', data: { note: `SECRET-${ws}` } } }),
      'collection item',
    );
    const workRequest = await ok(http('POST', '/api/1.0/work-request/', { token: owner, body: { workspace: ws, task_name: 'noop', task_data: {} } }), 'work request');
    const templateName = `tmpl-SECRET-${ws}`;
    const template = await ok(http('POST', '/api/1.0/workflow-template/', { token: owner, body: { name: templateName, task_name: 'noop', workspace: ws } }), 'template');
    const workflow = await ok(http('POST', '/api/1.0/workflow/', { token: owner, body: { template_name: templateName, workspace: ws } }), 'workflow');
    const job = await ok(
      http('POST', '/api/1.0/recurring-job/', { token: owner, body: { workspace: ws, kind: 'git-import', target: { url: `file:///srv/SECRET-${ws}.git` }, update_interval: 3600 } }),
      'recurring job',
    );
    seeded[ws] = {
      artifact: artifact.id,
      otherArtifact: other.id,
      filePath,
      relation: relation.id,
      collection: collection.id,
      workRequest: workRequest.id,
      template: template.id,
      templateName,
      workflow: workflow.id,
      recurringJob: job.id,
    };
  }
  const tokenId = [...world.deps.identity.tokens.values()].find((t) => t.username === 'uploader2')!.id;
  return { ...world, http, worker: { name: worker.name, key: worker.key }, seeded, tokenId };
}

/** The manifest's routes, checked against the handlers the reliability app builds (none may be missing). */
export function allRoutes(): { method: string; path: string; routeKey: string; functionName: string }[] {
  const built = routeHandlersOf(() => undefined as unknown as MemoryDeps);
  return routeTable().map(({ routeKey, functionName }) => {
    if (!built[functionName]) throw new Error(`the reliability app does not build ${functionName} (route ${routeKey})`);
    const [method, path] = routeKey.split(' ') as [string, string];
    return { method, path, routeKey, functionName };
  });
}

/**
 * Everything the memory adapters hold, as one canonical string: Maps, Sets and Buffers spelled out,
 * object keys and Map entries sorted. Read counters (`reads`) are statistics, not stored data, and a token's
 * `lastSeenAt` is what authenticating any request records (Debusine's last_seen_at): both are left out.
 * Strings in `redact` (random token hashes, when two worlds are compared) are replaced.
 */
const byKey = (a: readonly unknown[], b: readonly unknown[]) => {
  const [x, y] = [JSON.stringify(a[0]), JSON.stringify(b[0])];
  return x < y ? -1 : x > y ? 1 : 0;
};

export function snapshotOf(deps: MemoryDeps, redact: ReadonlySet<string> = new Set()): string {
  const seen = new WeakSet<object>();
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string' && redact.has(v)) return '(redacted)';
    if (v === null || typeof v !== 'object') return typeof v === 'function' ? undefined : v;
    if (Buffer.isBuffer(v)) return { $buffer: sha256(v) };
    if (v instanceof Date) return v.toISOString();
    if (seen.has(v)) return '$seen';
    seen.add(v);
    // Maps and Sets by key: insertion order is not stored data (DynamoDB has none either).
    if (v instanceof Map) return { $map: [...v.entries()].map(([k, x]) => [walk(k), walk(x)] as const).sort(byKey) };
    if (v instanceof Set) return { $set: [...v].map(walk).sort((a, b) => byKey([a], [b])) };
    if (Array.isArray(v)) return v.map(walk);
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      if (k === 'reads' || k === 'lastSeenAt') continue;
      out[k] = walk((v as Record<string, unknown>)[k]);
    }
    return out;
  };
  const stores: Record<string, unknown> = {};
  for (const k of Object.keys(deps).sort()) {
    if (k === 'clock' || k === 'ids') continue;
    stores[k] = walk((deps as unknown as Record<string, unknown>)[k]);
  }
  return JSON.stringify(stores);
}
