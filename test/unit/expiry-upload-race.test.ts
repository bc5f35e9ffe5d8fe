/**
 * The gap between an upload finding its bytes already stored and its file row becoming complete:
 * an expiry sweep that does not see the upload's (incomplete) file row yet (an index that lags, or
 * a row written just after the sweep's check) may condemn and delete those bytes in between. The
 * completion re-checks that the bytes are stored and, if not, copies them in again from the
 * staging object; so a complete file row never points at deleted bytes.
 */
import { MemoryExpiryStore } from '../../shared/adapters/memory/expiry-store';
import { runExpiryPass, type ExpiryOptions } from '../../shared/app/expiry';
import { blobKey } from '../../shared/domain/artifacts';
import { blobObjectKey } from '../../shared/domain/object-keys';
import type { BlobRef } from '../../shared/ports/expiry';
import { createWorld, httpClient, sha256, type World } from '../support/world';

let world: World;
let http: ReturnType<typeof httpClient>;

beforeEach(async () => {
  world = await createWorld();
  http = httpClient(world.deps);
});

const owner = () => world.keys['owner']!;
const BYTES = Buffer.from('race bytes');
const BLOB: BlobRef = { sha256: sha256(BYTES), size: BYTES.length };

async function declare(delay: number | null): Promise<number> {
  const res = await http('POST', '/api/1.0/artifact/', {
    token: owner(),
    body: { category: 'testing', workspace: 'priv', data: {}, files: { f: { size: BYTES.length, checksums: { sha256: BLOB.sha256 } } }, ...(delay === null ? {} : { expiration_delay: delay }) },
  });
  expect(res.status).toBe(201);
  return res.json.id;
}

async function putBytes(id: number): Promise<void> {
  const plan = await http('POST', `/api/1.0/artifact/${id}/upload/f/`, { token: owner(), body: {} });
  expect(plan.json.complete).toBe(false);
  world.deps.files.clientPut(plan.json.url, BYTES);
}

/** A store whose blob-reference check does not see `hidden`'s file rows yet (a lagging index). */
function laggingStore(hidden: number): MemoryExpiryStore {
  const store = new MemoryExpiryStore(world.deps);
  store.blobReferenced = async (blob) =>
    [...world.deps.artifacts.files.entries()].some(([id, files]) => id !== hidden && [...files.values()].some((f) => f.sha256 === blob.sha256 && f.size === blob.size));
  return store;
}

test('bytes condemned and deleted between "already stored" and the completion are copied in again', async () => {
  const late = await declare(null); // declared while the bytes are not stored: its row is incomplete
  await putBytes(late);
  const early = await declare(1);
  await putBytes(early);
  expect((await http('POST', `/api/1.0/artifact/${early}/upload-complete/f/`, { token: owner(), body: {} })).status).toBe(201);
  const store = laggingStore(late);
  const pass = (opts: ExpiryOptions = {}) => runExpiryPass(world.deps, store, { recheckSeconds: 0, blobGraceSeconds: 0, ...opts });
  world.deps.clock.advance(2000);
  await pass({ maxBlobs: 0 });
  expect((await pass({ maxBlobs: 0 })).deleted).toEqual([early]); // its bytes are a sweep candidate now

  // The late upload finds the bytes stored; right then, sweeps that do not see its row delete them.
  const repo = world.deps.artifacts;
  const claim = repo.claimBlobForUpload.bind(repo);
  let raced = false;
  repo.claimBlobForUpload = async (sha: string, size: number) => {
    const result = await claim(sha, size);
    if (result === 'already-stored' && !raced) {
      raced = true;
      expect((await pass()).blobs.condemned).toEqual([BLOB]);
      expect((await pass()).blobs.deleted).toEqual([BLOB]);
      expect(world.deps.files.objects.has(blobObjectKey(BLOB.sha256, BLOB.size))).toBe(false);
    }
    return result;
  };
  expect((await http('POST', `/api/1.0/artifact/${late}/upload-complete/f/`, { token: owner(), body: {} })).status).toBe(201);
  expect(raced).toBe(true);

  const file = (await repo.get(late))!.files[0]!;
  expect(file.complete).toBe(true);
  expect(world.deps.files.objects.get(blobObjectKey(BLOB.sha256, BLOB.size))).toEqual(BYTES);
  expect(repo.blobs.get(blobKey(BLOB.sha256, BLOB.size))).toEqual({ state: 'stored' });
  const download = await http('GET', `/api/1.0/artifact/${late}/files/f/`, { token: owner() });
  expect(download.status).toBe(302);
});

test('an upload completing against condemned bytes copies them in again and leaves them stored', async () => {
  const late = await declare(null);
  await putBytes(late);
  const early = await declare(null);
  await putBytes(early);
  expect((await http('POST', `/api/1.0/artifact/${early}/upload-complete/f/`, { token: owner(), body: {} })).status).toBe(201);
  const repo = world.deps.artifacts;
  // The sweep condemned the bytes after the upload found them stored (no delete yet).
  const claim = repo.claimBlobForUpload.bind(repo);
  let condemned = false;
  repo.claimBlobForUpload = async (sha: string, size: number) => {
    const result = await claim(sha, size);
    if (result === 'already-stored' && !condemned) {
      condemned = true;
      repo.blobs.set(blobKey(BLOB.sha256, BLOB.size), { state: 'condemned', condemnedAt: world.deps.clock.now().toISOString() });
    }
    return result;
  };
  expect((await http('POST', `/api/1.0/artifact/${late}/upload-complete/f/`, { token: owner(), body: {} })).status).toBe(201);
  expect(condemned).toBe(true);
  expect((await repo.get(late))!.files[0]!.complete).toBe(true);
  // Claimed back from `condemned` by the copy: stored again, so no later sweep step deletes them.
  expect(repo.blobs.get(blobKey(BLOB.sha256, BLOB.size))).toEqual({ state: 'stored' });
});

test('two completions of the same upload at once: the one whose staging copy finds the object gone answers as completed', async () => {
  const id = await declare(null);
  await putBytes(id);
  // The second completion's copy starts only once the first has completed and removed the staging object.
  const files = world.deps.files;
  const copy = files.copy.bind(files);
  let firstDone!: () => void;
  const firstFinished = new Promise<void>((resolve) => (firstDone = resolve));
  let copies = 0;
  files.copy = async (from: string, to: string) => {
    if (++copies === 2) await firstFinished;
    return copy(from, to);
  };
  const complete = () => http('POST', `/api/1.0/artifact/${id}/upload-complete/f/`, { token: owner(), body: {} });
  const first = complete();
  const second = complete();
  const firstAnswer = await first;
  firstDone();
  expect(firstAnswer.status).toBe(201);
  expect((await second).status).toBeLessThan(500);
  const row = (await world.deps.artifacts.get(id))!.files[0]!;
  expect(row.complete).toBe(true);
  expect(world.deps.files.objects.has(blobObjectKey(BLOB.sha256, BLOB.size))).toBe(true);
});
