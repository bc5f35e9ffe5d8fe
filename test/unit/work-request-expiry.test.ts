/**
 * The work-request step of the expiry pass on the memory adapters: the delay rule (workspace
 * default; 0 or null = never), every keep condition (unfinished, parent kept, child kept, an item
 * outside the tree's internal collection, an unfinished dependent outside the tree), whole trees
 * going together with their internal collection, the cleanup of edges, the index moving along,
 * the dry run, the CLI text and the audit log.
 */
import { MemoryExpiryStore } from '../../shared/adapters/memory/expiry-store';
import { runExpiryPass, type ExpiryOptions } from '../../shared/app/expiry';
import { expiryReportText } from '../../cli/admin/expire';
import type { WorkRequest } from '../../shared/domain/work-requests';
import { WORKFLOW_INTERNAL, type CollectionItem } from '../../shared/domain/collections';
import { createWorld, type World } from '../support/world';
import { storeRequest } from '../support/stored-request';

let world: World;
let store: MemoryExpiryStore;
const DELAY = 3600;

beforeEach(async () => {
  world = await createWorld();
  store = new MemoryExpiryStore(world.deps);
  await setDelay(DELAY);
});

const deps = () => world.deps;
const pass = (opts: ExpiryOptions = {}) => runExpiryPass(world.deps, store, { recheckSeconds: 600, ...opts });
const tick = (seconds: number) => world.deps.clock.advance(seconds * 1000);
const now = () => world.deps.clock.now().toISOString();
const exists = (id: number) => world.deps.workRequests.items.has(id);

async function setDelay(seconds: number | null): Promise<void> {
  const ws = (await deps().identity.getWorkspace('debusine', 'priv'))!;
  await deps().identity.updateWorkspace({ ...ws, defaultExpirationDelay: seconds, version: ws.version + 1 }, ws.version);
}

/** Stores a request (finished unless told otherwise) straight into the memory repository. */
const request = (id: number, fields: Partial<WorkRequest> = {}): WorkRequest => storeRequest(deps(), 'priv', id, fields);

/** A workflow root 1 with children 2 (a sub-workflow) and 3 (under 2), and its internal collection 50 holding one item. */
async function tree(): Promise<void> {
  request(1, { taskType: 'Workflow', taskName: 'noop-workflow', internalCollection: 50 });
  request(2, { taskType: 'Workflow', parent: 1 });
  request(3, { parent: 2 });
  await deps().collections.create({ id: 50, scope: 'debusine', workspace: 'priv', name: 'workflow-1', category: WORKFLOW_INTERNAL, data: {}, retainsArtifacts: 'workflow', workflowId: 1, createdAt: now(), version: 1 });
  await deps().collections.addItem(item(500, 50, 'workflow:3'), { replace: false });
}

function item(id: number, collectionId: number, createdBy: string): CollectionItem {
  return { id, collectionId, name: `item-${id}`, childType: 'bare', category: 'testing', artifactId: null, collectionRef: null, data: {}, createdAt: now(), createdBy, removedAt: null, removedBy: null };
}

describe('work-request expiry', () => {
  it('a finished request goes once its workspace delay passed since its creation; the audit log says so', async () => {
    request(7);
    deps().workRequests.reverse.set(7, new Set());
    let report = await pass();
    expect(report.workRequests.kept).toEqual([{ root: 7, requests: 1, why: expect.stringMatching(/^not expired until /) }]);
    expect(exists(7)).toBe(true);
    tick(DELAY);
    report = await pass();
    expect(report.workRequests.deleted).toEqual([{ id: 7, root: 7, task_name: 'noop', status: 'completed' }]);
    expect(exists(7)).toBe(false);
    expect(deps().workRequests.reverse.has(7)).toBe(false);
    expect(deps().audit.entries.filter((e) => e.action === 'work-request.expired').map((e) => e.details)).toEqual([expect.objectContaining({ work_request: 7, root: 7 })]);
  });

  it('a kept tree moves to when its last request expires: the passes in between do not read it', async () => {
    request(1, { taskType: 'Workflow' });
    tick(600);
    request(2, { parent: 1 }); // created later: expires later
    tick(DELAY - 300);
    expect((await pass()).workRequests.kept).toEqual([{ root: 1, requests: 2, why: expect.stringMatching(/^work request 2 of the tree: not expired until/) }]);
    expect(await store.workRequests.dueRoots(now(), 10)).toEqual([]);
    tick(300);
    expect((await pass()).workRequests.deleted.map((d) => d.id)).toEqual([2, 1]);
  });

  it('a workspace without a delay keeps its requests forever: the root leaves the index', async () => {
    await setDelay(0);
    request(7);
    tick(10 * DELAY);
    expect((await pass()).workRequests.kept).toEqual([{ root: 7, requests: 1, why: 'never expires (its workspace has no default_expiration_delay)' }]);
    expect(await store.workRequests.dueRoots('9999', 10)).toEqual([]);
    expect((await pass()).workRequests.kept).toEqual([]);
  });

  it('an unfinished child keeps the whole tree (child kept, then parent kept); finished, the tree goes with its internal collection', async () => {
    await tree();
    deps().workRequests.items.get(3)!.status = 'running';
    tick(DELAY);
    expect((await pass()).workRequests.kept).toEqual([{ root: 1, requests: 3, why: 'work request 3 of the tree: unfinished (running)' }]);
    expect([1, 2, 3].every(exists)).toBe(true);
    deps().workRequests.items.get(3)!.status = 'completed';
    tick(600); // the recheck delay
    const report = await pass();
    // The item of the internal collection names request 3: inside its own tree's collection, that keeps nothing.
    expect(report.workRequests.deleted.map((d) => d.id)).toEqual([3, 2, 1]);
    expect(report.workRequests.collections).toEqual([50]);
    expect([1, 2, 3].some(exists)).toBe(false);
    expect(deps().collections.collections.has(50)).toBe(false);
    expect(deps().collections.items.has(500)).toBe(false);
    expect(deps().audit.entries.filter((e) => e.action === 'collection.expired')).toHaveLength(1);
  });

  it('an item outside the internal collection created or removed by a request of the tree keeps the tree', async () => {
    await tree();
    await deps().collections.create({ id: 60, scope: 'debusine', workspace: 'priv', name: 'suite', category: 'testing', data: {}, retainsArtifacts: 'never', workflowId: null, createdAt: now(), version: 1 });
    await deps().collections.addItem(item(600, 60, 'user:owner'), { replace: false });
    await deps().collections.removeItem(60, 'item-600', now(), 'workflow:2');
    tick(DELAY);
    expect((await pass()).workRequests.kept).toEqual([
      { root: 1, requests: 3, why: "work request 2 of the tree: a collection item outside its workflow's internal collection names it as creator or remover" },
    ]);
    deps().collections.items.delete(600); // its row goes (metadata retention): nothing names the tree any more
    tick(600);
    expect((await pass()).workRequests.deleted.map((d) => d.id)).toEqual([3, 2, 1]);
  });

  it('an unfinished dependent outside the tree keeps it; a finished one loses the edge when it goes', async () => {
    request(1);
    request(2);
    // Created an hour later: still unexpired when 1 and 2 go.
    request(9, { status: 'blocked', completedAt: null, dependencies: [1, 2], createdAt: new Date(Date.parse(now()) + DELAY * 1000).toISOString() });
    deps().workRequests.reverse.set(1, new Set([9]));
    deps().workRequests.reverse.set(2, new Set([9]));
    tick(DELAY);
    const kept = (await pass()).workRequests.kept;
    expect(kept).toEqual([
      { root: 1, requests: 1, why: 'unfinished work request 9 depends on it' },
      { root: 2, requests: 1, why: 'unfinished work request 9 depends on it' },
    ]);
    deps().workRequests.items.get(9)!.status = 'aborted';
    tick(600);
    const deleted = (await pass()).workRequests.deleted.map((d) => d.id);
    expect(deleted).toEqual([1, 2]);
    expect(deps().workRequests.items.get(9)!.dependencies).toEqual([]);
  });

  it('a dry run lists what would go and why the rest stays, and changes nothing', async () => {
    await tree();
    request(8, { status: 'pending', completedAt: null });
    request(9);
    tick(DELAY);
    const report = await pass({ dryRun: true });
    expect(report.workRequests.deleted.map((d) => [d.id, d.root])).toEqual([
      [3, 1],
      [2, 1],
      [1, 1],
      [9, 9],
    ]);
    expect(report.workRequests.collections).toEqual([50]);
    expect([1, 2, 3, 9].every(exists)).toBe(true);
    expect(deps().collections.collections.has(50)).toBe(true);
    const text = expiryReportText(report);
    expect(text).toContain('Work requests (root: ids) that would be deleted: 1: 3, 2, 1; 9: 9');
    expect(text).toContain('Internal collections that would be deleted with their workflow: 50');
    expect(deps().audit.entries.filter((e) => e.action === 'work-request.expired')).toEqual([]);
  });

  it('a pass looks at most maxWorkRequestTrees trees; the next one continues', async () => {
    for (let id = 1; id <= 5; id++) request(id);
    tick(DELAY);
    const first = await pass({ maxWorkRequestTrees: 3 });
    expect(first.workRequests.deleted.map((d) => d.id)).toEqual([1, 2, 3]);
    expect(first.finished).toBe(false);
    expect((await pass({ maxWorkRequestTrees: 3 })).workRequests.deleted.map((d) => d.id)).toEqual([4, 5]);
  });
});
