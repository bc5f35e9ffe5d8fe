/** Conditional GETs: every 200 GET carries an ETag; If-None-Match with it answers 304 without a body. */
import { etagOf, ifNoneMatchMatches } from '../../shared/http/etag';
import { createWorld, httpClient, type World } from '../support/world';

let world: World;
let http: ReturnType<typeof httpClient>;
beforeEach(async () => {
  world = await createWorld();
  http = httpClient(world.deps);
});

describe('ETag and If-None-Match on GET', () => {
  it('answers 304 to an unchanged artifact, 200 with a new tag once it changed', async () => {
    const token = world.keys['uploader'];
    const created = await http('POST', '/api/1.0/artifact/', { token, body: { category: 'testing', workspace: 'priv', data: { a: 1 } } });
    expect(created.status).toBe(201);
    expect(created.headers['etag']).toBeUndefined(); // only GETs are tagged
    const url = `/api/1.0/artifact/${created.json.id}/`;

    const first = await http('GET', url, { token });
    expect(first.status).toBe(200);
    const etag = first.headers['etag'] as string;
    expect(etag).toMatch(/^"[A-Za-z0-9_-]{27}"$/);
    expect(first.headers['vary']).toBe('Token');

    const unchanged = await http('GET', url, { token, headers: { 'if-none-match': etag } });
    expect(unchanged.status).toBe(304);
    expect(unchanged.json).toBeUndefined(); // no body
    expect(unchanged.headers['etag']).toBe(etag);
    // Weak form and lists match too; another tag does not.
    expect((await http('GET', url, { token, headers: { 'if-none-match': `"other", W/${etag}` } })).status).toBe(304);
    expect((await http('GET', url, { token, headers: { 'if-none-match': '"other"' } })).status).toBe(200);

    expect((await http('PATCH', url, { token, body: { data: { a: 2 } } })).status).toBe(200);
    const changed = await http('GET', url, { token, headers: { 'if-none-match': etag } });
    expect(changed.status).toBe(200);
    expect(changed.json.data).toEqual({ a: 2 });
    expect(changed.headers['etag']).not.toBe(etag);
  });

  it('tags lists, and never turns an error into a 304', async () => {
    const token = world.keys['uploader'];
    const list = await http('GET', '/api/1.0/artifact/?workspace=priv', { token });
    expect(list.status).toBe(200);
    expect((await http('GET', '/api/1.0/artifact/?workspace=priv', { token, headers: { 'if-none-match': list.headers['etag'] as string } })).status).toBe(304);
    const missing = await http('GET', '/api/1.0/artifact/999999/', { token, headers: { 'if-none-match': '*' } });
    expect(missing.status).toBe(404);
    expect(missing.headers['etag']).toBeUndefined();
  });

  it('compares tags as RFC 9110 says for If-None-Match', () => {
    const tag = etagOf('{"a":1}');
    expect(tag).toBe(etagOf('{"a":1}'));
    expect(tag).not.toBe(etagOf('{"a":2}'));
    expect(ifNoneMatchMatches(undefined, tag)).toBe(false);
    expect(ifNoneMatchMatches('*', tag)).toBe(true);
    expect(ifNoneMatchMatches(` "x" ,${tag}`, tag)).toBe(true);
    expect(ifNoneMatchMatches(`W/${tag}`, tag)).toBe(true);
    expect(ifNoneMatchMatches('"x"', tag)).toBe(false);
  });
});
