import { badInputCases, badInputTarget, permissionCases, runPermissionCase } from '../support/contract';
import { createWorld, httpClient, type World } from '../support/world';

let world: World;
let http: ReturnType<typeof httpClient>;
beforeEach(async () => {
  world = await createWorld();
  http = httpClient(world.deps);
});

describe('permission matrix (memory backend)', () => {
  it.each(permissionCases)('$actor $op in $workspace → $expected', async (c) => {
    expect(await runPermissionCase(http, world.keys, c)).toBe(c.expected);
  });
  it('lets an uploader change and delete its own artifact', async () => {
    const created = await http('POST', '/api/1.0/artifact/', { token: world.keys['uploader'], body: { category: 'testing', workspace: 'priv' } });
    const url = `/api/1.0/artifact/${created.json.id}/`;
    expect((await http('PATCH', url, { token: world.keys['uploader'], body: { data: { a: 1 } } })).status).toBe(200);
    expect((await http('DELETE', url, { token: world.keys['uploader'] })).status).toBe(204);
  });
});

describe('bad input (memory backend)', () => {
  it.each(badInputCases)('$name → $status', async (c) => {
    const artifactId = await badInputTarget(http, world.keys);
    const before = JSON.stringify([[...world.deps.artifacts.artifacts], [...world.deps.artifacts.files].map(([k, v]) => [k, [...v]]), [...world.deps.artifacts.relations]]);
    const req = c.request({ artifactId, keys: world.keys });
    const res = await http(req.method, req.url, req);
    expect(res.status).toBe(c.status);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(res.json).toMatchObject({ status: c.status, title: expect.any(String) });
    if (c.field) expect(Object.keys(res.json.validation_errors ?? {})).toContain(c.field);
    const after = JSON.stringify([[...world.deps.artifacts.artifacts], [...world.deps.artifacts.files].map(([k, v]) => [k, [...v]]), [...world.deps.artifacts.relations]]);
    // A refused checksum resets the upload; otherwise nothing may change at all.
    if (c.status !== 409) expect(after).toBe(before);
    expect(world.deps.artifacts.blobs.size).toBe(0);
  });
});
