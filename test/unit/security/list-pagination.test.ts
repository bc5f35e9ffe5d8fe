/**
 * Security finding 6: collections, collection items and workflow templates are listed a page at a
 * time (the artifact list's shape), never all at once; a bad cursor or limit is a 400 naming it.
 */
import { addCollectionItem, createCollection } from '../../../shared/app/collections';
import { createTemplate } from '../../../shared/app/workflow-templates';
import { collectionRoutes } from '../../../shared/http/routes/collections';
import { workflowRoutes } from '../../../shared/http/routes/workflows';
import { createWorld, httpClient, type World } from '../../support/world';

let world: World;
let http: ReturnType<typeof httpClient>;

beforeEach(async () => {
  world = await createWorld();
  http = httpClient(world.deps, { ...collectionRoutes(() => world.deps), ...workflowRoutes(() => world.deps) });
});

/** Follows `next` from `first` and returns every page's names. */
async function pages(first: string, name: (r: Record<string, unknown>) => string): Promise<string[][]> {
  const seen: string[][] = [];
  let url: string | null = first;
  while (url !== null) {
    const res = await http('GET', url, { token: world.keys['viewer'] });
    expect(res.status).toBe(200);
    expect(Object.keys(res.json).sort()).toEqual(['cursor', 'next', 'previous', 'results']);
    seen.push((res.json.results as Record<string, unknown>[]).map(name));
    const next = res.json.next as string | null;
    expect(next === null).toBe(res.json.cursor === null);
    url = next === null ? null : next.replace(/^https?:\/\/conveyor\.test/, '');
    expect(seen.length).toBeLessThan(10);
  }
  return seen;
}

it('pages collections by category then name, and `category` narrows the query', async () => {
  const contributor = await world.caller('contributor');
  for (const [name, category] of [['e', 'debian:suite'], ['a', 'debian:suite'], ['c', 'debian:environments'], ['b', 'debian:suite'], ['d', 'debian:suite']]) {
    await createCollection(world.deps, contributor, { scope: 'debusine', workspace: 'priv', name: name!, category: category! });
  }
  const name = (c: Record<string, unknown>) => `${c.name as string}@${c.category as string}`;
  expect(await pages('/api/1.0/collection/?workspace=priv&limit=2', name)).toEqual([
    ['c@debian:environments', 'a@debian:suite'],
    ['b@debian:suite', 'd@debian:suite'],
    ['e@debian:suite'],
  ]);
  expect(await pages('/api/1.0/collection/?workspace=priv&limit=3&category=debian:suite', name)).toEqual([
    ['a@debian:suite', 'b@debian:suite', 'd@debian:suite'],
    ['e@debian:suite'],
  ]);
});

it('pages the active items of a collection by name', async () => {
  const contributor = await world.caller('contributor');
  const c = await createCollection(world.deps, contributor, { scope: 'debusine', workspace: 'priv', name: 'qa', category: 'debian:suite' });
  for (const n of ['n3', 'n1', 'n5', 'n2', 'n4']) await addCollectionItem(world.deps, contributor, c.id, { name: n, category: 'debian:qa-result' });
  expect(await pages(`/api/1.0/collection/${c.id}/items/?limit=2`, (i) => i.name as string)).toEqual([['n1', 'n2'], ['n3', 'n4'], ['n5']]);
});

it('pages workflow templates by name', async () => {
  const owner = await world.caller('owner');
  for (const n of ['t4', 't2', 't1', 't3']) await createTemplate(world.deps, owner, { scope: 'debusine', workspace: 'priv', name: n, taskName: 'noop' });
  expect(await pages('/api/1.0/workflow-template/?workspace=priv&limit=3', (t) => t.name as string)).toEqual([['t1', 't2', 't3'], ['t4']]);
});

it.each([
  ['/api/1.0/collection/?workspace=priv&cursor=not-ours', 'cursor'],
  ['/api/1.0/collection/?workspace=priv&limit=1001', 'limit'],
  ['/api/1.0/collection/1/items/?limit=0', 'limit'],
  ['/api/1.0/workflow-template/?workspace=priv&cursor=eyJrIjoxfQ', 'cursor'],
  ['/api/1.0/workflow-template/?workspace=priv&limit=many', 'limit'],
])('GET %s is a 400 naming %s', async (url, field) => {
  const contributor = await world.caller('contributor');
  await createCollection(world.deps, contributor, { scope: 'debusine', workspace: 'priv', name: 'qa', category: 'debian:suite' });
  const res = await http('GET', url, { token: world.keys['viewer'] });
  expect(res.status).toBe(400);
  expect(JSON.stringify(res.json)).toContain(field);
});
