/**
 * Security finding 6: work the 29 s API function does itself is bounded by named limits answered
 * with 413 problem+json (tar.gz downloads, reassembly of ranged uploads), before any of it starts.
 */
import { createArtifact } from '../../../shared/app/artifacts';
import { MAX_ARCHIVE_BYTES, MAX_ARCHIVE_FILES, MAX_RANGED_UPLOAD_BYTES } from '../../../shared/domain/limits';
import { createWorld, httpClient, sha256, type World } from '../../support/world';

let world: World;
let http: ReturnType<typeof httpClient>;
beforeEach(async () => {
  world = await createWorld();
  http = httpClient(world.deps);
});

function expect413(res: { status: number; headers: Record<string, string>; json: unknown }, limit: string) {
  expect(res.status).toBe(413);
  expect(res.headers['content-type']).toBe('application/problem+json');
  expect(JSON.stringify(res.json)).toContain(limit);
}

async function artifactWith(files: Record<string, { size: number; sha256: string }>) {
  const { artifact } = await createArtifact(world.deps, await world.caller('contributor'), { scope: 'debusine', workspace: 'pub', category: 'testing', data: {}, files });
  return artifact.id;
}

it(`a tar.gz of more than MAX_ARCHIVE_BYTES is 413 naming the limit, even for an anonymous viewer`, async () => {
  const id = await artifactWith({ big: { size: MAX_ARCHIVE_BYTES, sha256: sha256('a') }, more: { size: 1, sha256: sha256('b') } });
  expect413(await http('GET', `/api/1.0/artifact/${id}/download/?archive=tar.gz`), 'MAX_ARCHIVE_BYTES');
});

it('a tar.gz of more than MAX_ARCHIVE_FILES files is 413 naming the limit', async () => {
  const files = Object.fromEntries(Array.from({ length: MAX_ARCHIVE_FILES + 1 }, (_, i) => [`f${i}`, { size: 0, sha256: sha256('') }]));
  const id = await artifactWith(files);
  expect413(await http('GET', `/api/1.0/artifact/${id}/download/`, { token: world.keys['viewer'] }), 'MAX_ARCHIVE_FILES');
});

it('a ranged upload of a file above MAX_RANGED_UPLOAD_BYTES is 413 naming the limit, and stores no chunk', async () => {
  const size = MAX_RANGED_UPLOAD_BYTES + 1;
  const id = await artifactWith({ 'huge.deb': { size, sha256: sha256('x') } });
  const res = await http('PUT', `/api/1.0/artifact/${id}/files/huge.deb`, {
    token: world.keys['contributor'],
    rawBody: Buffer.from('0123456789'),
    headers: { 'content-range': `bytes 0-9/${size}`, 'content-type': 'application/octet-stream' },
  });
  expect413(res, 'MAX_RANGED_UPLOAD_BYTES');
  const file = (await world.deps.artifacts.get(id))!.files.find((f) => f.path === 'huge.deb')!;
  expect(file.upload?.rangedChunks ?? []).toEqual([]);
});

it('a file at MAX_RANGED_UPLOAD_BYTES still takes ranged chunks', async () => {
  const size = MAX_RANGED_UPLOAD_BYTES;
  const id = await artifactWith({ 'ok.deb': { size, sha256: sha256('x') } });
  const res = await http('PUT', `/api/1.0/artifact/${id}/files/ok.deb`, {
    token: world.keys['contributor'],
    rawBody: Buffer.from('0123456789'),
    headers: { 'content-range': `bytes 0-9/${size}`, 'content-type': 'application/octet-stream' },
  });
  expect(res.status).toBe(200);
});
