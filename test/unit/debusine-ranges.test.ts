/**
 * Debusine's ranged uploads through the CloudFront behaviour: the two CloudFront Functions (run as the
 * local gateway runs them) and the recorder that S3's notifications reach (shared/app/debusine-ranges.ts).
 */
import { compileCloudFrontFunction, runCloudFrontFunction } from '../../cli/dev/debusine-range-edge';
import { recordStoredRange } from '../../shared/app/debusine-ranges';
import {
  DEBUSINE_RANGE_ORIGIN_ID,
  RANGE_VIEWER_REQUEST_SOURCE,
  RANGE_VIEWER_RESPONSE_SOURCE,
} from '../../shared/formats/debusine-range-edge';
import { createWorld, httpClient, sha256, type World } from '../support/world';

let world: World;
let http: ReturnType<typeof httpClient>;
beforeEach(async () => {
  world = await createWorld();
  http = httpClient(world.deps);
});

const viewerRequest = compileCloudFrontFunction(RANGE_VIEWER_REQUEST_SOURCE);
const viewerResponse = compileCloudFrontFunction(RANGE_VIEWER_RESPONSE_SOURCE);
type Headers = Record<string, { value: string }>;

function atTheEdge(uri: string, headers: Record<string, string>, method = 'PUT') {
  const request = { method, uri, querystring: {}, cookies: {}, headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, { value: v }])) };
  return runCloudFrontFunction(viewerRequest, { version: '1.0', context: { eventType: 'viewer-request' }, viewer: { ip: '127.0.0.1' }, request });
}

/** What CloudFront does with a range: the function, S3's PutObject (memory store), S3's 200 shaped by the response function. */
async function putRange(token: string | undefined, id: number, path: string, range: string, body: Buffer) {
  const { result, origin } = atTheEdge(`/api/1.0/artifact/${id}/files/${encodeURIComponent(path)}/`, { 'content-range': range, ...(token ? { token } : {}) });
  if ('statusCode' in result) return { status: result.statusCode, key: undefined, headers: {} as Headers };
  expect(origin).toBe(DEBUSINE_RANGE_ORIGIN_ID);
  const key = result.uri.slice(1);
  const metadata = Object.fromEntries(Object.entries(result.headers as Headers).filter(([k]) => k.startsWith('x-amz-meta-')).map(([k, v]) => [k.slice(11), v.value]));
  await world.deps.files.put(key, body, undefined, metadata);
  const answered = runCloudFrontFunction(viewerResponse, {
    version: '1.0',
    context: { eventType: 'viewer-response' },
    viewer: { ip: '127.0.0.1' },
    request: result,
    response: { statusCode: 200, headers: { 'x-amz-request-id': { value: 'x' } } },
  }).result as { statusCode: number; headers: Headers };
  return { status: answered.statusCode, key, headers: answered.headers };
}

async function createArtifact(token: string, files: Record<string, Buffer>) {
  const decl = Object.fromEntries(Object.entries(files).map(([p, b]) => [p, { type: 'file', size: b.length, checksums: { sha256: sha256(b) } }]));
  const res = await http('POST', '/api/1.0/artifact/', { token, body: { category: 'testing', workspace: 'priv', data: {}, files: decl } });
  expect(res.status).toBe(201);
  return res.json.id as number;
}

/** Over DEBUSINE_RANGE_MIN_FILE_BYTES: smaller files keep going through the API. */
const SIZE = 5 * 1024 * 1024 + 100;
const SPLIT = 3 * 1024 * 1024;
const content = Buffer.from(Array.from({ length: SIZE }, (_, i) => (i * 7) % 256));

describe('the CloudFront Functions of the ranged-upload path', () => {
  it('send a range with a token to the bucket under its staging key, keeping only the hash of the token', () => {
    const { result, origin } = atTheEdge('/api/1.0/artifact/7/files/dir/a%20b.deb/', { 'content-range': `bytes 0-44/${SIZE}`, token: 'secret' });
    expect(origin).toBe(DEBUSINE_RANGE_ORIGIN_ID);
    const r = result as { uri: string; headers: Headers };
    expect(r.uri).toBe(`/tmp/debusine-ranges/7/${sha256(Buffer.from('dir/a b.deb'))}/0-44-${SIZE}`);
    expect(r.headers['x-amz-meta-token-sha256']?.value).toBe(sha256(Buffer.from('secret')));
    expect(r.headers['token']).toBeUndefined();
  });

  it('leave the probe, other methods and other paths to the API', () => {
    expect(atTheEdge('/api/1.0/artifact/7/files/a/', { 'content-range': `bytes */${SIZE}`, token: 't' }).origin).toBeUndefined();
    // A file that fits the API in one range keeps completing there, before the client's next step.
    expect(atTheEdge('/api/1.0/artifact/7/files/a/', { 'content-range': 'bytes 0-99/100', token: 't' }).origin).toBeUndefined();
    expect(atTheEdge('/api/1.0/artifact/7/files/a/', { token: 't' }, 'GET').origin).toBeUndefined();
    expect(atTheEdge('/api/1.0/artifact/7/files/a/', { token: 't' }, 'DELETE').origin).toBeUndefined();
  });

  it('refuse a range without a token (401), beyond its size or over 50 MiB (400)', () => {
    const status = (headers: Record<string, string>) => (atTheEdge('/api/1.0/artifact/7/files/a/', headers).result as { statusCode?: number }).statusCode;
    expect(status({ 'content-range': `bytes 0-9/${SIZE}` })).toBe(401);
    expect(status({ 'content-range': `bytes 0-${SIZE}/${SIZE}`, token: 't' })).toBe(400);
    expect(status({ 'content-range': `bytes 9-3/${SIZE}`, token: 't' })).toBe(400);
    expect(status({ 'content-range': `bytes 0-${50 * 1024 * 1024}/${200 * 1024 * 1024}`, token: 't' })).toBe(400);
  });
});

describe('recording the stored ranges', () => {
  it('answers 200 + Range, then 201 for the last range; the file completes when its ranges meet, in any order', async () => {
    const token = world.keys['uploader']!;
    const id = await createArtifact(token, { 'r.bin': content });
    // The last range is stored and notified first (S3 promises no order).
    const last = await putRange(token, id, 'r.bin', `bytes ${SPLIT}-${SIZE - 1}/${SIZE}`, content.subarray(SPLIT));
    expect(last.status).toBe(201);
    expect(await recordStoredRange(world.deps, last.key!)).toEqual({ kind: 'waiting', received: 0 });
    const first = await putRange(token, id, 'r.bin', `bytes 0-${SPLIT - 1}/${SIZE}`, content.subarray(0, SPLIT));
    expect(first.status).toBe(200);
    expect(first.headers['range']?.value).toBe(`bytes=0-${SPLIT}`);
    expect(await recordStoredRange(world.deps, first.key!)).toEqual({ kind: 'assembled' });
    // A repeated notification finds nothing left to do.
    expect(await recordStoredRange(world.deps, last.key!)).toEqual(expect.objectContaining({ kind: 'discarded' }));
    expect(world.deps.files.objects.get(`blobs/${sha256(content)}-${SIZE}`)?.equals(content)).toBe(true);
    expect([...world.deps.files.objects.keys()].filter((k) => k.startsWith('tmp/'))).toEqual([]);
    const after = await http('GET', `/api/1.0/artifact/${id}/`, { token });
    expect(after.json.files['r.bin'].complete).toBe(true);
    // The API's probe now says so: Debusine's client skips the file.
    expect((await http('PUT', `/api/1.0/artifact/${id}/files/r.bin/`, { token, headers: { 'content-range': `bytes */${SIZE}` } })).status).toBe(200);
  });

  it("discards a range whose token is unknown or may not upload to the artifact, and a range that is not the size it names", async () => {
    const id = await createArtifact(world.keys['uploader']!, { 'r.bin': content });
    const unknown = await putRange('not-a-token', id, 'r.bin', `bytes 0-${SIZE - 1}/${SIZE}`, content);
    expect(await recordStoredRange(world.deps, unknown.key!)).toEqual(expect.objectContaining({ kind: 'discarded', reason: expect.stringMatching(/refused/) }));
    const outsider = await putRange(world.keys['outsider'], id, 'r.bin', `bytes 0-${SIZE - 1}/${SIZE}`, content);
    expect(await recordStoredRange(world.deps, outsider.key!)).toEqual(expect.objectContaining({ kind: 'discarded' }));
    const short = await putRange(world.keys['uploader'], id, 'r.bin', `bytes 0-${SIZE - 1}/${SIZE}`, content.subarray(0, 50));
    expect(await recordStoredRange(world.deps, short.key!)).toEqual(expect.objectContaining({ kind: 'discarded', reason: expect.stringMatching(/ 50 arrived/) }));
    expect([...world.deps.files.objects.keys()].filter((k) => k.startsWith('tmp/'))).toEqual([]);
    const after = await http('GET', `/api/1.0/artifact/${id}/`, { token: world.keys['uploader'] });
    expect(after.json.files['r.bin'].complete).toBe(false);
  });

  it('keeps the file incomplete when the assembled bytes do not match its SHA-256, and removes the ranges', async () => {
    const token = world.keys['uploader']!;
    const id = await createArtifact(token, { 'r.bin': content });
    const bad = Buffer.from(content);
    bad[3] = 255;
    const range = await putRange(token, id, 'r.bin', `bytes 0-${SIZE - 1}/${SIZE}`, bad);
    await expect(recordStoredRange(world.deps, range.key!)).rejects.toThrow(/SHA-256/);
    expect([...world.deps.files.objects.keys()].filter((k) => k.startsWith('tmp/'))).toEqual([]);
    expect((await http('GET', `/api/1.0/artifact/${id}/`, { token })).json.files['r.bin'].complete).toBe(false);
  });
});
