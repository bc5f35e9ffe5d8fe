/**
 * Collections and items through the use cases and the HTTP routes, on the memory fakes:
 * permissions, reserved names, one active item per name, replace and soft removal, the internal
 * collection of a workflow and the promise → artifact replacement.
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { MemoryCollectionRepository } from '../../shared/adapters/memory/collections';
import { createWorkspace } from '../../shared/app/admin';
import { createArtifact } from '../../shared/app/artifacts';
import {
  addCollectionItem,
  addItemAsWorkflow,
  collectionNameProblem,
  createCollection,
  ensureInternalCollection,
  removeCollectionItem,
} from '../../shared/app/collections';
import { PROMISE_CATEGORY, WORKFLOW_INTERNAL } from '../../shared/domain/collections';
import { ConflictError, ForbiddenError, ValidationError } from '../../shared/domain/errors';
import { newWorkRequest, type WorkRequest } from '../../shared/domain/work-requests';
import { httpHandler } from '../../shared/http/handler';
import { collectionRoutes } from '../../shared/http/routes/collections';
import { createWorld, type World } from '../support/world';

let world: World;
let repo: MemoryCollectionRepository;

beforeEach(async () => {
  world = await createWorld();
  repo = new MemoryCollectionRepository();
  world.deps.collections = repo;
});

/** Calls a collection route in-process, as API Gateway would after matching `routeKey`. */
async function call(
  routeKey: string,
  opts: { as?: string; params?: Record<string, string>; query?: Record<string, string>; body?: unknown } = {},
) {
  const handler = httpHandler(() => world.deps, collectionRoutes(() => world.deps));
  const [method, path] = routeKey.split(' ') as [string, string];
  const headers: Record<string, string> = { host: 'conveyor.test' };
  if (opts.as && opts.as !== 'anonymous') headers['token'] = world.keys[opts.as] ?? opts.as;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const event = {
    version: '2.0',
    routeKey,
    rawPath: path,
    rawQueryString: new URLSearchParams(opts.query ?? {}).toString(),
    headers,
    queryStringParameters: opts.query,
    pathParameters: opts.params,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    isBase64Encoded: false,
    requestContext: { http: { method, path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'test' }, domainName: 'conveyor.test' },
  } as unknown as APIGatewayProxyEventV2;
  const res = await handler(event, {} as never);
  const text = typeof res.body === 'string' ? res.body : '';
  return { status: res.statusCode!, json: text ? JSON.parse(text) : undefined };
}

async function newArtifact(as: string, workspace = 'priv', category = 'debian:source-package') {
  const { artifact } = await createArtifact(world.deps, await world.caller(as), { scope: 'debusine', workspace, category, data: {}, files: {} });
  return artifact;
}

async function newCollection(name = 'bookworm', category = 'debian:suite', workspace = 'priv') {
  return createCollection(world.deps, await world.caller('contributor'), { scope: 'debusine', workspace, name, category });
}

function rootWorkflow(id: number, overrides: Partial<WorkRequest> = {}): WorkRequest {
  return newWorkRequest({
    id,
    scope: 'debusine',
    workspace: 'priv',
    createdBy: 'user:contributor',
    taskType: 'Workflow',
    taskName: 'noop',
    taskData: {},
    status: 'running',
    createdAt: '2026-01-01T00:00:00.000Z',
    ...overrides,
  });
}

describe('creating collections', () => {
  it('answers 201 to a contributor and 409 for the same (workspace, name, category)', async () => {
    const res = await call('POST /api/1.0/collection/', { as: 'contributor', body: { name: 'bookworm', category: 'debian:suite', workspace: 'priv', data: { codename: 'bookworm' } } });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({
      name: 'bookworm',
      category: 'debian:suite',
      workspace: 'priv',
      scope: 'debusine',
      data: { codename: 'bookworm' },
      retains_artifacts: 'always',
      workflow: null,
      url: `https://conveyor.test/api/1.0/collection/${res.json.id}/`,
    });
    const again = await call('POST /api/1.0/collection/', { as: 'owner', body: { name: 'bookworm', category: 'debian:suite', workspace: 'priv' } });
    expect(again.status).toBe(409);
    // Another category, or another workspace: no clash.
    expect((await call('POST /api/1.0/collection/', { as: 'contributor', body: { name: 'bookworm', category: 'debian:environments', workspace: 'priv' } })).status).toBe(201);
    expect((await call('POST /api/1.0/collection/', { as: 'contributor', body: { name: 'bookworm', category: 'debian:suite', workspace: 'pub' } })).status).toBe(201);
  });

  it.each([
    ['viewer', 'priv', 403],
    ['uploader', 'priv', 403],
    ['outsider', 'priv', 404],
    ['outsider', 'pub', 403],
    ['anonymous', 'pub', 401],
    ['anonymous', 'priv', 401],
    ['owner', 'priv', 201],
    ['admin', 'priv', 201],
  ])('%s in %s → %i', async (as, workspace, status) => {
    const res = await call('POST /api/1.0/collection/', { as, body: { name: 'sid', category: 'debian:suite', workspace } });
    expect(res.status).toBe(status);
  });

  it('refuses worker tokens (403)', async () => {
    // A worker token is not a user token: create needs a user.
    const { registerWorker, enableWorker } = await import('../../shared/app/workers');
    const { generateTokenKey } = await import('../../shared/app/admin');
    const key = generateTokenKey();
    const worker = await registerWorker(world.deps, { tokenKey: key, fqdn: 'w1.example.org' });
    await enableWorker(world.deps, 'test', worker.name);
    const res = await call('POST /api/1.0/collection/', { as: key, body: { name: 'sid', category: 'debian:suite', workspace: 'priv' } });
    expect(res.status).toBe(403);
  });

  it.each([
    ['_private', 'debian:suite', 'name'],
    ['_', 'debian:suite', 'name'],
    ['main', 'debian:archive', 'name'],
    ['a/b', 'debian:suite', 'name'],
    ['a@b', 'debian:suite', 'name'],
    ['a#b', 'debian:suite', 'name'],
    ['', 'debian:suite', 'name'],
    ['x'.repeat(256), 'debian:suite', 'name'],
    ['workflow-1', WORKFLOW_INTERNAL, 'category'],
    ['ok', 'not a category', 'category'],
  ])('refuses name %j of category %s (400 on %s)', async (name, category, field) => {
    const res = await call('POST /api/1.0/collection/', { as: 'owner', body: { name, category, workspace: 'priv' } });
    expect(res.status).toBe(400);
    expect(res.json.title).toBe('Invalid collection');
    expect(Object.keys(res.json.validation_errors ?? res.json.errors ?? {}).join()).toContain(field);
  });

  it('names a singleton exactly "_"', async () => {
    expect(collectionNameProblem('_', 'debian:archive')).toBeUndefined();
    expect(collectionNameProblem('_', 'debusine:task-history')).toBeUndefined();
    const res = await call('POST /api/1.0/collection/', { as: 'owner', body: { name: '_', category: 'debian:archive', workspace: 'priv' } });
    expect(res.status).toBe(201);
  });

  it('keeps "workflow" retention for workflow-internal collections', async () => {
    const res = await call('POST /api/1.0/collection/', { as: 'owner', body: { name: 'x', category: 'debian:suite', workspace: 'priv', retains_artifacts: 'workflow' } });
    expect(res.status).toBe(400);
    const never = await call('POST /api/1.0/collection/', { as: 'owner', body: { name: 'x', category: 'debian:suite', workspace: 'priv', retains_artifacts: 'never' } });
    expect(never.json.retains_artifacts).toBe('never');
  });

  it('refuses unknown fields', async () => {
    const res = await call('POST /api/1.0/collection/', { as: 'owner', body: { name: 'x', category: 'debian:suite', workspace: 'priv', workflow: 3 } });
    expect(res.status).toBe(400);
  });
});

describe('reading collections', () => {
  it('lists a workspace by category then name, filtered, to viewers only', async () => {
    await newCollection('sid', 'debian:suite');
    await newCollection('bookworm', 'debian:suite');
    await newCollection('bookworm', 'debian:environments');
    await newCollection('other', 'debian:suite', 'pub');
    const res = await call('GET /api/1.0/collection/', { as: 'viewer', query: { workspace: 'priv' } });
    expect(res.status).toBe(200);
    expect(res.json.results.map((c: { name: string; category: string }) => `${c.name}@${c.category}`)).toEqual([
      'bookworm@debian:environments',
      'bookworm@debian:suite',
      'sid@debian:suite',
    ]);
    const filtered = await call('GET /api/1.0/collection/', { as: 'viewer', query: { workspace: 'priv', category: 'debian:suite', name: 'sid' } });
    expect(filtered.json.results).toHaveLength(1);
    expect((await call('GET /api/1.0/collection/', { as: 'outsider', query: { workspace: 'priv' } })).status).toBe(404);
    expect((await call('GET /api/1.0/collection/', { as: 'anonymous', query: { workspace: 'pub' } })).json.results).toHaveLength(1);
  });

  it('shows one collection to viewers; hidden and missing ones are 404 alike', async () => {
    const c = await newCollection();
    expect((await call('GET /api/1.0/collection/{id}/', { as: 'viewer', params: { id: String(c.id) } })).json.id).toBe(c.id);
    const hidden = await call('GET /api/1.0/collection/{id}/', { as: 'outsider', params: { id: String(c.id) } });
    const missing = await call('GET /api/1.0/collection/{id}/', { as: 'outsider', params: { id: '999' } });
    expect(hidden.status).toBe(404);
    expect(hidden.json).toEqual(missing.json);
    expect((await call('GET /api/1.0/collection/{id}/', { as: 'viewer', params: { id: 'abc' } })).status).toBe(400);
  });
});

describe('items', () => {
  it('adds an artifact item with the artifact\'s category, and a bare item with its own', async () => {
    const c = await newCollection();
    const a = await newArtifact('uploader');
    const added = await call('POST /api/1.0/collection/{id}/items/', { as: 'contributor', params: { id: String(c.id) }, body: { name: 'hello_1.0', artifact: a.id, data: { version: '1.0' } } });
    expect(added.status).toBe(201);
    expect(added.json).toMatchObject({
      parent_collection: c.id,
      name: 'hello_1.0',
      child_type: 'artifact',
      category: 'debian:source-package',
      artifact: a.id,
      collection: null,
      data: { version: '1.0' },
      created_by: 'user:contributor',
      removed_at: null,
    });
    const bare = await call('POST /api/1.0/collection/{id}/items/', { as: 'contributor', params: { id: String(c.id) }, body: { name: 'note', category: 'debian:qa-result', data: { ok: true } } });
    expect(bare.json).toMatchObject({ child_type: 'bare', category: 'debian:qa-result', artifact: null });
    const list = await call('GET /api/1.0/collection/{id}/items/', { as: 'viewer', params: { id: String(c.id) } });
    expect(list.json.results.map((i: { name: string }) => i.name)).toEqual(['hello_1.0', 'note']);
  });

  it('adds a collection item', async () => {
    const parent = await newCollection('all', 'debian:environments');
    const child = await newCollection();
    const item = await addCollectionItem(world.deps, await world.caller('contributor'), parent.id, { name: 'bookworm', collection: child.id });
    expect(item).toMatchObject({ childType: 'collection', collectionRef: child.id, category: 'debian:suite', artifactId: null });
    await expect(addCollectionItem(world.deps, await world.caller('contributor'), parent.id, { name: 'self', collection: parent.id })).rejects.toThrow(ValidationError);
  });

  it.each([
    [{ name: 'x' }, 'category'],
    [{ name: '', category: 'debian:qa-result' }, 'name'],
    [{ name: 'a/b', category: 'debian:qa-result' }, 'name'],
    [{ name: 'x', category: 'nope' }, 'category'],
    [{ name: 'x', category: PROMISE_CATEGORY }, 'category'],
    [{ name: 'x', category: 'debian:qa-result', data: { promise_work_request_id: 3 } }, 'data'],
    [{ name: 'x', artifact: 99999 }, 'artifact'],
  ])('refuses %j (400 on %s)', async (body, field) => {
    const c = await newCollection();
    const res = await call('POST /api/1.0/collection/{id}/items/', { as: 'contributor', params: { id: String(c.id) }, body });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.json)).toContain(field);
  });

  it('refuses an artifact of another category than asked, of another workspace, or invisible', async () => {
    const c = await newCollection();
    const caller = await world.caller('contributor');
    const a = await newArtifact('uploader');
    await expect(addCollectionItem(world.deps, caller, c.id, { name: 'x', artifact: a.id, category: 'debian:upload' })).rejects.toThrow(/not a debian:upload/);
    const elsewhere = await newArtifact('uploader', 'pub');
    await expect(addCollectionItem(world.deps, caller, c.id, { name: 'x', artifact: elsewhere.id })).rejects.toThrow(/not in workspace "priv"/);
    await createWorkspace(world.deps, 'test', { name: 'secret' });
    const { artifact: secret } = await createArtifact(world.deps, await world.caller('admin'), { scope: 'debusine', workspace: 'secret', category: 'testing', data: {}, files: {} });
    await expect(addCollectionItem(world.deps, caller, c.id, { name: 'x', artifact: secret.id })).rejects.toThrow(/does not exist/);
  });

  it('keeps one active item per name: 409 without replace, soft removal of the old one with it', async () => {
    const c = await newCollection();
    const id = String(c.id);
    const first = await call('POST /api/1.0/collection/{id}/items/', { as: 'contributor', params: { id }, body: { name: 'n', category: 'debian:qa-result', data: { v: 1 } } });
    const clash = await call('POST /api/1.0/collection/{id}/items/', { as: 'owner', params: { id }, body: { name: 'n', category: 'debian:qa-result', data: { v: 2 } } });
    expect(clash.status).toBe(409);
    world.deps.clock.advance(1000);
    const second = await call('POST /api/1.0/collection/{id}/items/', { as: 'owner', params: { id }, body: { name: 'n', category: 'debian:qa-result', data: { v: 2 }, replace: true } });
    expect(second.status).toBe(201);
    const list = await call('GET /api/1.0/collection/{id}/items/', { as: 'viewer', params: { id } });
    expect(list.json.results.map((i: { id: number; data: unknown }) => [i.id, i.data])).toEqual([[second.json.id, { v: 2 }]]);
    const history = await repo.history(c.id);
    expect(history.map((i) => [i.id, i.removedAt, i.removedBy])).toEqual([
      [first.json.id, '2026-01-01T00:00:01.000Z', 'user:owner'],
      [second.json.id, null, null],
    ]);
  });

  it('replace of an artifact removes the bare item of that name', async () => {
    const c = await newCollection();
    const caller = await world.caller('contributor');
    const bare = await addCollectionItem(world.deps, caller, c.id, { name: 'n', category: 'debian:qa-result' });
    const a = await newArtifact('contributor');
    const art = await addCollectionItem(world.deps, caller, c.id, { name: 'n', artifact: a.id, replace: true });
    expect((await repo.activeItems(c.id)).map((i) => i.id)).toEqual([art.id]);
    expect((await repo.history(c.id)).find((i) => i.id === bare.id)?.removedBy).toBe('user:contributor');
  });

  it('removes softly: 204, gone from the list, kept in history; 404 when nothing is active', async () => {
    const c = await newCollection();
    const id = String(c.id);
    const added = await call('POST /api/1.0/collection/{id}/items/', { as: 'contributor', params: { id }, body: { name: 'a|b c', category: 'debian:qa-result' } });
    expect((await call('DELETE /api/1.0/collection/{id}/items/{name}/', { as: 'viewer', params: { id, name: 'a|b c' } })).status).toBe(403);
    expect((await call('DELETE /api/1.0/collection/{id}/items/{name}/', { as: 'contributor', params: { id, name: 'a|b c' } })).status).toBe(204);
    expect((await call('GET /api/1.0/collection/{id}/items/', { as: 'viewer', params: { id } })).json.results).toEqual([]);
    expect((await call('DELETE /api/1.0/collection/{id}/items/{name}/', { as: 'contributor', params: { id, name: 'a|b c' } })).status).toBe(404);
    const [kept] = await repo.history(c.id);
    expect(kept).toMatchObject({ id: added.json.id, removedBy: 'user:contributor', removedAt: '2026-01-01T00:00:00.000Z' });
    // The name is free again.
    expect((await call('POST /api/1.0/collection/{id}/items/', { as: 'contributor', params: { id }, body: { name: 'a|b c', category: 'debian:qa-result' } })).status).toBe(201);
  });

  it.each([
    ['viewer', 403],
    ['uploader', 403],
    ['outsider', 404],
    ['anonymous', 401],
  ])('%s may not add items in a private workspace (%i)', async (as, status) => {
    const c = await newCollection();
    const res = await call('POST /api/1.0/collection/{id}/items/', { as, params: { id: String(c.id) }, body: { name: 'x', category: 'debian:qa-result' } });
    expect(res.status).toBe(status);
  });

  it('hides the items of a hidden collection (404)', async () => {
    const c = await newCollection();
    expect((await call('GET /api/1.0/collection/{id}/items/', { as: 'outsider', params: { id: String(c.id) } })).status).toBe(404);
  });
});

describe('the internal collection of a workflow', () => {
  it('is created once, even by concurrent callers, in the root\'s workspace', async () => {
    const root = rootWorkflow(41);
    const [a, b] = await Promise.all([ensureInternalCollection(world.deps, root), ensureInternalCollection(world.deps, root)]);
    expect(a.id).toBe(b.id);
    expect(a).toMatchObject({ name: 'workflow-41', category: WORKFLOW_INTERNAL, retainsArtifacts: 'workflow', workflowId: 41, workspace: 'priv' });
    expect((await ensureInternalCollection(world.deps, { ...root, internalCollection: a.id })).id).toBe(a.id);
    expect(await repo.list('debusine', 'priv')).toHaveLength(1);
    await expect(ensureInternalCollection(world.deps, rootWorkflow(42, { parent: 41 }))).rejects.toThrow(/not a root workflow/);
  });

  it('is readable by viewers but changed only by its workflow', async () => {
    const c = await ensureInternalCollection(world.deps, rootWorkflow(41));
    const id = String(c.id);
    expect((await call('GET /api/1.0/collection/{id}/', { as: 'viewer', params: { id } })).status).toBe(200);
    const add = await call('POST /api/1.0/collection/{id}/items/', { as: 'owner', params: { id }, body: { name: 'x', category: 'debian:qa-result' } });
    expect(add.status).toBe(403);
    await addItemAsWorkflow(world.deps, c, { name: 'x', category: 'debian:qa-result' }, 41, { replace: false });
    await expect(removeCollectionItem(world.deps, await world.caller('owner'), c.id, 'x')).rejects.toThrow(ForbiddenError);
  });

  it('lets the artifact replace its promise', async () => {
    const c = await ensureInternalCollection(world.deps, rootWorkflow(41));
    const promise = await addItemAsWorkflow(
      world.deps,
      c,
      { name: 'build-amd64', category: PROMISE_CATEGORY, data: { promise_work_request_id: 43, promise_workflow_id: 41, promise_category: 'debian:upload' } },
      41,
      { replace: false },
    );
    expect(promise).toMatchObject({ childType: 'bare', createdBy: 'workflow:41' });
    const a = await newArtifact('contributor', 'priv', 'debian:upload');
    // Without replace the promise still holds the name.
    await expect(addItemAsWorkflow(world.deps, c, { name: 'build-amd64', artifact: a.id }, 41, { replace: false })).rejects.toThrow(ConflictError);
    world.deps.clock.advance(5000);
    const output = await addItemAsWorkflow(world.deps, c, { name: 'build-amd64', artifact: a.id, data: { architecture: 'amd64' } }, 41, { replace: true });
    expect(output).toMatchObject({ childType: 'artifact', category: 'debian:upload', artifactId: a.id });
    expect((await repo.activeItems(c.id)).map((i) => i.id)).toEqual([output.id]);
    expect((await repo.history(c.id))[0]).toMatchObject({ id: promise.id, removedAt: '2026-01-01T00:00:05.000Z', removedBy: 'workflow:41' });
  });

  it('reserves promise_* keys to promises', async () => {
    const c = await ensureInternalCollection(world.deps, rootWorkflow(41));
    await expect(
      addItemAsWorkflow(world.deps, c, { name: 'x', category: 'debian:qa-result', data: { promise_x: 1 } }, 41, { replace: false }),
    ).rejects.toThrow(/reserved/);
    const a = await newArtifact('contributor');
    await expect(addItemAsWorkflow(world.deps, c, { name: 'y', artifact: a.id, data: { promise_x: 1 } }, 41, { replace: false })).rejects.toThrow(/reserved/);
  });
});
