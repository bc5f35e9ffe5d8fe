/**
 * Security finding 6, relations: `GET artifact-relation/` stays Debusine's bare array but is bounded
 * (MAX_RELATIONS_LISTED, then a 413 naming it), and `?limit=&cursor=` pages through any number; a
 * page's cursor never names a relation whose other end the caller may not see.
 */
import { createArtifact } from '../../../shared/app/artifacts';
import { createRelation } from '../../../shared/app/relations';
import { MAX_RELATIONS_LISTED } from '../../../shared/domain/limits';
import { artifactRoutes } from '../../../shared/http/routes/artifacts';
import { createWorld, httpClient, type World } from '../../support/world';

let world: World;
let http: ReturnType<typeof httpClient>;

beforeEach(async () => {
  world = await createWorld();
  http = httpClient(world.deps, artifactRoutes(() => world.deps));
});

async function artifactIn(workspace: string): Promise<number> {
  const owner = await world.caller('owner');
  return (await createArtifact(world.deps, owner, { scope: 'debusine', workspace, category: 'debusine:test', data: {}, files: {} })).artifact.id;
}

/** Follows `next` from `first`: every page's relation targets, and every cursor given. */
async function pages(first: string, token: string | undefined): Promise<{ targets: number[][]; cursors: string[] }> {
  const targets: number[][] = [];
  const cursors: string[] = [];
  let url: string | null = first;
  while (url !== null) {
    const res = await http('GET', url, { token });
    expect(res.status).toBe(200);
    expect(Object.keys(res.json).sort()).toEqual(['cursor', 'next', 'previous', 'results']);
    targets.push((res.json.results as { target: number }[]).map((r) => r.target));
    if (res.json.cursor) cursors.push(res.json.cursor as string);
    url = res.json.next === null ? null : (res.json.next as string).replace(/^https?:\/\/conveyor\.test/, '');
    expect(targets.length).toBeLessThan(20);
  }
  return { targets, cursors };
}

it('without limit or cursor: the bare array, by id', async () => {
  const source = await artifactIn('pub');
  const [t1, t2] = [await artifactIn('pub'), await artifactIn('pub')];
  const owner = await world.caller('owner');
  await createRelation(world.deps, owner, { artifact: source, target: t2, type: 'relates-to' });
  await createRelation(world.deps, owner, { artifact: source, target: t1, type: 'extends' });
  const res = await http('GET', `/api/1.0/artifact-relation/?artifact=${source}`, { token: world.keys['viewer'] });
  expect(res.status).toBe(200);
  expect(Array.isArray(res.json)).toBe(true);
  expect((res.json as { target: number }[]).map((r) => r.target)).toEqual([t2, t1]);
});

it(`more than MAX_RELATIONS_LISTED (${MAX_RELATIONS_LISTED}) relations: 413 naming the limit; pages still list them all`, async () => {
  const source = await artifactIn('pub');
  const types = ['relates-to', 'extends', 'built-using'] as const;
  const total = MAX_RELATIONS_LISTED + 1;
  // Straight into the repository: creating 1,001 artifacts through the use case adds nothing here.
  for (let i = 0; i < total; i++) {
    await world.deps.artifacts.createRelation({ id: 10_000 + i, artifact: source, target: 100_000 + Math.floor(i / 3), type: types[i % 3]!, createdAt: '2026-12-06T00:00:00.000Z' });
  }
  const res = await http('GET', `/api/1.0/artifact-relation/?artifact=${source}`, { token: world.keys['owner'] });
  expect(res.status).toBe(413);
  expect(res.headers['content-type']).toContain('application/problem+json');
  expect(JSON.stringify(res.json)).toContain('MAX_RELATIONS_LISTED');
  // Pages read the relations a page at a time (their targets do not exist: hidden, so each page is empty here).
  const page = await http('GET', `/api/1.0/artifact-relation/?artifact=${source}&limit=1000`, { token: world.keys['owner'] });
  expect(page.status).toBe(200);
});

it('pages the relations the caller may see; no cursor names a hidden one', async () => {
  const source = await artifactIn('pub');
  const owner = await world.caller('owner');
  // Targets alternate between the public workspace and the private one the outsider cannot see.
  const visible: number[] = [];
  const hidden: number[] = [];
  for (let i = 0; i < 6; i++) {
    const target = await artifactIn(i % 2 === 0 ? 'pub' : 'priv');
    (i % 2 === 0 ? visible : hidden).push(target);
    await createRelation(world.deps, owner, { artifact: source, target, type: 'relates-to' });
  }
  const seen = await pages(`/api/1.0/artifact-relation/?artifact=${source}&limit=2`, world.keys['outsider']);
  expect(seen.targets.flat()).toEqual(visible);
  for (const cursor of seen.cursors) {
    const decoded = Buffer.from(cursor, 'base64url').toString('utf8');
    for (const id of hidden) expect(decoded).not.toContain(String(id).padStart(16, '0'));
  }
  // The owner sees them all, in the same pages' order.
  expect((await pages(`/api/1.0/artifact-relation/?artifact=${source}&limit=4`, world.keys['owner'])).targets).toEqual([[...visible, ...hidden].sort((a, b) => a - b).slice(0, 4), [...visible, ...hidden].sort((a, b) => a - b).slice(4)]);
  // And by target.
  expect((await pages(`/api/1.0/artifact-relation/?target_artifact=${visible[0]}&limit=1`, world.keys['outsider'])).targets.flat()).toEqual([visible[0]]);
});

it.each([
  ['limit=0', 'limit'],
  ['limit=1001', 'limit'],
  ['limit=many', 'limit'],
  ['cursor=not-ours', 'cursor'],
])('?%s is a 400 naming %s', async (query, field) => {
  const source = await artifactIn('pub');
  const res = await http('GET', `/api/1.0/artifact-relation/?artifact=${source}&${query}`, { token: world.keys['owner'] });
  expect(res.status).toBe(400);
  expect(JSON.stringify(res.json)).toContain(field);
});
