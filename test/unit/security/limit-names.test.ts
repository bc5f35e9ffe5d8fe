/**
 * docs/security.md, "Limits": each limit listed there is answered with a 400/413 problem+json that
 * names it (limits.test.ts, in-function-limits.test.ts and relation-listing.test.ts cover the
 * others), and a list that mixes workspaces stops after MAX_HIDDEN_PAGES_SKIPPED hidden pages.
 */
import { createArtifact } from '../../../shared/app/artifacts';
import { createWorkRequest, listWorkRequests } from '../../../shared/app/work-requests';
import { MAX_HIDDEN_PAGES_SKIPPED } from '../../../shared/domain/limits';
import { MAX_NOTIFICATION_ADDRESSES, MAX_TAGS_PER_LIST } from '../../../shared/domain/limits';
import { ValidationError } from '../../../shared/domain/errors';
import { MAX_JSON_BODY_BYTES } from '../../../shared/http/request';
import { MAX_PAGE_SIZE } from '../../../shared/http/paged-list';
import { auditRoutes } from '../../../shared/http/routes/admin';
import { MAX_FILE_SIZE, MAX_FILES_PER_REQUEST } from '../../../shared/app/artifacts';
import { createWorld, httpClient, sha256, type World } from '../../support/world';
import { workApiClient, type ApiReply } from '../../support/work-api';

let world: World;
beforeEach(async () => {
  world = await createWorld();
});

function expectLimitProblem(res: Pick<ApiReply, 'status' | 'headers' | 'json'>, status: number, limit: string) {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toBe('application/problem+json');
  expect(JSON.stringify(res.json)).toContain(limit);
}

const createRequest = (body: Record<string, unknown>) =>
  workApiClient(world.deps)('POST', '/api/1.0/work-request/', { token: world.keys['contributor'], body: { workspace: 'priv', ...body } });

it('a JSON body above MAX_JSON_BODY_BYTES is 413 naming it, and nothing is stored', async () => {
  const res = await createRequest({ task_name: 'noop', task_data: { padding: 'x'.repeat(MAX_JSON_BODY_BYTES) } });
  expectLimitProblem(res, 413, 'MAX_JSON_BODY_BYTES');
  expect(world.deps.workRequests.items.size).toBe(0);
});

it('a page above MAX_PAGE_SIZE is 400 naming it, on the paged lists and the audit log', async () => {
  const work = workApiClient(world.deps);
  expectLimitProblem(await work('GET', `/api/1.0/work-request/?limit=${MAX_PAGE_SIZE + 1}`, { token: world.keys['viewer'] }), 400, 'MAX_PAGE_SIZE');
  expect((await work('GET', `/api/1.0/work-request/?limit=${MAX_PAGE_SIZE}`, { token: world.keys['viewer'] })).status).toBe(200);
  const http = httpClient(world.deps, auditRoutes(() => world.deps));
  expectLimitProblem(await http('GET', `/api/1.0/audit/?limit=${MAX_PAGE_SIZE + 1}`, { token: world.keys['admin'] }), 400, 'MAX_PAGE_SIZE');
  expect((await http('GET', `/api/1.0/audit/?limit=${MAX_PAGE_SIZE}`, { token: world.keys['admin'] })).status).toBe(200);
});

it('lintian tag lists above MAX_TAGS_PER_LIST and notification addresses above MAX_NOTIFICATION_ADDRESSES are 400 naming them', async () => {
  const tags = Array.from({ length: MAX_TAGS_PER_LIST + 1 }, (_, i) => `tag-${i}`);
  expectLimitProblem(await createRequest({ task_name: 'lintian', task_data: { input: { binary_artifacts: [1] }, include_tags: tags } }), 400, 'MAX_TAGS_PER_LIST');
  const to = Array.from({ length: MAX_NOTIFICATION_ADDRESSES + 1 }, (_, i) => `u${i}@example.org`);
  const reaction = { action: 'send-notification', channel: 'x', data: { to } };
  expectLimitProblem(await createRequest({ task_name: 'noop', task_data: {}, event_reactions: { on_success: [reaction] } }), 400, 'MAX_NOTIFICATION_ADDRESSES');
  expect(world.deps.workRequests.items.size).toBe(0);
});

it('a file above MAX_FILE_SIZE is 400 naming it; more than MAX_FILES_PER_REQUEST files is refused naming it; nothing is stored', async () => {
  const http = httpClient(world.deps);
  const huge = await http('POST', '/api/1.0/artifact/', {
    token: world.keys['contributor'],
    body: { category: 'testing', workspace: 'priv', data: {}, files: { big: { type: 'file', size: MAX_FILE_SIZE + 1, checksums: { sha256: sha256('x') } } } },
  });
  expectLimitProblem(huge, 400, 'MAX_FILE_SIZE');
  // Through the use case: so many declarations in JSON are above the HTTP body limit already.
  const files = Object.fromEntries(Array.from({ length: MAX_FILES_PER_REQUEST + 1 }, (_, i) => [`f${i}`, { size: 0, sha256: sha256('') }]));
  const tooMany = createArtifact(world.deps, await world.caller('contributor'), { scope: 'debusine', workspace: 'priv', category: 'testing', data: {}, files });
  await expect(tooMany).rejects.toBeInstanceOf(ValidationError);
  await expect(tooMany).rejects.toMatchObject({ fieldErrors: { files: [expect.stringContaining('MAX_FILES_PER_REQUEST')] } });
  const listed = await http('GET', '/api/1.0/artifact/?workspace=priv', { token: world.keys['contributor'] });
  expect(listed.json.results).toEqual([]);
});

describe('MAX_HIDDEN_PAGES_SKIPPED', () => {
  /** One visible request (in the public workspace), then `hidden` newer ones in the private workspace. */
  async function seed(hidden: number) {
    const contributor = await world.caller('contributor');
    const visible = await createRequestAs(contributor, 'pub');
    for (let i = 0; i < hidden; i++) await createRequestAs(contributor, 'priv');
    return visible;
  }
  async function createRequestAs(caller: Awaited<ReturnType<World['caller']>>, workspace: string) {
    world.deps.clock.advance(1000);
    return createWorkRequest(world.deps, caller, { scope: 'debusine', workspace, taskName: 'noop', taskData: {} });
  }
  function countListReads() {
    const repo = world.deps.workRequests;
    const list = repo.list.bind(repo);
    let reads = 0;
    repo.list = (input) => {
      reads++;
      return list(input);
    };
    return () => reads;
  }

  it('a list that mixes workspaces reads on past hidden pages to the next visible request, without a cursor naming a hidden one', async () => {
    const visible = await seed(MAX_HIDDEN_PAGES_SKIPPED - 1);
    const reads = countListReads();
    const page = await listWorkRequests(world.deps, await world.caller('anonymous'), { scope: 'debusine', limit: 1 });
    expect(page).toEqual({ items: [visible] });
    expect(reads()).toBe(MAX_HIDDEN_PAGES_SKIPPED);
  });

  it('stops after MAX_HIDDEN_PAGES_SKIPPED pages of hidden requests: an empty, final page', async () => {
    await seed(MAX_HIDDEN_PAGES_SKIPPED + 2);
    const reads = countListReads();
    const page = await listWorkRequests(world.deps, await world.caller('anonymous'), { scope: 'debusine', limit: 1 });
    expect(page).toEqual({ items: [] });
    expect(reads()).toBe(MAX_HIDDEN_PAGES_SKIPPED);
  });
});
