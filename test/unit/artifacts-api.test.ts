import { createHash } from 'node:crypto';
import { verifyQueuedUpload } from '../../shared/app/uploads';
import { createWorld, httpClient, sha256, type World } from '../support/world';

let world: World;
let http: ReturnType<typeof httpClient>;

beforeEach(async () => {
  world = await createWorld();
  http = httpClient(world.deps);
});

const fileDecl = (content: Buffer | string) => {
  const b = Buffer.from(content);
  return { type: 'file', size: b.length, checksums: { sha256: sha256(b) } };
};

async function create(token: string, workspace: string, files: Record<string, Buffer | string>, extra: Record<string, unknown> = {}) {
  const res = await http('POST', '/api/1.0/artifact/', {
    token,
    body: { category: 'testing', workspace, data: {}, files: Object.fromEntries(Object.entries(files).map(([p, c]) => [p, fileDecl(c)])), ...extra },
  });
  return res;
}

/** Plays the client of the presigned protocol against the memory store. */
async function presignedUpload(token: string, id: number, path: string, bytes: Buffer) {
  const plan = await http('POST', `/api/1.0/artifact/${id}/upload/${path}/`, { token, body: {} });
  expect(plan.status).toBe(200);
  if (plan.json.complete) return plan;
  if (plan.json.method === 'single') {
    world.deps.files.clientPut(plan.json.url, bytes);
  } else {
    for (const part of plan.json.parts) {
      const start = (part.part_number - 1) * plan.json.part_size;
      world.deps.files.clientPut(part.url, bytes.subarray(start, start + part.size));
    }
  }
  return http('POST', `/api/1.0/artifact/${id}/upload-complete/${path}/`, { token, body: {} });
}

describe('creating artifacts', () => {
  it('answers 201 and lists only the files that need bytes (behaviour 45)', async () => {
    const first = await create(world.keys['uploader']!, 'priv', { 'known.txt': 'known bytes' });
    expect(first.status).toBe(201);
    expect(first.json.files_to_upload).toEqual(['known.txt']);
    expect((await presignedUpload(world.keys['uploader']!, first.json.id, 'known.txt', Buffer.from('known bytes'))).status).toBe(201);

    const second = await create(world.keys['uploader']!, 'priv', { 'new.txt': 'fresh', 'empty': '', 'again.txt': 'known bytes' });
    expect(second.status).toBe(201);
    expect(second.json.files_to_upload).toEqual(['new.txt']);
    expect(second.json.files['empty'].complete).toBe(true);
    expect(second.json.files['again.txt'].complete).toBe(true);
    expect(second.json.complete).toBe(false);
    expect(second.json.created_by).toBe('user:uploader');
    expect(second.json.download_tar_gz_url).toMatch(/\/api\/1\.0\/artifact\/\d+\/download\/\?archive=tar\.gz$/);
  });

  it('makes a workspace upload bytes it only has in another workspace (behaviour 46)', async () => {
    const a = await create(world.keys['contributor']!, 'priv', { 'f': 'secret content' });
    await presignedUpload(world.keys['contributor']!, a.json.id, 'f', Buffer.from('secret content'));
    const b = await create(world.keys['contributor']!, 'pub', { 'f': 'secret content' });
    expect(b.json.files_to_upload).toEqual(['f']);
    // Stored once: the second upload verifies possession, it does not add an object.
    await presignedUpload(world.keys['contributor']!, b.json.id, 'f', Buffer.from('secret content'));
    const blobs = [...world.deps.files.objects.keys()].filter((k) => k.startsWith('blobs/'));
    expect(blobs).toEqual([`blobs/${sha256('secret content')}-14`]);
    expect([...world.deps.files.objects.keys()].filter((k) => k.startsWith('tmp/'))).toEqual([]);
  });

  it('uses the workspace expiry delay unless one is given', async () => {
    await world.deps.identity.updateWorkspace({ ...(await world.deps.identity.getWorkspace('debusine', 'priv'))!, defaultExpirationDelay: 3600, version: 2 }, 1);
    const a = await create(world.keys['uploader']!, 'priv', {});
    expect(a.json.expire_at).toBe('2026-01-01T01:00:00.000Z');
    const b = await create(world.keys['uploader']!, 'priv', {}, { expiration_delay: '1 00:00:00' });
    expect(b.json.expire_at).toBe('2026-01-02T00:00:00.000Z');
    const c = await create(world.keys['uploader']!, 'priv', {}, { expiration_delay: 0 });
    expect(c.json.expire_at).toBeNull();
  });

  it("accepts Debusine's client body: work_request null, expire_at null (workspace default) or a datetime", async () => {
    await world.deps.identity.updateWorkspace({ ...(await world.deps.identity.getWorkspace('debusine', 'priv'))!, defaultExpirationDelay: 3600, version: 2 }, 1);
    const byDefault = await create(world.keys['uploader']!, 'priv', {}, { work_request: null, expire_at: null });
    expect(byDefault.status).toBe(201);
    expect(byDefault.json.expire_at).toBe('2026-01-01T01:00:00.000Z');
    const zoned = await create(world.keys['uploader']!, 'priv', {}, { work_request: null, expire_at: '2026-03-01T12:00:00.250000+01:00' });
    expect(zoned.json.expire_at).toBe('2026-03-01T11:00:00.250Z');
    // pydantic sends a naive datetime as it is: UTC, as on Debusine's server.
    const naive = await create(world.keys['uploader']!, 'priv', {}, { work_request: null, expire_at: '2026-02-01T00:00:00' });
    expect(naive.json.expire_at).toBe('2026-02-01T00:00:00.000Z');
    const past = await create(world.keys['uploader']!, 'priv', {}, { expire_at: '2025-12-31T23:59:59Z' });
    expect(past.status).toBe(400);
    expect(past.json.validation_errors).toEqual({ expire_at: ['must be in the future'] });
    // A user may not claim a work request's output.
    expect((await create(world.keys['uploader']!, 'priv', {}, { work_request: 5 })).status).toBe(403);
  });
});

describe('presigned uploads', () => {
  it('refuses bytes that do not match and keeps the file incomplete', async () => {
    const a = await create(world.keys['uploader']!, 'priv', { 'f': 'right' });
    const res = await presignedUpload(world.keys['uploader']!, a.json.id, 'f', Buffer.from('wrong'));
    expect(res.status).toBe(409);
    expect(res.headers['content-type']).toBe('application/problem+json');
    const after = await http('GET', `/api/1.0/artifact/${a.json.id}/`, { token: world.keys['uploader'] });
    expect(after.json.files_to_upload).toEqual(['f']);
    expect(after.json.files['f'].upload_error).toMatch(/do not match/);
    expect(world.deps.artifacts.blobs.size).toBe(0);
    // A second, correct attempt succeeds.
    expect((await presignedUpload(world.keys['uploader']!, a.json.id, 'f', Buffer.from('right'))).status).toBe(201);
  });

  it('uploads big files in parts, resumes, and verifies them in the background', async () => {
    const size = 100 * 1024 * 1024 + 5;
    const big = Buffer.alloc(size, 7);
    const a = await create(world.keys['uploader']!, 'priv', { 'big.bin': big });
    const plan = await http('POST', `/api/1.0/artifact/${a.json.id}/upload/big.bin/`, { token: world.keys['uploader'], body: {} });
    expect(plan.json.method).toBe('multipart');
    expect(plan.json.parts.map((p: any) => p.size).reduce((x: number, y: number) => x + y, 0)).toBe(size);
    // Upload the first part only, then ask again: the plan resumes the same upload.
    world.deps.files.clientPut(plan.json.parts[0].url, big.subarray(0, plan.json.part_size));
    const resumed = await http('POST', `/api/1.0/artifact/${a.json.id}/upload/big.bin/`, { token: world.keys['uploader'], body: {} });
    expect(resumed.json.upload_id).toBe(plan.json.upload_id);
    expect(resumed.json.parts[0].uploaded).toBe(true);
    expect(resumed.json.parts.slice(1).every((p: any) => !p.uploaded)).toBe(true);
    const early = await http('POST', `/api/1.0/artifact/${a.json.id}/upload-complete/big.bin/`, { token: world.keys['uploader'], body: {} });
    expect(early.status).toBe(409);
    for (const part of resumed.json.parts.slice(1)) {
      const start = (part.part_number - 1) * resumed.json.part_size;
      world.deps.files.clientPut(part.url, big.subarray(start, start + part.size));
    }
    const done = await http('POST', `/api/1.0/artifact/${a.json.id}/upload-complete/big.bin/`, { token: world.keys['uploader'], body: {} });
    expect(done.status).toBe(202);
    expect(world.deps.queues.fileVerification).toEqual([{ artifactId: a.json.id, path: 'big.bin' }]);
    // Asking again while the check runs must not start a new upload over the one being checked.
    const during = await http('POST', `/api/1.0/artifact/${a.json.id}/upload/big.bin/`, { token: world.keys['uploader'], body: {} });
    expect(during.json).toEqual({ complete: false, verifying: true });
    expect(await verifyQueuedUpload(world.deps, world.deps.queues.fileVerification[0]!)).toBe('complete');
    // A replayed message changes nothing.
    expect(await verifyQueuedUpload(world.deps, world.deps.queues.fileVerification[0]!)).toBe('skipped');
    const after = await http('GET', `/api/1.0/artifact/${a.json.id}/`, { token: world.keys['uploader'] });
    expect(after.json.complete).toBe(true);
  });
});

describe('ranged uploads (Debusine protocol)', () => {
  const content = Buffer.from(Array.from({ length: 100 }, (_, i) => i));
  it('follows behaviours 47 and 48', async () => {
    const a = await create(world.keys['uploader']!, 'priv', { 'r.bin': content });
    const url = `/api/1.0/artifact/${a.json.id}/files/r.bin/`;
    const tok = world.keys['uploader'];
    const status = await http('PUT', url, { token: tok, headers: { 'content-range': 'bytes */100' } });
    expect(status.status).toBe(206);
    expect(status.headers['range']).toBe('bytes=0-0');
    const wrongSize = await http('PUT', url, { token: tok, headers: { 'content-range': 'bytes */99' } });
    expect(wrongSize.status).toBe(400);
    const first = await http('PUT', url, { token: tok, headers: { 'content-range': 'bytes 0-44/100' }, rawBody: content.subarray(0, 45) });
    expect(first.status).toBe(200);
    expect(first.headers['range']).toBe('bytes=0-45');
    const gap = await http('PUT', url, { token: tok, headers: { 'content-range': 'bytes 50-99/100' }, rawBody: content.subarray(50) });
    expect(gap.status).toBe(400);
    expect(gap.json.detail).toMatch(/continue from 45/);
    const beyond = await http('PUT', url, { token: tok, headers: { 'content-range': 'bytes 45-100/100' }, rawBody: content.subarray(45) });
    expect(beyond.status).toBe(400);
    const shortBody = await http('PUT', url, { token: tok, headers: { 'content-range': 'bytes 45-99/100' }, rawBody: content.subarray(45, 60) });
    expect(shortBody.status).toBe(400);
    const last = await http('PUT', url, { token: tok, headers: { 'content-range': 'bytes 45-99/100' }, rawBody: content.subarray(45) });
    expect(last.status).toBe(201);
    expect((await http('PUT', url, { token: tok, headers: { 'content-range': 'bytes */100' } })).status).toBe(200);
    expect((await http('PUT', url, { token: tok, headers: { 'content-range': 'bytes 0-99/100' }, rawBody: content })).status).toBe(201);
    const stored = world.deps.files.objects.get(`blobs/${sha256(content)}-100`);
    expect(stored?.equals(content)).toBe(true);
    expect([...world.deps.files.objects.keys()].filter((k) => k.startsWith('tmp/'))).toEqual([]);
  });

  it('answers 409 to wrong bytes and starts over', async () => {
    const a = await create(world.keys['uploader']!, 'priv', { 'r.bin': content });
    const url = `/api/1.0/artifact/${a.json.id}/files/r.bin/`;
    const bad = Buffer.from(content);
    bad[3] = 255;
    const res = await http('PUT', url, { token: world.keys['uploader'], headers: { 'content-range': 'bytes 0-99/100' }, rawBody: bad });
    expect(res.status).toBe(409);
    const status = await http('PUT', url, { token: world.keys['uploader'], headers: { 'content-range': 'bytes */100' } });
    expect(status.headers['range']).toBe('bytes=0-0');
    expect([...world.deps.files.objects.keys()]).toEqual([]);
  });
});

describe('downloads', () => {
  it('redirects to the stored object of a complete file and refuses incomplete ones', async () => {
    const a = await create(world.keys['uploader']!, 'pub', { 'dir/f.txt': 'hello', 'g': 'later' });
    await presignedUpload(world.keys['uploader']!, a.json.id, 'dir/f.txt', Buffer.from('hello'));
    const file = await http('GET', `/api/1.0/artifact/${a.json.id}/files/dir/f.txt/`);
    expect(file.status).toBe(302);
    expect(file.headers['location']).toContain(encodeURIComponent(`blobs/${sha256('hello')}-5`));
    expect((await http('GET', `/api/1.0/artifact/${a.json.id}/files/g/`)).status).toBe(404);
    expect((await http('GET', `/api/1.0/artifact/${a.json.id}/download/?archive=tar.gz`)).status).toBe(404);
  });
});

describe('immutability, data and files', () => {
  it('refuses every change to an immutable artifact with 409', async () => {
    const a = await create(world.keys['contributor']!, 'priv', { 'f': 'x' }, { immutable: true });
    const tok = world.keys['contributor'];
    expect((await http('PATCH', `/api/1.0/artifact/${a.json.id}/`, { token: tok, body: { data: { a: 1 } } })).status).toBe(409);
    expect((await http('DELETE', `/api/1.0/artifact/${a.json.id}/`, { token: tok })).status).toBe(409);
    expect((await http('POST', `/api/1.0/artifact/${a.json.id}/attach/`, { token: tok, body: { files: { g: fileDecl('y') } } })).status).toBe(409);
    expect((await http('DELETE', `/api/1.0/artifact/${a.json.id}/files/f/`, { token: tok })).status).toBe(409);
    // Its declared bytes may still be uploaded: that completes it without changing it.
    expect((await presignedUpload(tok!, a.json.id, 'f', Buffer.from('x'))).status).toBe(201);
  });

  it('sets data, attaches and removes files, then freezes', async () => {
    const tok = world.keys['uploader'];
    const a = await create(tok!, 'priv', { 'f': 'x' });
    const patched = await http('PATCH', `/api/1.0/artifact/${a.json.id}/`, { token: tok, body: { data: { version: '1.0' } } });
    expect(patched.json.data).toEqual({ version: '1.0' });
    const attached = await http('POST', `/api/1.0/artifact/${a.json.id}/attach/`, { token: tok, body: { files: { g: fileDecl('y') } } });
    expect(attached.json.files_to_upload).toEqual(['f', 'g']);
    expect((await http('POST', `/api/1.0/artifact/${a.json.id}/attach/`, { token: tok, body: { files: { g: fileDecl('y') } } })).status).toBe(409);
    expect((await http('DELETE', `/api/1.0/artifact/${a.json.id}/files/g/`, { token: tok })).status).toBe(204);
    const frozen = await http('PATCH', `/api/1.0/artifact/${a.json.id}/`, { token: tok, body: { immutable: true } });
    expect(frozen.json.immutable).toBe(true);
    expect((await http('PATCH', `/api/1.0/artifact/${a.json.id}/`, { token: tok, body: { immutable: false } })).status).toBe(400);
  });

  it('records deletions in the audit log', async () => {
    const a = await create(world.keys['contributor']!, 'priv', {});
    expect((await http('DELETE', `/api/1.0/artifact/${a.json.id}/`, { token: world.keys['contributor'] })).status).toBe(204);
    const entry = world.deps.audit.entries.at(-1)!;
    expect(entry).toMatchObject({ actor: 'user:contributor', action: 'artifact.delete', details: { artifact: a.json.id } });
    expect((await http('GET', `/api/1.0/artifact/${a.json.id}/`, { token: world.keys['contributor'] })).status).toBe(404);
  });
});

describe('relations (behaviour 49)', () => {
  it('creates once (201), then answers 200, refuses incomplete artifacts and deletes', async () => {
    const tok = world.keys['contributor'];
    const a = await create(tok!, 'priv', {});
    const b = await create(tok!, 'priv', {});
    const body = { artifact: a.json.id, target: b.json.id, type: 'built-using' };
    const first = await http('POST', '/api/1.0/artifact-relation/', { token: tok, body });
    expect(first.status).toBe(201);
    const again = await http('POST', '/api/1.0/artifact-relation/', { token: tok, body });
    expect(again.status).toBe(200);
    expect(again.json.id).toBe(first.json.id);
    const incomplete = await create(tok!, 'priv', { f: 'x' });
    const refused = await http('POST', '/api/1.0/artifact-relation/', { token: tok, body: { ...body, target: incomplete.json.id } });
    expect(refused.status).toBe(400);
    expect(refused.json.validation_errors.target[0]).toMatch(/incomplete/);
    const list = await http('GET', `/api/1.0/artifact-relation/?artifact=${a.json.id}`, { token: tok });
    expect(list.json).toEqual([{ id: first.json.id, artifact: a.json.id, target: b.json.id, type: 'built-using' }]);
    const reverse = await http('GET', `/api/1.0/artifact-relation/?target_artifact=${b.json.id}`, { token: tok });
    expect(reverse.json).toHaveLength(1);
    expect((await http('GET', '/api/1.0/artifact-relation/', { token: tok })).status).toBe(400);
    expect((await http('DELETE', `/api/1.0/artifact-relation/${first.json.id}/`, { token: tok })).status).toBe(204);
    expect((await http('DELETE', `/api/1.0/artifact-relation/${first.json.id}/`, { token: tok })).status).toBe(404);
  });
});

describe('listing', () => {
  it('filters by category and creator and pages with a cursor, newest first', async () => {
    for (let i = 0; i < 5; i++) await create(world.keys['uploader']!, 'priv', {}, { category: i % 2 ? 'debian:lintian' : 'testing' });
    await create(world.keys['contributor']!, 'priv', {});
    const tok = world.keys['viewer'];
    const page1 = await http('GET', '/api/1.0/artifact/?workspace=priv&limit=4', { token: tok });
    expect(page1.json.results.map((a: any) => a.id)).toEqual([6, 5, 4, 3]);
    const page2 = await http('GET', `/api/1.0/artifact/?workspace=priv&limit=4&cursor=${page1.json.cursor}`, { token: tok });
    expect(page2.json.results.map((a: any) => a.id)).toEqual([2, 1]);
    expect(page2.json.next).toBeNull();
    const lintian = await http('GET', '/api/1.0/artifact/?workspace=priv&category=debian:lintian', { token: tok });
    expect(lintian.json.results.map((a: any) => a.id)).toEqual([4, 2]);
    const mine = await http('GET', '/api/1.0/artifact/?workspace=priv&created_by=user:contributor', { token: tok });
    expect(mine.json.results.map((a: any) => a.id)).toEqual([6]);
  });
});

describe('identity', () => {
  it('answers whoami for users and anonymous callers', async () => {
    expect((await http('GET', '/api/1.0/whoami/', { token: world.keys['viewer'] })).json).toEqual({ user: 'viewer', auth: true, worker_token: false, is_admin: false });
    expect((await http('GET', '/api/1.0/whoami/')).json).toMatchObject({ user: null, auth: false });
  });
  it('lists only the workspaces a caller can see', async () => {
    const names = async (tok?: string) => (await http('GET', '/api/1.0/workspace/', { token: tok })).json.results.map((w: any) => w.name);
    expect(await names()).toEqual(['pub']);
    expect(await names(world.keys['outsider'])).toEqual(['pub']);
    expect(await names(world.keys['viewer'])).toEqual(['priv', 'pub']);
    expect(await names(world.keys['admin'])).toEqual(['System', 'priv', 'pub']);
  });
  it('records last use of a token', async () => {
    await http('GET', '/api/1.0/whoami/', { token: world.keys['viewer'] });
    const hash = createHash('sha256').update(world.keys['viewer']!).digest('hex');
    expect(world.deps.identity.tokens.get(hash)?.lastSeenAt).toBe('2026-01-01T00:00:00.000Z');
  });
});
