/**
 * Security finding 1: completing a file is conditional on the verified SHA-256, size and upload
 * key. The attack: upload junk for path P, ask for completion (verified in the background),
 * delete P meanwhile, attach P again declaring a victim's SHA-256 and size; the verification
 * must not complete the new row, or `GET files/P` would hand out the victim's blob.
 */
import { attachFiles, removeFile } from '../../../shared/app/artifacts';
import { verifyQueuedUpload } from '../../../shared/app/uploads';
import { blobObjectKey } from '../../../shared/domain/object-keys';
import { createWorld, httpClient, sha256, type World } from '../../support/world';

let world: World;
let http: ReturnType<typeof httpClient>;

beforeEach(async () => {
  world = await createWorld();
  http = httpClient(world.deps);
});

const decl = (b: Buffer) => ({ type: 'file', size: b.length, checksums: { sha256: sha256(b) } });

it('a verification in flight does not complete a row deleted and attached again with a victim\'s SHA-256', async () => {
  // The victim's bytes are stored (in another workspace); their SHA-256 and size are public.
  const secret = Buffer.from('the victim secret bytes');
  world.deps.files.objects.set(blobObjectKey(sha256(secret), secret.length), secret);
  await world.deps.artifacts.markBlobStored(sha256(secret), secret.length, '2026-01-01T00:00:00.000Z');

  const junk = Buffer.alloc(secret.length, 1);
  const token = world.keys['contributor']!;
  const created = await http('POST', '/api/1.0/artifact/', {
    token,
    body: { category: 'testing', workspace: 'priv', data: {}, files: { P: decl(junk) } },
  });
  const id = created.json.id as number;
  const plan = await http('POST', `/api/1.0/artifact/${id}/upload/P/`, { token, body: {} });
  world.deps.files.clientPut(plan.json.url, junk);
  // Force the background path (as for a multipart upload): the row is marked verifying and queued.
  const row = (await world.deps.artifacts.get(id))!.files[0]!;
  await world.deps.artifacts.setUploadState(id, 'P', { key: row.upload!.key!, verifying: true });

  const attacker = await world.caller('contributor');
  const realVerify = world.deps.files.verify.bind(world.deps.files);
  const verifyThenRace = async (key: string, size: number, sha: string) => {
    const verdict = await realVerify(key, size, sha);
    // While the check runs: delete P and attach it again, declaring the victim's bytes.
    await removeFile(world.deps, attacker, id, 'P');
    await attachFiles(world.deps, attacker, id, { P: { size: secret.length, sha256: sha256(secret) } });
    return verdict;
  };
  world.deps.files.verify = verifyThenRace as typeof world.deps.files.verify;
  await verifyQueuedUpload(world.deps, { artifactId: id, path: 'P' });

  const after = (await world.deps.artifacts.get(id))!;
  expect(after.files).toEqual([expect.objectContaining({ path: 'P', sha256: sha256(secret), complete: false })]);
  expect(after.artifact.incompleteFiles).toBe(1);
  const download = await http('GET', `/api/1.0/artifact/${id}/files/P/`, { token });
  expect(download.status).not.toBe(302);
  expect(download.headers['location'] ?? '').not.toContain(sha256(secret));
});
