/**
 * Part (e): the permission matrix. Every route of the manifest × every actor (admin, the four
 * workspace roles, a stranger with no role, an anonymous caller, a worker) × the public and the
 * private workspace, each request well-formed (so that only a permission check can refuse it).
 * A leak is a 2xx for an actor the route's rule refuses, or an answer to a caller who may not see
 * the private workspace that carries one of its objects (their names and data hold `SECRET-priv`).
 */
import { allRoutes, createReliabilityWorld, snapshotOf, type CallOptions, type ReliabilityWorld } from './app';
import { seededIdFor, type Seeded } from './app';

export const ACTORS = ['admin', 'owner', 'contributor', 'uploader', 'viewer', 'stranger', 'anonymous', 'worker'] as const;
export type Actor = (typeof ACTORS)[number];
const WORKSPACE_ROLES = ['viewer', 'uploader', 'contributor', 'owner'] as const;
type WorkspaceRole = (typeof WORKSPACE_ROLES)[number];

/**
 * Who may succeed on a route. `ws:<role>`: that role in the workspace named (a public workspace
 * makes everyone a viewer; admins hold every role; workers read every workspace, as in Debusine,
 * whose workers fetch the inputs of any request); `user`: any signed-in user (their own tokens,
 * quota); `signed-in`: a user or a worker; `worker`: the worker itself; `admin`; `any`: everyone,
 * anonymous callers included.
 */
export type Rule = `ws:${WorkspaceRole}` | 'user' | 'signed-in' | 'worker' | 'admin' | 'any';

export const RULES: Record<string, Rule> = {
  'GET /api/1.0/whoami/': 'any',
  'GET /api/1.0/workspace/': 'any',
  'GET /api/1.0/openapi.json': 'any',
  'POST /api/1.0/artifact/': 'ws:uploader',
  'GET /api/1.0/artifact/': 'ws:viewer',
  'GET /api/1.0/artifact/{id}/': 'ws:viewer',
  'PATCH /api/1.0/artifact/{id}/': 'ws:contributor',
  'DELETE /api/1.0/artifact/{id}/': 'ws:contributor',
  'PUT /api/1.0/artifact/{id}/files/{path+}': 'ws:contributor',
  'GET /api/1.0/artifact/{id}/files/{path+}': 'ws:viewer',
  'POST /api/1.0/artifact/{id}/attach/': 'ws:contributor',
  'DELETE /api/1.0/artifact/{id}/files/{path+}': 'ws:contributor',
  'POST /api/1.0/artifact/{id}/upload/{path+}': 'ws:contributor',
  'POST /api/1.0/artifact/{id}/upload-complete/{path+}': 'ws:contributor',
  'GET /api/1.0/artifact/{id}/download/': 'ws:viewer',
  'GET /api/1.0/artifact-relation/': 'ws:viewer',
  'POST /api/1.0/artifact-relation/': 'ws:contributor',
  'DELETE /api/1.0/artifact-relation/{id}/': 'ws:contributor',
  'GET /api/1.0/collection/': 'ws:viewer',
  'POST /api/1.0/collection/': 'ws:contributor',
  'GET /api/1.0/collection/{id}/': 'ws:viewer',
  'GET /api/1.0/collection/{id}/items/': 'ws:viewer',
  'POST /api/1.0/collection/{id}/items/': 'ws:contributor',
  'DELETE /api/1.0/collection/{id}/items/{name}/': 'ws:contributor',
  'POST /api/1.0/lookup/single/': 'worker',
  'POST /api/1.0/lookup/multiple/': 'worker',
  'POST /api/1.0/work-request/': 'ws:contributor',
  'GET /api/1.0/work-request/': 'ws:viewer',
  'GET /api/1.0/work-request/get-next-for-worker/': 'worker',
  'GET /api/1.0/work-request/{id}/': 'ws:viewer',
  'PATCH /api/1.0/work-request/{id}/': 'ws:owner',
  'POST /api/1.0/work-request/{id}/retry/': 'ws:contributor',
  'POST /api/1.0/work-request/{id}/abort/': 'ws:owner', // or its creator (the owner here)
  'POST /api/1.0/work-request/{id}/unblock/': 'ws:owner',
  'PUT /api/1.0/work-request/{id}/completed/': 'worker',
  'POST /api/1.0/work-request/{id}/heartbeat/': 'worker',
  'POST /api/1.0/work-request/{id}/task-token/': 'worker',
  // Debusine's own flow: an unauthenticated worker registers with a token it made up, and waits disabled.
  'POST /api/1.0/worker/register/': 'any',
  'PUT /api/1.0/worker/dynamic-metadata/': 'worker',
  'POST /api/1.0/worker/disconnect/': 'worker',
  'GET /api/1.0/worker/queue/': 'worker',
  'GET /api/1.0/worker/': 'signed-in',
  'GET /api/1.0/worker/{name}/': 'signed-in',
  'GET /api/1.0/workflow-template/': 'ws:viewer',
  'POST /api/1.0/workflow-template/': 'ws:owner',
  'GET /api/1.0/workflow-template/{id}/': 'ws:viewer',
  'PATCH /api/1.0/workflow-template/{id}/': 'ws:owner',
  'DELETE /api/1.0/workflow-template/{id}/': 'ws:owner',
  'GET /api/1.0/workflow/': 'ws:viewer',
  'POST /api/1.0/workflow/': 'ws:contributor',
  'GET /api/1.0/workflow/{id}/': 'ws:viewer',
  'GET /api/1.0/user/token/': 'user',
  'POST /api/1.0/user/token/': 'user',
  'GET /api/1.0/user/quota/': 'user',
  'GET /api/1.0/admin/user/': 'admin',
  'POST /api/1.0/admin/user/{username}/disable/': 'admin',
  'POST /api/1.0/admin/user/{username}/enable/': 'admin',
  'GET /api/1.0/admin/token/': 'admin',
  'POST /api/1.0/admin/token/grant/': 'admin',
  'POST /api/1.0/admin/token/{id}/revoke/': 'admin',
  'GET /api/1.0/admin/quota/': 'admin',
  'PUT /api/1.0/admin/quota/': 'admin',
  'POST /api/1.0/admin/quota/recompute/': 'admin',
  'POST /api/1.0/recurring-job/': 'ws:contributor',
  'GET /api/1.0/recurring-job/': 'ws:viewer',
  'GET /api/1.0/recurring-job/{id}/': 'ws:viewer',
  'PATCH /api/1.0/recurring-job/{id}/': 'ws:owner',
  'DELETE /api/1.0/recurring-job/{id}/': 'ws:owner',
  'POST /api/1.0/recurring-job/{id}/request/': 'ws:contributor',
  'POST /api/1.0/recurring-job/{id}/try-again/': 'ws:owner',
  'GET /api/1.0/recurring-job/{id}/results/': 'ws:viewer',
  'GET /api/1.0/recurring-job/{id}/events/': 'ws:viewer',
  'POST /api/1.0/worker/{name}/online/': 'admin',
  'POST /api/1.0/worker/{name}/offline/': 'admin',
  'POST /api/1.0/worker/{name}/quiesce/': 'admin',
  'GET /api/1.0/worker/{name}/events/': 'user',
  'POST /api/1.0/worker/{name}/enable/': 'admin',
  'POST /api/1.0/worker/{name}/disable/': 'admin',
  'GET /api/1.0/audit/': 'admin',
};

export function allowed(rule: Rule, actor: Actor, workspace: 'pub' | 'priv'): boolean {
  if (rule === 'any') return true;
  if (rule === 'admin') return actor === 'admin';
  if (rule === 'worker') return actor === 'worker';
  if (rule === 'user') return actor !== 'anonymous' && actor !== 'worker';
  if (rule === 'signed-in') return actor !== 'anonymous';
  const needed = rule.slice(3) as WorkspaceRole;
  if (actor === 'admin') return true;
  if (actor === 'worker') return needed === 'viewer';
  const held: WorkspaceRole | undefined = (WORKSPACE_ROLES as readonly string[]).includes(actor) ? (actor as WorkspaceRole) : workspace === 'pub' ? 'viewer' : undefined;
  return held !== undefined && WORKSPACE_ROLES.indexOf(held) >= WORKSPACE_ROLES.indexOf(needed);
}

/** Whether the actor may see the private workspace's objects at all. */
const seesPrivate = (actor: Actor) => actor !== 'anonymous' && actor !== 'stranger';

const sha = 'a'.repeat(64);

/** A well-formed request for a route, aimed at the seeded objects of one workspace. */
export function wellFormed(world: ReliabilityWorld, routeKey: string, ws: 'pub' | 'priv'): { url: string; body?: unknown; rawBody?: string; headers?: Record<string, string> } {
  const s: Seeded = world.seeded[ws];
  const [, path] = routeKey.split(' ') as [string, string];
  const resource = path.split('/')[3]!;
  let url = path
    .replace('/token/{id}/', `/token/${world.tokenId}/`)
    .replace('{id}', String(seededIdFor(s, path) ?? 0))
    .replace('{path+}', s.filePath)
    .replace('{username}', 'uploader2')
    .replace('{name}', resource === 'collection' ? 'item-1' : world.worker.name);
  const bodies: Record<string, unknown> = {
    'POST /api/1.0/artifact/': { category: 'testing', workspace: ws, data: {}, files: {} },
    'PATCH /api/1.0/artifact/{id}/': { data: { touched: true } },
    'POST /api/1.0/artifact/{id}/attach/': { files: { 'new.txt': { type: 'file', size: 3, checksums: { sha256: sha } } } },
    'POST /api/1.0/artifact-relation/': { artifact: s.otherArtifact, target: s.artifact, type: 'relates-to' },
    'POST /api/1.0/collection/': { workspace: ws, name: 'new-suite', category: 'debian:suite' },
    'POST /api/1.0/collection/{id}/items/': { name: 'item-2', category: 'debian:qa-result', data: { ok: true } },
    'POST /api/1.0/lookup/single/': { lookup: s.artifact, work_request: s.workRequest, expect_type: 'artifact' },
    'POST /api/1.0/lookup/multiple/': { lookup: [s.artifact], work_request: s.workRequest, expect_type: 'artifact' },
    'POST /api/1.0/work-request/': { workspace: ws, task_name: 'noop', task_data: {} },
    'PATCH /api/1.0/work-request/{id}/': { priority_adjustment: -1 }, // raising is for administrators
    'POST /api/1.0/work-request/{id}/unblock/': { action: 'accept' },
    'PUT /api/1.0/work-request/{id}/completed/': { result: 'success' },
    'POST /api/1.0/work-request/{id}/heartbeat/': { logtail: ['x'] },
    'POST /api/1.0/worker/register/': { token: 'b'.repeat(64), fqdn: 'new-worker.lan' },
    'PUT /api/1.0/worker/dynamic-metadata/': { 'system:cpu_count': 2 },
    'POST /api/1.0/workflow-template/': { name: 'new-template', task_name: 'noop', workspace: ws },
    'PATCH /api/1.0/workflow-template/{id}/': { name: 'renamed' },
    'POST /api/1.0/workflow/': { template_name: s.templateName, workspace: ws },
    'POST /api/1.0/user/token/': { comment: 'mine' },
    'POST /api/1.0/admin/token/grant/': { username: 'uploader2' },
    'PUT /api/1.0/admin/quota/': { workspace: ws, resource: 'disk', limit: 10 },
    'POST /api/1.0/recurring-job/': { workspace: ws, kind: 'git-import', target: { url: 'file:///srv/n.git' }, update_interval: 3600 },
    'PATCH /api/1.0/recurring-job/{id}/': { update_interval: 7200 },
    'POST /api/1.0/worker/{name}/quiesce/': { message: 'drain' },
  };
  const queries: Record<string, string> = {
    'GET /api/1.0/artifact/': `workspace=${ws}`,
    'GET /api/1.0/artifact-relation/': `artifact=${s.artifact}`,
    'GET /api/1.0/collection/': `workspace=${ws}`,
    'GET /api/1.0/work-request/': `workspace=${ws}`,
    'GET /api/1.0/workflow-template/': `workspace=${ws}`,
    'GET /api/1.0/workflow/': `workspace=${ws}&name=${s.templateName}`,
    'GET /api/1.0/recurring-job/': `workspace=${ws}`,
    'GET /api/1.0/admin/quota/': `workspace=${ws}`,
  };
  if (queries[routeKey]) url += `?${queries[routeKey]}`;
  if (routeKey === 'PUT /api/1.0/artifact/{id}/files/{path+}') return { url, rawBody: `hello ${ws}\n`, headers: { 'content-type': 'application/octet-stream' } };
  return bodies[routeKey] === undefined ? { url } : { url, body: bodies[routeKey] };
}

export interface PermissionResult {
  cases: number;
  routes: number;
  actors: number;
  /** Cases the rule allows that succeeded: how much of the matrix reached past the checks. */
  allowedSucceeded: number;
  allowedCases: number;
  refusedCases: number;
  leaks: { request: string; actor: Actor; workspace: string; status: number; why: string }[];
  serverErrors: { request: string; actor: Actor; status: number }[];
  seconds: number;
}

/** The whole matrix; `every` > 1 takes every n-th route only (the reduced run of `npm test`). */
export async function runPermissionMatrix(every = 1): Promise<PermissionResult> {
  const started = Date.now();
  const all = allRoutes();
  const missing = all.filter((r) => !RULES[r.routeKey]).map((r) => r.routeKey);
  if (missing.length) throw new Error(`no permission rule for ${missing.join(', ')}: add one to reliability/permissions.ts`);
  const routes = all.filter((_r, i) => i % every === 0);
  const result: PermissionResult = { cases: 0, routes: routes.length, actors: ACTORS.length, allowedSucceeded: 0, allowedCases: 0, refusedCases: 0, leaks: [], serverErrors: [], seconds: 0 };
  let world = await createReliabilityWorld();
  let before = snapshotOf(world.deps);
  for (const route of routes) {
    for (const ws of ['pub', 'priv'] as const) {
      for (const actor of ACTORS) {
        const req = wellFormed(world, route.routeKey, ws);
        const token = actor === 'anonymous' ? undefined : actor === 'worker' ? world.worker.key : world.keys[actor === 'stranger' ? 'outsider' : actor];
        const opts: CallOptions = { token, ...(req.headers ? { headers: req.headers } : {}), ...(req.rawBody !== undefined ? { rawBody: req.rawBody } : {}), ...(req.body !== undefined ? { body: req.body } : {}) };
        const res = await world.http(route.method, req.url, opts);
        result.cases++;
        const may = allowed(RULES[route.routeKey]!, actor, ws);
        const request = `${route.method} ${req.url}`;
        if (res.status >= 500) result.serverErrors.push({ request, actor, status: res.status });
        if (may) {
          result.allowedCases++;
          if (res.status < 400) result.allowedSucceeded++;
          else if (process.env['RELIABILITY_DEBUG']) console.log('allowed but refused', actor, ws, request, res.status, res.body.slice(0, 160));
        } else {
          result.refusedCases++;
          // A 3xx is a success too: a redirect to the bytes.
          if (res.status < 400) result.leaks.push({ request, actor, workspace: ws, status: res.status, why: `answered ${res.status}; the rule is ${RULES[route.routeKey]}` });
        }
        if (!seesPrivate(actor) && ws === 'pub' && res.body.includes('SECRET-priv')) {
          result.leaks.push({ request, actor, workspace: ws, status: res.status, why: 'the answer holds an object of the private workspace' });
        }
        if (!seesPrivate(actor) && ws === 'pub' && route.routeKey === 'GET /api/1.0/workspace/' && /"name":"priv"/.test(res.body)) {
          result.leaks.push({ request, actor, workspace: ws, status: res.status, why: 'the workspace list names the private workspace' });
        }
        const after = snapshotOf(world.deps);
        if (after !== before) {
          world = await createReliabilityWorld();
          before = snapshotOf(world.deps);
        }
      }
    }
  }
  result.seconds = (Date.now() - started) / 1000;
  return result;
}
