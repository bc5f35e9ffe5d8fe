/**
 * Lookup resolution (reference/debusine.md §6): every single form, expect types, dict and list
 * lookups, promises replaced by artifacts; then the worker-only HTTP endpoints, which run the lookup
 * as the request's creator inside its root workflow.
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { MemoryCollectionRepository } from '../../shared/adapters/memory/collections';
import { createWorkspace } from '../../shared/app/admin';
import { createArtifact } from '../../shared/app/artifacts';
import type { Caller } from '../../shared/app/auth';
import { addCollectionItem, addItemAsWorkflow, createCollection, ensureInternalCollection, removeCollectionItem } from '../../shared/app/collections';
import { callerForCreator, workflowRootOf, type LookupContext } from '../../shared/app/acting-as';
import { resolveLookupMultiple, resolveLookupSingle } from '../../shared/app/lookups';
import { PROMISE_CATEGORY, type Collection, type ExpectType, type LookupResult } from '../../shared/domain/collections';
import { DomainError, ForbiddenError, NotFoundError, ValidationError } from '../../shared/domain/errors';
import { newWorkRequest, type WorkRequest } from '../../shared/domain/work-requests';
import { httpHandler } from '../../shared/http/handler';
import { setUserDisabled } from '../../shared/app/tokens';
import { collectionRoutes } from '../../shared/http/routes/collections';
import { createSchedulingWorld, type SchedulingWorld } from '../support/scheduling';

let world: SchedulingWorld;
let contributor: Caller;
let ctx: LookupContext;

/** Fixture: suite `bookworm@debian:suite` in priv with artifact, bare and collection items. */
let suite: Collection;
let envs: Collection;
let src: number;
let bin: number;
let other: number;
let items: Record<string, number>;

beforeEach(async () => {
  world = await createSchedulingWorld();
  world.deps.collections = new MemoryCollectionRepository();
  contributor = await world.caller('contributor');
  ctx = { scope: 'debusine', workspace: 'priv', caller: contributor };
  const artifact = async (category: string, workspace = 'priv') =>
    (await createArtifact(world.deps, contributor, { scope: 'debusine', workspace, category, data: {}, files: {} })).artifact.id;
  src = await artifact('debian:source-package');
  bin = await artifact('debian:binary-package');
  other = await artifact('debian:source-package', 'pub');
  suite = await createCollection(world.deps, contributor, { scope: 'debusine', workspace: 'priv', name: 'bookworm', category: 'debian:suite' });
  envs = await createCollection(world.deps, contributor, { scope: 'debusine', workspace: 'priv', name: 'envs', category: 'debian:environments' });
  const add = async (fields: Parameters<typeof addCollectionItem>[3], into = suite) => (await addCollectionItem(world.deps, contributor, into.id, fields)).id;
  items = {
    'hello_1.0': await add({ name: 'hello_1.0', artifact: src, data: { package: 'hello', version: '1.0', tags: ['a', 'b'] } }),
    'hello_1.0_amd64': await add({ name: 'hello_1.0_amd64', artifact: bin, data: { package: 'hello', version: '1.0', architecture: 'amd64' } }),
    note: await add({ name: 'note', category: 'debian:qa-result', data: { package: 'hello', result: 'pass' } }),
    env: await add({ name: 'bookworm', collection: suite.id }, envs),
  };
});

const single = (lookup: string | number, expect: ExpectType = 'any', defaultCategory?: string, c: LookupContext = ctx) =>
  resolveLookupSingle(world.deps, c, lookup, expect, defaultCategory);

const brief = (r: LookupResult) => [r.resultType, r.collectionItem?.id ?? null, r.artifact, r.collection];

async function lookupError(p: Promise<unknown>): Promise<ValidationError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ValidationError);
  expect((err as ValidationError).title).toBe('Lookup error');
  return err as ValidationError;
}

async function noMatches(p: Promise<unknown>): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(NotFoundError);
  expect((err as NotFoundError).title).toBe('No matches');
}

describe('single lookups', () => {
  it('resolves artifacts by id, as "N@artifacts" or an integer', async () => {
    expect(brief(await single(`${src}@artifacts`, 'artifact'))).toEqual(['a', null, src, null]);
    expect(brief(await single(src, 'artifact'))).toEqual(['a', null, src, null]);
    expect(brief(await single(src, 'artifact-or-promise'))).toEqual(['a', null, src, null]);
    // Any visible workspace will do.
    expect(brief(await single(`${other}@artifacts`, 'artifact'))).toEqual(['a', null, other, null]);
  });

  it('resolves collections by id, by name, and a bare name with a default category', async () => {
    expect(brief(await single(`${suite.id}@collections`, 'collection'))).toEqual(['c', null, null, suite.id]);
    expect(brief(await single(suite.id, 'collection'))).toEqual(['c', null, null, suite.id]);
    expect(brief(await single('bookworm@debian:suite', 'collection'))).toEqual(['c', null, null, suite.id]);
    expect(brief(await single('bookworm', 'collection', 'debian:suite'))).toEqual(['c', null, null, suite.id]);
    await lookupError(single('bookworm', 'collection'));
  });

  it('looks up items by their name, with or without "name:"; the result follows the item', async () => {
    expect(brief(await single('bookworm@debian:suite/hello_1.0'))).toEqual(['a', items['hello_1.0'], src, null]);
    expect(brief(await single('bookworm@debian:suite/name:hello_1.0_amd64'))).toEqual(['a', items['hello_1.0_amd64'], bin, null]);
    expect(brief(await single(`${suite.id}@collections/note`))).toEqual(['b', items['note'], null, null]);
    expect(brief(await single('envs@debian:environments/bookworm'))).toEqual(['c', items['env'], null, suite.id]);
    // Through a collection item into the child collection.
    expect(brief(await single('envs@debian:environments/bookworm/hello_1.0'))).toEqual(['a', items['hello_1.0'], src, null]);
    // A bare first segment names a collection (of the default category), never an item.
    await noMatches(single('hello_1.0', 'artifact', 'debian:suite'));
  });

  it('answers "No matches" for what does not exist or cannot be seen', async () => {
    await noMatches(single(999999, 'artifact'));
    await noMatches(single('999999@collections', 'collection'));
    await noMatches(single('sid@debian:suite', 'collection'));
    await noMatches(single('bookworm@debian:suite/missing'));
    await noMatches(single('bookworm@debian:suite/name:missing'));
    // A removed item no longer matches.
    await removeCollectionItem(world.deps, contributor, suite.id, 'note');
    await noMatches(single('bookworm@debian:suite/note'));
    // Hidden from the caller: the same answer as missing.
    await createWorkspace(world.deps, 'test', { name: 'secret' });
    const admin = await world.caller('admin');
    const { artifact: secret } = await createArtifact(world.deps, admin, { scope: 'debusine', workspace: 'secret', category: 'testing', data: {}, files: {} });
    const hidden = await createCollection(world.deps, admin, { scope: 'debusine', workspace: 'secret', name: 's', category: 'debian:suite' });
    await noMatches(single(secret.id, 'artifact'));
    await noMatches(single(`${hidden.id}@collections`, 'collection'));
    await noMatches(single('s@debian:suite', 'collection', undefined, { ...ctx, workspace: 'secret' }));
    // The admin sees them.
    expect((await single(secret.id, 'artifact', undefined, { ...ctx, caller: admin })).artifact).toBe(secret.id);
  });

  it.each([
    ['bookworm@debian:suite/hello_1.0/more', /only a collection/],
    [`1@artifacts/x`, /further segments/],
    ['bookworm@debian:suite/match:codename=bookworm', /unsupported lookup segment/],
    ['bookworm@debian:suite/', /empty/],
    ['bookworm@debian:suite/name:', /empty/],
    ['x@artifacts', /not an artifact id/],
    ['x@collections', /not a collection id/],
    ['internal@collections', /only valid inside a workflow/],
    ['internal@collections/x', /only valid inside a workflow/],
  ])('refuses %s (Lookup error)', async (lookup, message) => {
    const err = await lookupError(single(lookup));
    expect(err.message).toMatch(message);
  });

  it('accepts integers only for artifacts and collections', async () => {
    await lookupError(single(src, 'any'));
    await lookupError(single(src, 'bare'));
    await lookupError(single(0, 'artifact'));
    await lookupError(single(-1, 'collection'));
  });

  describe('expect_type', () => {
    const cases: [string, ExpectType, boolean][] = [];
    const lookups = {
      artifact: 'bookworm@debian:suite/hello_1.0',
      bare: 'bookworm@debian:suite/note',
      collection: 'bookworm@debian:suite',
      'collection item': 'envs@debian:environments/bookworm',
    };
    const accepted: Record<ExpectType, string[]> = {
      artifact: ['artifact'],
      'artifact-or-promise': ['artifact'],
      bare: ['bare'],
      collection: ['collection', 'collection item'],
      any: ['artifact', 'bare', 'collection', 'collection item'],
    };
    for (const expect of Object.keys(accepted) as ExpectType[]) {
      for (const what of Object.keys(lookups)) cases.push([what, expect, accepted[expect].includes(what)]);
    }
    it.each(cases)('%s for expect_type %s: accepted = %s', async (what, expectType, ok) => {
      const p = single(lookups[what as keyof typeof lookups], expectType);
      if (ok) await expect(p).resolves.toBeDefined();
      else await lookupError(p);
    });
  });
});

describe('workflow-internal lookups and promises', () => {
  function workflow(id: number, overrides: Partial<WorkRequest> = {}): WorkRequest {
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

  it('resolves internal@collections to the root\'s collection; a promise until the artifact replaces it', async () => {
    const internal = await ensureInternalCollection(world.deps, workflow(500));
    const wf = { ...ctx, workflowRootId: 500 };
    expect(brief(await single('internal@collections', 'collection', undefined, wf))).toEqual(['c', null, null, internal.id]);
    await noMatches(single('internal@collections/build-amd64', 'artifact-or-promise', undefined, wf));
    // Another workflow's collection is not this one's.
    await noMatches(single('internal@collections', 'collection', undefined, { ...ctx, workflowRootId: 501 }));

    const promise = await addItemAsWorkflow(
      world.deps,
      internal,
      { name: 'build-amd64', category: PROMISE_CATEGORY, data: { promise_work_request_id: 502, promise_workflow_id: 500, promise_category: 'debian:binary-package' } },
      500,
      { replace: false },
    );
    expect(brief(await single('internal@collections/build-amd64', 'artifact-or-promise', undefined, wf))).toEqual(['b', promise.id, null, null]);
    expect(brief(await single('internal@collections/name:build-amd64', 'bare', undefined, wf))).toEqual(['b', promise.id, null, null]);
    await lookupError(single('internal@collections/build-amd64', 'artifact', undefined, wf));
    // A bare item that is not a promise is not an artifact-or-promise.
    await addItemAsWorkflow(world.deps, internal, { name: 'other', category: 'debian:qa-result' }, 500, { replace: false });
    await lookupError(single('internal@collections/other', 'artifact-or-promise', undefined, wf));

    const output = await addItemAsWorkflow(world.deps, internal, { name: 'build-amd64', artifact: bin }, 500, { replace: true });
    expect(brief(await single('internal@collections/build-amd64', 'artifact', undefined, wf))).toEqual(['a', output.id, bin, null]);
    expect(brief(await single('internal@collections/build-amd64', 'artifact-or-promise', undefined, wf))).toEqual(['a', output.id, bin, null]);
  });

  it('finds the root workflow by following parents up', async () => {
    await world.deps.workRequests.commit({ create: [workflow(600), workflow(601, { parent: 600 }), workflow(602, { parent: 601, taskType: 'Worker' })] });
    expect(await workflowRootOf(world.deps, (await world.deps.workRequests.get(602))!)).toBe(600);
    expect(await workflowRootOf(world.deps, (await world.deps.workRequests.get(600))!)).toBe(600);
    expect(await workflowRootOf(world.deps, workflow(603, { taskType: 'Worker' }))).toBeUndefined();
  });

  it('acts only for user creators that still exist', async () => {
    const acting = await callerForCreator(world.deps, 'user:viewer');
    expect(acting.kind === 'user' && acting.user.username).toBe('viewer');
    await expect(callerForCreator(world.deps, 'user:ghost')).rejects.toThrow(ForbiddenError);
    await expect(callerForCreator(world.deps, 'workflow:3')).rejects.toThrow(ForbiddenError);
  });
});

describe('multiple lookups', () => {
  const multiple = (lookup: unknown, expect: ExpectType = 'any', defaultCategory?: string, c: LookupContext = ctx) =>
    resolveLookupMultiple(world.deps, c, lookup, expect, defaultCategory);
  const ids = (rs: LookupResult[]) => rs.map((r) => r.collectionItem?.id ?? `${r.resultType}${r.artifact ?? r.collection}`);

  it('filters a collection\'s active items, artifacts by default, by id', async () => {
    expect(ids(await multiple({ collection: 'bookworm@debian:suite' }, 'artifact'))).toEqual([items['hello_1.0'], items['hello_1.0_amd64']]);
    expect(ids(await multiple({ collection: 'bookworm@debian:suite', child_type: 'bare' }, 'bare'))).toEqual([items['note']]);
    expect(ids(await multiple({ collection: 'bookworm@debian:suite', child_type: 'any' }))).toEqual([items['hello_1.0'], items['hello_1.0_amd64'], items['note']]);
    expect(ids(await multiple({ collection: 'envs@debian:environments', child_type: 'collection' }, 'collection'))).toEqual([items['env']]);
    expect(ids(await multiple({ collection: 'bookworm', category: 'debian:binary-package' }, 'artifact', 'debian:suite'))).toEqual([items['hello_1.0_amd64']]);
    expect(await multiple({ collection: 'bookworm@debian:suite', name: 'nothing' }, 'artifact')).toEqual([]);
  });

  it.each([
    [{ name: 'hello_1.0' }, ['hello_1.0']],
    [{ name__startswith: 'hello_1.0' }, ['hello_1.0', 'hello_1.0_amd64']],
    [{ name__endswith: '_amd64' }, ['hello_1.0_amd64']],
    [{ name__contains: '1.0_' }, ['hello_1.0_amd64']],
    [{ data__architecture: 'amd64' }, ['hello_1.0_amd64']],
    [{ data__package: 'hello', data__version: '1.0' }, ['hello_1.0', 'hello_1.0_amd64']],
    [{ data__version__startswith: '1.' }, ['hello_1.0', 'hello_1.0_amd64']],
    [{ data__architecture__contains: 'md6' }, ['hello_1.0_amd64']],
    [{ data__tags__contains: 'b' }, ['hello_1.0']],
    [{ data__tags: ['a', 'b'] }, ['hello_1.0']],
    [{ data__architecture__endswith: '64', name__startswith: 'x' }, []],
    [{ data__missing: null }, []],
  ])('filter %j', async (filters, names) => {
    const rs = await multiple({ collection: 'bookworm@debian:suite', ...filters }, 'artifact');
    expect(rs.map((r) => r.collectionItem!.name)).toEqual(names);
  });

  it('ignores removed items', async () => {
    await removeCollectionItem(world.deps, contributor, suite.id, 'hello_1.0');
    expect(ids(await multiple({ collection: 'bookworm@debian:suite' }, 'artifact'))).toEqual([items['hello_1.0_amd64']]);
  });

  it('unites strings, integers and dicts in order, once each', async () => {
    const rs = await multiple([src, 'bookworm@debian:suite/hello_1.0_amd64', { collection: 'bookworm@debian:suite' }, src], 'artifact');
    expect(ids(rs)).toEqual([`a${src}`, items['hello_1.0_amd64'], items['hello_1.0']]);
    expect(ids(await multiple('bookworm@debian:suite/note', 'bare'))).toEqual([items['note']]);
  });

  it('refuses malformed lookups and wrong types (Lookup error), and a missing single is No matches', async () => {
    await lookupError(multiple({ collection: 'bookworm@debian:suite', child_type: 'bare' }, 'artifact'));
    await lookupError(multiple({ collection: 'bookworm@debian:suite', child_type: 'any' }, 'artifact'));
    await lookupError(multiple({ collection: 'bookworm@debian:suite', lookup__same_arch: 'x' }, 'artifact'));
    await lookupError(multiple({ collection: 'bookworm@debian:suite/hello_1.0' }, 'artifact'));
    await lookupError(multiple({ child_type: 'artifact' }, 'artifact'));
    await lookupError(multiple([true], 'artifact'));
    await lookupError(multiple(null, 'artifact'));
    await noMatches(multiple(['bookworm@debian:suite/hello_1.0', 'bookworm@debian:suite/missing'], 'artifact'));
    await noMatches(multiple({ collection: 'sid@debian:suite' }, 'artifact'));
  });
});

describe('POST /api/1.0/lookup/single/ and /multiple/ (worker only)', () => {
  async function call(routeKey: string, token: string | undefined, body: unknown) {
    const handler = httpHandler(() => world.deps, collectionRoutes(() => world.deps));
    const headers: Record<string, string> = { host: 'conveyor.test', 'content-type': 'application/json' };
    if (token) headers['token'] = token;
    const path = routeKey.split(' ')[1]!;
    const event = {
      version: '2.0',
      routeKey,
      rawPath: path,
      rawQueryString: '',
      headers,
      body: JSON.stringify(body),
      isBase64Encoded: false,
      requestContext: { http: { method: 'POST', path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'test' }, domainName: 'conveyor.test' },
    } as unknown as APIGatewayProxyEventV2;
    const res = await handler(event, {} as never);
    return { status: res.statusCode!, json: JSON.parse(String(res.body)) };
  }
  const SINGLE = 'POST /api/1.0/lookup/single/';
  const MULTIPLE = 'POST /api/1.0/lookup/multiple/';

  /** A request of `as` in priv, assigned (running) to the worker. */
  async function assigned(worker: string, as = 'contributor', overrides: Partial<WorkRequest> = {}) {
    const wr = await world.submit('noop', {}, as);
    await world.deps.workRequests.commit({
      update: [{ workRequest: { ...wr, status: 'running', worker, startedAt: '2026-01-01T00:00:00.000Z', ...overrides, version: wr.version + 1 }, expectedVersion: wr.version }],
    });
    return (await world.deps.workRequests.get(wr.id))!;
  }

  it('answers the lookup of a request assigned to the calling worker', async () => {
    const w = await world.addWorker('w1.example.org');
    const wr = await assigned(w.name);
    const res = await call(SINGLE, w.key, { lookup: 'bookworm@debian:suite/hello_1.0', work_request: wr.id, expect_type: 'artifact' });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ result_type: 'a', collection_item: items['hello_1.0'], artifact: src, collection: null });
    const bare = await call(SINGLE, w.key, { lookup: 'bookworm/note', work_request: wr.id, expect_type: 'bare', default_category: 'debian:suite' });
    expect(bare.json).toEqual({ result_type: 'b', collection_item: items['note'], artifact: null, collection: null });
    const byId = await call(SINGLE, w.key, { lookup: suite.id, work_request: wr.id, expect_type: 'collection', default_category: null });
    expect(byId.json).toEqual({ result_type: 'c', collection_item: null, artifact: null, collection: suite.id });
    const many = await call(MULTIPLE, w.key, { lookup: [{ collection: 'bookworm@debian:suite' }, src], work_request: wr.id, expect_type: 'artifact' });
    expect(many.status).toBe(200);
    expect(many.json).toEqual([
      { result_type: 'a', collection_item: items['hello_1.0'], artifact: src, collection: null },
      { result_type: 'a', collection_item: items['hello_1.0_amd64'], artifact: bin, collection: null },
      // The artifact by id is another result than the item holding it.
      { result_type: 'a', collection_item: null, artifact: src, collection: null },
    ]);
  });

  it('answers 403 "Creator disabled" problem+json while the request\'s creator is disabled; 200 again once enabled', async () => {
    const w = await world.addWorker('w1.example.org');
    const wr = await assigned(w.name);
    const body = { lookup: 'bookworm@debian:suite/hello_1.0', work_request: wr.id, expect_type: 'artifact' };
    await setUserDisabled(world.deps, 'user:admin', 'contributor', true);
    const refused = await call(SINGLE, w.key, body);
    expect([refused.status, refused.json.title]).toEqual([403, 'Creator disabled']);
    expect(refused.json.detail).toMatch(/user "contributor" is disabled/);
    expect((await call(MULTIPLE, w.key, body)).status).toBe(403);
    await setUserDisabled(world.deps, 'user:admin', 'contributor', false);
    expect((await call(SINGLE, w.key, body)).status).toBe(200);
  });

  it('answers 404 "No matches" and 400 "Lookup error"', async () => {
    const w = await world.addWorker('w1.example.org');
    const wr = await assigned(w.name);
    const missing = await call(SINGLE, w.key, { lookup: 'bookworm@debian:suite/nope', work_request: wr.id, expect_type: 'any' });
    expect([missing.status, missing.json.title]).toEqual([404, 'No matches']);
    const wrongType = await call(SINGLE, w.key, { lookup: 'bookworm@debian:suite/note', work_request: wr.id, expect_type: 'artifact' });
    expect([wrongType.status, wrongType.json.title]).toEqual([400, 'Lookup error']);
    const internal = await call(SINGLE, w.key, { lookup: 'internal@collections/x', work_request: wr.id, expect_type: 'any' });
    expect([internal.status, internal.json.title]).toEqual([400, 'Lookup error']);
    const badMultiple = await call(MULTIPLE, w.key, { lookup: { collection: 'bookworm@debian:suite', bogus: 1 }, work_request: wr.id, expect_type: 'artifact' });
    expect([badMultiple.status, badMultiple.json.title]).toEqual([400, 'Lookup error']);
    const badBody = await call(SINGLE, w.key, { lookup: 'x@y:z', work_request: wr.id, expect_type: 'something' });
    expect(badBody.status).toBe(400);
  });

  it('refuses users (403), anonymous callers (401), requests of another worker or finished (401), unknown requests (400)', async () => {
    const w1 = await world.addWorker('w1.example.org');
    const w2 = await world.addWorker('w2.example.org');
    const wr = await assigned(w1.name);
    const body = { lookup: 'bookworm@debian:suite', work_request: wr.id, expect_type: 'collection' };
    expect((await call(SINGLE, world.keys['contributor'], body)).status).toBe(403);
    expect((await call(MULTIPLE, world.keys['admin'], body)).status).toBe(403);
    expect((await call(SINGLE, undefined, body)).status).toBe(401);
    expect((await call(SINGLE, w2.key, body)).status).toBe(401);
    expect((await call(MULTIPLE, w2.key, body)).status).toBe(401);
    expect((await call(SINGLE, w1.key, { ...body, work_request: 987654 })).status).toBe(400);
    const unassigned = await world.submit('noop');
    expect((await call(SINGLE, w1.key, { ...body, work_request: unassigned.id })).status).toBe(401);
    const done = await assigned(w1.name, 'contributor', { status: 'completed', result: 'success', completedAt: '2026-01-01T00:01:00.000Z' });
    expect((await call(SINGLE, w1.key, { ...body, work_request: done.id })).status).toBe(401);
    expect((await call(SINGLE, w1.key, body)).status).toBe(200);
  });

  it('runs as the request\'s creator, not as the worker', async () => {
    await createWorkspace(world.deps, 'test', { name: 'secret' });
    const admin = await world.caller('admin');
    const { artifact: secret } = await createArtifact(world.deps, admin, { scope: 'debusine', workspace: 'secret', category: 'testing', data: {}, files: {} });
    const w = await world.addWorker('w1.example.org');
    // Workers pass every display check, but the creator has no role in "secret".
    const mine = await assigned(w.name, 'contributor');
    const res = await call(SINGLE, w.key, { lookup: secret.id, work_request: mine.id, expect_type: 'artifact' });
    expect([res.status, res.json.title]).toEqual([404, 'No matches']);
    const adminRequest = await assigned(w.name, 'admin');
    expect((await call(SINGLE, w.key, { lookup: secret.id, work_request: adminRequest.id, expect_type: 'artifact' })).json.artifact).toBe(secret.id);
  });

  it('resolves internal@collections in the root workflow of the request', async () => {
    const w = await world.addWorker('w1.example.org');
    const base = await world.submit('noop');
    const rootId = await world.deps.sequences.next('work-request');
    const midId = await world.deps.sequences.next('work-request');
    const root: WorkRequest = { ...base, id: rootId, taskType: 'Workflow', taskName: 'noop', parent: null, status: 'running', version: 1 };
    const mid: WorkRequest = { ...root, id: midId, parent: rootId };
    await world.deps.workRequests.commit({ create: [root, mid] });
    const leaf = await assigned(w.name, 'contributor', { parent: midId });
    const internal = await ensureInternalCollection(world.deps, root);
    const item = await addItemAsWorkflow(world.deps, internal, { name: 'src', artifact: src }, rootId, { replace: false });
    const res = await call(SINGLE, w.key, { lookup: 'internal@collections/src', work_request: leaf.id, expect_type: 'artifact-or-promise' });
    expect(res.json).toEqual({ result_type: 'a', collection_item: item.id, artifact: src, collection: null });
  });
});

it('maps lookup failures to DomainErrors only', async () => {
  // Guards the HTTP mapping: every failure above is a DomainError, never a bare Error.
  const err = await single('bookworm@debian:suite/x').catch((e: unknown) => e);
  expect(err).toBeInstanceOf(DomainError);
});
