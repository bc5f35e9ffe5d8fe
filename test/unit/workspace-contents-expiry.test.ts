/**
 * A workspace past its `expiration_delay` goes with its contents (shared/app/workspace-contents.ts),
 * on the memory adapters: work-request trees whatever their own delay, artifacts through
 * condemn-then-delete (its own collections retain nothing), collections with their items, templates
 * with their run records, recurring jobs with their history, quota and usage records, then grants and
 * the row. Something kept from outside the workspace makes it wait, with why; a pass limited to N
 * deletions stops and the next ones finish; the dry run lists per workspace what would go.
 */
import { MemoryExpiryStore } from '../../shared/adapters/memory/expiry-store';
import { runExpiryPass, type ExpiryOptions, type ExpiryReport } from '../../shared/app/expiry';
import { createWorkspace, grantRole } from '../../shared/app/admin';
import { expiryReportText } from '../../cli/admin/expire';
import { createRecurringJob } from '../../shared/domain/recurring-jobs';
import type { Collection, CollectionItem } from '../../shared/domain/collections';
import type { WorkRequest } from '../../shared/domain/work-requests';
import { createWorld, httpClient, sha256, type World } from '../support/world';
import { storeRequest } from '../support/stored-request';
import { blobObjectKey } from '../../shared/domain/object-keys';
import { workflowRoutes } from '../../shared/http/routes/workflows';

const DELAY = 3600;
let world: World;
let store: MemoryExpiryStore;
let http: ReturnType<typeof httpClient>;

beforeEach(async () => {
  world = await createWorld();
  store = new MemoryExpiryStore(world.deps);
  http = httpClient(world.deps);
  await createWorkspace(world.deps, 'test', { name: 'tmp', expirationDelay: DELAY });
  await grantRole(world.deps, 'test', { workspace: 'tmp', username: 'owner', role: 'owner' });
});

const deps = () => world.deps;
const pass = (opts: ExpiryOptions = {}) => runExpiryPass(deps(), store, { recheckSeconds: 600, blobGraceSeconds: 0, ...opts });
const tick = (seconds: number) => deps().clock.advance(seconds * 1000);
const now = () => deps().clock.now().toISOString();
const workspaceExists = async (name = 'tmp') => (await deps().identity.getWorkspace('debusine', name)) !== undefined;
const request = (id: number, fields: Partial<WorkRequest> = {}): WorkRequest => storeRequest(deps(), 'tmp', id, fields);

/** An artifact with one uploaded file, through the HTTP routes (no delay of its own: it never expires by itself). */
async function artifact(workspace: string, content: string): Promise<number> {
  const bytes = Buffer.from(content);
  const token = world.keys['owner']!;
  const res = await http('POST', '/api/1.0/artifact/', { token, body: { category: 'testing', workspace, data: {}, files: { f: { size: bytes.length, checksums: { sha256: sha256(bytes) } } } } });
  expect(res.status).toBe(201);
  const plan = await http('POST', `/api/1.0/artifact/${res.json.id}/upload/f/`, { token, body: {} });
  if (!plan.json.complete) {
    deps().files.clientPut(plan.json.url, bytes);
    expect((await http('POST', `/api/1.0/artifact/${res.json.id}/upload-complete/f/`, { token, body: {} })).status).toBe(201);
  }
  return res.json.id;
}

async function relate(source: number, target: number) {
  expect((await http('POST', '/api/1.0/artifact-relation/', { token: world.keys['owner']!, body: { artifact: source, target, type: 'relates-to' } })).status).toBe(201);
}

async function collection(id: number, workspace: string, fields: Partial<Collection> = {}): Promise<Collection> {
  const c: Collection = { id, scope: 'debusine', workspace, name: `c${id}`, category: 'debian:suite', data: {}, retainsArtifacts: 'always', workflowId: null, createdAt: now(), version: 1, ...fields };
  await deps().collections.create(c);
  return c;
}

async function item(id: number, collectionId: number, fields: Partial<CollectionItem> = {}) {
  await deps().collections.addItem(
    { id, collectionId, name: `i${id}`, childType: 'artifact', category: 'testing', artifactId: null, collectionRef: null, data: {}, createdAt: now(), createdBy: 'user:owner', removedAt: null, removedBy: null, ...fields },
    { replace: false },
  );
}

/** Passes until the workspace is gone (at most `max`), returning the reports. */
async function passesUntilGone(max: number, opts: ExpiryOptions = {}): Promise<ExpiryReport[]> {
  const reports: ExpiryReport[] = [];
  while ((await workspaceExists()) && reports.length < max) reports.push(await pass(opts));
  return reports;
}

/** Everything the memory adapters hold that names workspace tmp. */
function rowsNamingTmp(): string[] {
  const d = deps();
  const inTmp = (x: { scope: string; workspace: string }) => x.scope === 'debusine' && x.workspace === 'tmp';
  const left: string[] = [];
  for (const a of d.artifacts.artifacts.values()) if (inTmp(a)) left.push(`artifact ${a.id}`);
  for (const wr of d.workRequests.items.values()) if (inTmp(wr)) left.push(`work request ${wr.id}`);
  for (const c of d.collections.collections.values()) if (inTmp(c)) left.push(`collection ${c.id}`);
  for (const t of d.templates.items.values()) if (inTmp(t)) left.push(`template ${t.name}`);
  for (const key of d.templates.runs.keys()) if (key.startsWith('debusine/tmp/')) left.push(`runs ${key}`);
  for (const j of d.recurringJobs.jobs.values()) if (inTmp(j)) left.push(`recurring job ${j.id}`);
  for (const key of [...d.accounts.workspaceQuotas.keys(), ...d.accounts.contributions.keys(), ...d.accounts.fileRefs.keys()]) if (key === 'workspace:debusine/tmp') left.push(`usage ${key}`);
  return left;
}

describe('a due workspace goes with its contents', () => {
  it('trees, artifacts (its own collection retaining nothing), collections, templates with runs, recurring jobs, usage, grants, row; audited', async () => {
    const a = await artifact('tmp', 'tmp-only bytes');
    const b = await artifact('tmp', 'tmp bytes b');
    await relate(b, a);
    const own = await collection(70, 'tmp'); // retains always: kept nothing once the workspace goes
    await item(71, own.id, { artifactId: a });
    // A workflow tree with its internal collection, and a lone task; all finished.
    const internal = await collection(72, 'tmp', { category: 'debusine:workflow-internal', retainsArtifacts: 'workflow', workflowId: 10 });
    request(10, { taskType: 'Workflow', taskName: 'noop', internalCollection: internal.id });
    request(11, { parent: 10 });
    request(12);
    await item(73, own.id, { createdBy: 'workflow:10' }); // named by its own workspace's collection: keeps nothing
    await deps().templates.create({ id: 80, scope: 'debusine', workspace: 'tmp', name: 'nightly', taskName: 'noop', taskData: {}, priority: 0, createdAt: now(), version: 1 });
    await deps().templates.recordRun('debusine', 'tmp', 'nightly', { major: 1, minor: 0 }, 10);
    const job = createRecurringJob({ id: 90, scope: 'debusine', workspace: 'tmp', owner: 'user:owner', kind: 'git-import', target: { url: 'file:///srv/r.git' } }, deps().clock.now());
    await deps().recurringJobs.create(job.job, job.events);
    deps().accounts.workspaceQuotas.set('workspace:debusine/tmp', { disk: { limit: 0, usage: 25 }, cpu: { limit: 0, usage: 0 } } as never);
    expect(rowsNamingTmp().length).toBeGreaterThan(8);
    tick(DELAY);

    const dry = await pass({ dryRun: true });
    expect(dry.workspaces.contents).toEqual([
      expect.objectContaining({ workspace: 'tmp', workRequests: expect.arrayContaining([10, 11, 12]), artifacts: [a, b], collections: expect.arrayContaining([70, 72]), workflowTemplates: ['nightly'], recurringJobs: [90], usageRecords: true }),
    ]);
    expect(dry.workspaces.deleted).toEqual([{ scope: 'debusine', workspace: 'tmp' }]);
    const text = expiryReportText(dry);
    expect(text).toContain('Contents of workspaces past their expiration delay that would be deleted');
    expect(text).toMatch(/debusine\/tmp\s+\d+, \d+, \d+\s+1, 2\s+-\s+.*nightly\s+90\s+yes/);
    expect(rowsNamingTmp().length).toBeGreaterThan(8); // the dry run changed nothing

    const reports = await passesUntilGone(5);
    expect(reports.length).toBe(3); // trees + condemn; artifacts deleted; the rest and the row
    expect(reports[0]!.workspaces.contents[0]).toEqual(expect.objectContaining({ workRequests: expect.arrayContaining([10, 11, 12]), condemnedArtifacts: [a, b] }));
    expect(reports.every((r) => r.workspaces.waiting.length === 0)).toBe(true);
    expect(reports.flatMap((r) => r.reprieved)).toEqual([]); // the artifact step judges them as the workspace step does
    expect(rowsNamingTmp()).toEqual([]);
    expect(deps().recurringJobs.resultsByJob.has(90) || deps().recurringJobs.eventsByJob.has(90)).toBe(false);
    expect([...deps().collections.items.values()].filter((i) => i.collectionId === 70 || i.collectionId === 72)).toEqual([]);
    expect(await deps().identity.listRoles('debusine', 'tmp')).toEqual([]);
    expect(await store.workspaces.dueWorkspaces('9999', 10)).toEqual([]);
    const actions = new Set(deps().audit.entries.map((e) => e.action));
    for (const action of ['work-request.expired', 'artifact.expired', 'collection.expired', 'workflow-template.expired', 'recurring-job.expired', 'workspace.expired'] as const) expect(actions).toContain(action);
    // Their bytes go through the blob sweep like any expired artifact's.
    await pass();
    await pass();
    expect(deps().files.objects.has(blobObjectKey(sha256(Buffer.from("tmp-only bytes")), 14))).toBe(false);
    // Other workspaces are untouched.
    expect(await workspaceExists('priv')).toBe(true);
  });

  it('waits while an artifact is kept from outside (a kept artifact of another workspace relates to it), with why; goes once that relation is gone', async () => {
    const target = await artifact('tmp', 'target');
    const outside = await artifact('priv', 'outside'); // never expires
    await relate(outside, target);
    tick(DELAY);
    const why = `waiting: artifact ${target} is kept from outside the workspace: related from kept artifact ${outside} (root: artifact ${outside})`;
    const dry = await pass({ dryRun: true });
    expect(dry.workspaces.waiting).toEqual([{ scope: 'debusine', workspace: 'tmp', why }]);
    expect(expiryReportText(dry)).toContain(`debusine/tmp  ${why}`);
    expect((await pass()).workspaces.waiting).toEqual([{ scope: 'debusine', workspace: 'tmp', why }]);
    expect(deps().artifacts.artifacts.has(target)).toBe(true);
    expect(await workspaceExists()).toBe(true);
    const relation = (await deps().artifacts.listRelations({ target }))[0]!;
    await deps().artifacts.deleteRelation(relation);
    tick(600); // the recheck delay
    await passesUntilGone(4);
    expect(await workspaceExists()).toBe(false);
    expect(deps().artifacts.artifacts.has(outside)).toBe(true);
  });

  it('waits while an item of another workspace\'s collection holds one of its artifacts, or names one of its workflows', async () => {
    const held = await artifact('tmp', 'held');
    const elsewhere = await collection(75, 'priv');
    await item(76, elsewhere.id, { artifactId: held });
    tick(DELAY);
    expect((await pass()).workspaces.waiting[0]!.why).toBe(`waiting: artifact ${held} is kept from outside the workspace: retained by collection ${elsewhere.id} (retains_artifacts=always)`);
    await deps().collections.removeItem(elsewhere.id, 'i76', now(), 'user:owner');
    deps().collections.items.delete(76);
    request(20, { taskType: 'Workflow' });
    await item(77, elsewhere.id, { createdBy: 'workflow:20' });
    tick(DELAY); // due again its delay after that request finished
    expect((await pass()).workspaces.waiting[0]!.why).toBe('waiting: work request 20 is kept: a collection item outside its workflow\'s internal collection names it as creator or remover');
    expect(deps().workRequests.items.has(20)).toBe(true);
  });

  it('the artifact step judges a going workspace\'s artifacts as the workspace step does: nothing condemned is reprieved', async () => {
    // Expired by its own delay, so also an artifact-step candidate, and held by the workspace's own collection.
    const token = world.keys['owner']!;
    const res = await http('POST', '/api/1.0/artifact/', { token, body: { category: 'testing', workspace: 'tmp', data: {}, expiration_delay: 1 } });
    expect(res.status).toBe(201);
    await collection(78, 'tmp');
    await item(79, 78, { artifactId: res.json.id });
    tick(DELAY);
    const reports = await passesUntilGone(4);
    expect(reports.flatMap((r) => r.reprieved)).toEqual([]);
    expect(reports.flatMap((r) => r.kept)).toEqual([]);
    expect(await workspaceExists()).toBe(false);
    expect(deps().artifacts.artifacts.has(res.json.id)).toBe(false);
  });

  it('a pass limited to N deletions stops, and the next passes finish where it stopped', async () => {
    const ids: number[] = [];
    for (let i = 0; i < 5; i++) ids.push(await artifact('tmp', `bytes ${i}`));
    for (let i = 30; i < 33; i++) request(i);
    tick(DELAY);
    const reports = await passesUntilGone(20, { maxWorkspaceDeletions: 2 });
    expect(await workspaceExists()).toBe(false);
    expect(reports.length).toBeGreaterThan(3);
    for (const r of reports) {
      const c = r.workspaces.contents[0];
      // A tree counts as a whole (here one request each); artifacts one condemnation or deletion each.
      if (c) expect(c.workRequests.length + c.artifacts.length + c.condemnedArtifacts.length).toBeLessThanOrEqual(2);
    }
    expect(reports.slice(0, -1).every((r) => !r.finished)).toBe(true);
    expect(reports.flatMap((r) => r.workspaces.contents.flatMap((c) => c.artifacts)).sort()).toEqual([...ids].sort());
    expect(rowsNamingTmp()).toEqual([]);
  });

  it('still never goes while a request is unfinished, and its trees go whatever their own delay', async () => {
    request(40, { status: 'running', result: '', completedAt: null });
    tick(DELAY * 2);
    expect((await pass()).workspaces.waiting[0]!.why).toBe('work request 40 is unfinished (running)');
    expect(deps().workRequests.items.has(40)).toBe(true);
    request(40); // finished now
    tick(DELAY);
    // tmp has no default_expiration_delay: the request would never expire by itself.
    await passesUntilGone(3);
    expect(await workspaceExists()).toBe(false);
    expect(deps().workRequests.items.has(40)).toBe(false);
  });
});

describe('a workflow run whose request expired', () => {
  it('is a 404 that says it expired (the run record outlives the request the work-request step deleted)', async () => {
    await deps().templates.create({ id: 85, scope: 'debusine', workspace: 'priv', name: 'weekly', taskName: 'noop', taskData: {}, priority: 0, createdAt: now(), version: 1 });
    await deps().templates.recordRun('debusine', 'priv', 'weekly', { major: 1, minor: 0 }, 555); // request 555 is gone
    const http = httpClient(deps(), workflowRoutes(() => deps()));
    const res = await http('GET', '/api/1.0/workflow/?workspace=priv&name=weekly', { token: world.keys['owner']! });
    expect(res.status).toBe(404);
    expect(res.json.detail).toBe('workflow run "weekly" was work request 555, which has expired and was deleted');
    const unknown = await http('GET', '/api/1.0/workflow/?workspace=priv&name=never-ran', { token: world.keys['owner']! });
    expect(unknown.status).toBe(404);
    expect(unknown.json.detail).toBe('no workflow run "never-ran" in priv');
  });
});
