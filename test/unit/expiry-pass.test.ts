/**
 * The expiry pass through the real HTTP routes and use cases on the memory adapters: the keep
 * rules end to end, freezing of condemned artifacts, blobs shared across workspaces, dry runs,
 * the audit log, the quota hook, the API's `retention`, and reads that follow what expires.
 */
import { MemoryExpiryStore } from '../../shared/adapters/memory/expiry-store';
import { runExpiryPass, type ExpiryOptions } from '../../shared/app/expiry';
import { blobObjectKey } from '../../shared/domain/object-keys';
import { expiryReportText } from '../../cli/admin/expire';
import { expiryHandler, expiryOptionsFromEnv } from '../../functions/expiry';
import { expiryStoreFor } from '../../shared/adapters/expiry';
import { newWorkRequest } from '../../shared/domain/work-requests';
import { createWorld, httpClient, sha256, type World } from '../support/world';

let world: World;
let http: ReturnType<typeof httpClient>;
let store: MemoryExpiryStore;
const GRACE = 60;

beforeEach(async () => {
  world = await createWorld();
  http = httpClient(world.deps);
  store = new MemoryExpiryStore(world.deps);
});

const owner = () => world.keys['owner']!;
const pass = (opts: ExpiryOptions = {}) => runExpiryPass(world.deps, store, { recheckSeconds: 0, blobGraceSeconds: GRACE, ...opts });
const tick = (seconds: number) => world.deps.clock.advance(seconds * 1000);

/** Creates an artifact holding `content` as `f` and uploads the bytes (presigned, single PUT). */
async function stored(workspace: string, content: string, delay: number | null): Promise<number> {
  const bytes = Buffer.from(content);
  const res = await http('POST', '/api/1.0/artifact/', {
    token: owner(),
    body: { category: 'testing', workspace, data: {}, files: { f: { size: bytes.length, checksums: { sha256: sha256(bytes) } } }, ...(delay === null ? {} : { expiration_delay: delay }) },
  });
  expect(res.status).toBe(201);
  const plan = await http('POST', `/api/1.0/artifact/${res.json.id}/upload/f/`, { token: owner(), body: {} });
  if (!plan.json.complete) {
    world.deps.files.clientPut(plan.json.url, bytes);
    expect((await http('POST', `/api/1.0/artifact/${res.json.id}/upload-complete/f/`, { token: owner(), body: {} })).status).toBe(201);
  }
  return res.json.id;
}

const exists = (id: number) => world.deps.artifacts.artifacts.has(id);
const objectOf = (content: string) => blobObjectKey(sha256(Buffer.from(content)), Buffer.from(content).length);

describe('the expiry pass', () => {
  it('an artifact with a 1 s delay is condemned by one pass, deleted with its bytes by the next (after the grace)', async () => {
    const id = await stored('priv', 'short-lived', 1);
    tick(2);
    expect((await pass()).condemned).toEqual([id]);
    expect(exists(id)).toBe(true);
    const released: unknown[] = [];
    expect((await pass({ onFilesReleased: async (r) => void released.push(r) })).deleted).toEqual([id]);
    expect(exists(id)).toBe(false);
    expect(released).toEqual([{ scope: 'debusine', workspace: 'priv', artifactId: id, bytes: 11, files: 1 }]);
    expect(world.deps.files.objects.has(objectOf('short-lived'))).toBe(true); // condemned, in its grace period
    await pass();
    tick(GRACE);
    expect((await pass()).blobs.deleted).toEqual([{ sha256: sha256(Buffer.from('short-lived')), size: 11 }]);
    expect(world.deps.files.objects.has(objectOf('short-lived'))).toBe(false);
    const actions = world.deps.audit.entries.map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['artifact.expired', 'blob.deleted']));
  });

  it('keeps an expired artifact a kept artifact relates to, and says which root keeps it', async () => {
    const target = await stored('priv', 'target', 1);
    const source = await stored('priv', 'source', null);
    expect((await http('POST', '/api/1.0/artifact-relation/', { token: owner(), body: { artifact: source, target, type: 'built-using' } })).status).toBe(201);
    tick(5);
    const report = await pass();
    expect(report.condemned).toEqual([]);
    expect(report.kept).toEqual([{ id: target, reason: { kind: 'related-from', from: source, root: source }, why: `related from kept artifact ${source} (root: artifact ${source})` }]);
    const shown = await http('GET', `/api/1.0/artifact/${target}/`, { token: owner() });
    expect(shown.json.retention).toEqual({ expire_at: shown.json.expire_at, expired: true, kept: true, kept_because: expect.stringContaining(`root: artifact ${source}`), condemned: false });
  });

  it('the same bytes in two workspaces survive the expiry of one', async () => {
    const a = await stored('priv', 'shared bytes', 1);
    const b = await stored('pub', 'shared bytes', null);
    tick(5);
    await pass();
    await pass();
    expect(exists(a)).toBe(false);
    tick(GRACE * 3);
    await pass();
    await pass();
    expect(exists(b)).toBe(true);
    expect(world.deps.files.objects.has(objectOf('shared bytes'))).toBe(true);
    expect((await http('GET', `/api/1.0/artifact/${b}/files/f/`, { token: owner() })).status).toBe(302);
  });

  it('keeps the inputs of an active work request; lets go once it finishes', async () => {
    const input = await stored('priv', 'input', 1);
    const deps = world.deps;
    const wr = newWorkRequest({ id: 77, scope: 'debusine', workspace: 'priv', createdBy: 'user:owner', taskType: 'Worker', taskName: 'lintian', taskData: { input: { source_artifact: input, binary_artifacts: [] } }, createdAt: deps.clock.now().toISOString() });
    deps.workRequests.items.set(77, { ...wr, status: 'running' });
    tick(5);
    expect((await pass()).kept.map((k) => k.reason)).toEqual([{ kind: 'work-request-input', workRequestId: 77, status: 'running' }]);
    deps.workRequests.items.get(77)!.status = 'completed';
    expect((await pass()).condemned).toEqual([input]);
    expect((await pass()).deleted).toEqual([input]);
  });

  it('a condemned artifact is frozen: no PATCH, no relation to it; a dry run changes nothing', async () => {
    const doomed = await stored('priv', 'doomed', 1);
    const other = await stored('priv', 'other', null);
    tick(5);
    const dry = await pass({ dryRun: true });
    expect(dry.condemned).toEqual([doomed]);
    expect(world.deps.artifacts.condemned.size).toBe(0);
    expect(expiryReportText(dry)).toContain(`would be condemned now, deleted by the next pass unless something keeps them): ${doomed}`);
    await pass();
    expect((await http('PATCH', `/api/1.0/artifact/${doomed}/`, { token: owner(), body: { data: { x: 1 } } })).status).toBe(409);
    const relation = await http('POST', '/api/1.0/artifact-relation/', { token: owner(), body: { artifact: other, target: doomed, type: 'relates-to' } });
    expect(relation.status).toBe(409);
    expect(relation.json.title).toBe('Artifact is expiring');
    expect((await http('GET', `/api/1.0/artifact/${doomed}/`, { token: owner() })).json.retention).toMatchObject({ expired: true, kept: false, condemned: true });
  });

  it('reads follow what expires, not what is stored', async () => {
    for (let i = 0; i < 30; i++) await stored('priv', `keep-${i}`, null);
    const doomed = [await stored('priv', 'x1', 1), await stored('priv', 'x2', 1)];
    tick(5);
    const calls: string[] = [];
    const counting = new Proxy(store, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        return typeof value === 'function' ? (...args: unknown[]) => (calls.push(String(prop)), value.apply(target, args)) : value;
      },
    });
    expect((await runExpiryPass(world.deps, counting, { recheckSeconds: 0 })).condemned).toEqual(doomed);
    expect(calls.filter((c) => c === 'artifactState')).toHaveLength(2);
  });

  it('the scheduled function runs one pass and logs a summary; its slice size comes from the environment', async () => {
    const id = await stored('priv', 'fn', 1);
    tick(5);
    const log = jest.spyOn(console, 'log').mockImplementation(() => {});
    const summary = await expiryHandler(() => world.deps, {}, expiryStoreFor)({}, { getRemainingTimeInMillis: () => 300_000 });
    log.mockRestore();
    expect(summary).toMatchObject({ condemned: 1, deleted: 0, finished: true });
    expect(world.deps.artifacts.condemned.has(id)).toBe(true);
    expect(expiryOptionsFromEnv({ CONVEYOR_EXPIRY_MAX_ARTIFACTS: '50' })).toEqual({ maxArtifacts: 50 });
    expect(expiryOptionsFromEnv({ CONVEYOR_EXPIRY_BLOB_GRACE_SECONDS: '0' })).toEqual({ blobGraceSeconds: 0 });
    expect(() => expiryOptionsFromEnv({ CONVEYOR_EXPIRY_MAX_ARTIFACTS: '-1' })).toThrow(/at least 1/);
  });
});
