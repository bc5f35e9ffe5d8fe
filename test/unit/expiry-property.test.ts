/**
 * Property test of the expiry pass with the real use cases (artifacts, uploads, relations,
 * collections) on the memory adapters, every storage call an interleaving point (fast-check's
 * scheduler): random artifacts sharing bytes across two workspaces, relations, retaining
 * collections, workflows and work requests, uploads in flight, random clocks, passes running
 * concurrently with all of it.
 *
 * - nothing reachable from a root is ever deleted (checked at the moment of each deletion);
 * - no S3 object that a complete file row references is ever deleted, and every complete file's
 *   bytes are in the store after every step;
 * - what is expired and unreachable is gone after two quiet passes;
 * - and once the grace period is over, no stored object is left that no file row references.
 */
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { MemoryExpiryStore, inputArtifactsOf } from '../../shared/adapters/memory/expiry-store';
import type { MemoryDeps } from '../../shared/adapters/memory';
import { createArtifact } from '../../shared/app/artifacts';
import { runExpiryPass } from '../../shared/app/expiry';
import { blobObjectKey } from '../../shared/domain/object-keys';
import { createRelation } from '../../shared/app/relations';
import { completeUpload, requestUpload } from '../../shared/app/uploads';
import type { Caller } from '../../shared/app/auth';
import { planArtifactExpiry, planWorkRequestExpiry, type ExpiryGraph, type ExpiryWorkRequest } from '../../shared/domain/expiry';
import { MemoryWorkRequestExpiryStore } from '../../shared/adapters/memory/work-request-expiry-store';
import { DomainError } from '../../shared/domain/errors';
import { isFinished, newWorkRequest, type WorkRequest, type WorkRequestStatus } from '../../shared/domain/work-requests';
import { createWorld } from '../support/world';

const CONTENTS = ['alpha', 'bravo', 'charlie'].map((s) => Buffer.from(s));
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const GRACE = 30;
/** The workspace's default delay: work requests (and artifacts without their own delay) expire within a scenario. */
const WORKSPACE_DELAY = 50;

/** The whole store as one expiry graph: what "reachable from a root" means right now. */
function fullGraph(deps: MemoryDeps): ExpiryGraph {
  const graph: ExpiryGraph = { artifacts: [], relations: [], links: [], workRequests: [] };
  for (const a of deps.artifacts.artifacts.values()) graph.artifacts.push({ id: a.id, expireAt: a.expireAt });
  for (const r of deps.artifacts.relations.values()) graph.relations.push({ artifact: r.artifact, target: r.target });
  for (const item of deps.collections.items.values()) {
    if (item.artifactId === null) continue;
    const c = deps.collections.collections.get(item.collectionId)!;
    const wf = c.workflowId === null ? undefined : deps.workRequests.items.get(c.workflowId);
    graph.links.push({ artifactId: item.artifactId, collectionId: c.id, retains: c.retainsArtifacts, workflowId: c.workflowId, workflowStatus: wf?.status ?? null });
  }
  for (const wr of deps.workRequests.items.values()) {
    graph.workRequests.push({ workRequestId: wr.id, status: wr.status, artifactIds: inputArtifactsOf(wr) });
  }
  return graph;
}

function completeRowKeys(deps: MemoryDeps): Set<string> {
  const keys = new Set<string>();
  for (const files of deps.artifacts.files.values()) for (const f of files.values()) if (f.complete) keys.add(blobObjectKey(f.sha256, f.size));
  return keys;
}

function anyRowKeys(deps: MemoryDeps): Set<string> {
  const keys = new Set<string>();
  for (const files of deps.artifacts.files.values()) for (const f of files.values()) keys.add(blobObjectKey(f.sha256, f.size));
  return keys;
}

/** Every work request as the domain rule sees it now (the workspace delay, items naming them, dependents). */
function workRequestFacts(deps: MemoryDeps): ExpiryWorkRequest[] {
  const all = [...deps.workRequests.items.values()];
  const rootOf = (id: number): WorkRequest => {
    let wr = deps.workRequests.items.get(id)!;
    while (wr.parent !== null && deps.workRequests.items.has(wr.parent)) wr = deps.workRequests.items.get(wr.parent)!;
    return wr;
  };
  return all.map((wr) => {
    const own = rootOf(wr.id).internalCollection;
    const by = `workflow:${wr.id}`;
    const referenced = [...deps.collections.items.values()].some((i) => i.collectionId !== own && (i.createdBy === by || i.removedBy === by));
    const dependent = all.find((o) => o.dependencies.includes(wr.id) && !isFinished(o) && rootOf(o.id).id !== rootOf(wr.id).id);
    return { id: wr.id, parent: wr.parent, status: wr.status, createdAt: wr.createdAt, delaySeconds: WORKSPACE_DELAY, referencedFromOutside: referenced, ...(dependent ? { unfinishedDependent: dependent.id } : {}) };
  });
}

/**
 * The graph with workspace priv going (its artifacts expired whatever their dates, its collections
 * retaining nothing): what keeps an artifact then is a root outside priv (pub's unexpired artifacts,
 * an active request's inputs), the most the workspace step may ever ignore.
 */
function graphWithPrivGoing(deps: MemoryDeps): ExpiryGraph {
  const graph = fullGraph(deps);
  const privCollections = new Set([...deps.collections.collections.values()].filter((c) => c.workspace === 'priv').map((c) => c.id));
  const inPriv = (id: number) => deps.artifacts.artifacts.get(id)?.workspace === 'priv';
  return {
    ...graph,
    artifacts: graph.artifacts.map((a) => (inPriv(a.id) ? { ...a, expireAt: new Date(0).toISOString() } : a)),
    links: graph.links.filter((l) => !privCollections.has(l.collectionId)),
  };
}

/** The memory store, checking at each deletion that the artifact (or work request) is unreachable in the current state. */
class CheckedStore extends MemoryExpiryStore {
  violations: string[] = [];
  /** Set when priv has an `expiration_delay`: deletions are checked against roots outside priv only. */
  privMayGo = false;
  constructor(private readonly d: MemoryDeps) {
    super(d);
    const violations = this.violations;
    const checked = Object.create(this.workRequests) as MemoryWorkRequestExpiryStore;
    checked.deleteWorkRequest = async (wr: WorkRequest) => {
      const facts = workRequestFacts(d).map((f) => (this.privMayGo ? { ...f, workspaceExpired: true } : f));
      const kept = planWorkRequestExpiry(facts, d.clock.now()).kept.get(wr.id);
      if (kept && d.workRequests.items.get(wr.id)?.version === wr.version) violations.push(`work request ${wr.id} deleted while kept: ${JSON.stringify(kept)}`);
      return MemoryWorkRequestExpiryStore.prototype.deleteWorkRequest.call(this.workRequests, wr);
    };
    (this as { workRequests: MemoryWorkRequestExpiryStore }).workRequests = checked;
  }
  override async deleteCondemnedArtifact(id: number, condemnedAt: string) {
    if (this.d.artifacts.condemned.get(id) === condemnedAt) {
      const plan = planArtifactExpiry(this.privMayGo ? graphWithPrivGoing(this.d) : fullGraph(this.d), this.d.clock.now());
      const kept = plan.kept.get(id);
      if (kept) this.violations.push(`artifact ${id} deleted while kept: ${JSON.stringify(kept)}`);
    }
    return super.deleteCondemnedArtifact(id, condemnedAt);
  }
}

type Op =
  | { kind: 'create'; workspace: 'priv' | 'pub'; contents: number[]; delay: number | null; upload: boolean }
  | { kind: 'relate'; from: number; to: number }
  | { kind: 'link'; artifact: number; collection: 'always' | 'never' | 'workflow' }
  | { kind: 'input'; artifact: number; status: WorkRequestStatus }
  | { kind: 'finish'; which: 'workflow' | 'request' }
  | { kind: 'upload'; artifact: number }
  | { kind: 'pass' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    arbitrary: fc.record({
      kind: fc.constant('create' as const),
      workspace: fc.constantFrom('priv' as const, 'pub' as const),
      contents: fc.uniqueArray(fc.integer({ min: 0, max: CONTENTS.length - 1 }), { maxLength: 2 }),
      delay: fc.constantFrom(null, 0, 1, 5, 60),
      upload: fc.boolean(),
    }),
    weight: 4,
  },
  { arbitrary: fc.record({ kind: fc.constant('relate' as const), from: fc.nat(30), to: fc.nat(30) }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('link' as const), artifact: fc.nat(30), collection: fc.constantFrom('always' as const, 'never' as const, 'workflow' as const) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('input' as const), artifact: fc.nat(30), status: fc.constantFrom<WorkRequestStatus>('pending', 'running', 'blocked', 'completed') }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('finish' as const), which: fc.constantFrom('workflow' as const, 'request' as const) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('upload' as const), artifact: fc.nat(30) }), weight: 2 },
  { arbitrary: fc.constant({ kind: 'pass' as const }), weight: 3 },
);

/** Each batch runs concurrently; the clock moves between batches. */
const scenarioArb = fc.array(fc.record({ ops: fc.array(opArb, { minLength: 1, maxLength: 4 }), advance: fc.constantFrom(0, 1, 2, 10, 40) }), {
  minLength: 1,
  maxLength: 8,
});

/** Wraps every async method so that its continuation runs when the scheduler says. */
function scheduled<T extends object>(target: T, s: fc.Scheduler): T {
  return new Proxy(target, {
    get(obj, prop, receiver) {
      const value = Reflect.get(obj, prop, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const result = (value as (...a: unknown[]) => unknown).apply(obj, args);
        return result instanceof Promise ? s.schedule(result, String(prop)) : result;
      };
    },
  });
}

async function setUp() {
  const world = await createWorld();
  const deps = world.deps;
  const owner = await world.caller('owner');
  const ws = (await deps.identity.getWorkspace('debusine', 'priv'))!;
  await deps.identity.updateWorkspace({ ...ws, defaultExpirationDelay: WORKSPACE_DELAY, version: ws.version + 1 }, ws.version);
  let nextCollection = 1000;
  const collection = async (retains: 'always' | 'never' | 'workflow', workflowId: number | null) => {
    const c = {
      id: nextCollection++,
      scope: 'debusine',
      workspace: 'priv',
      name: `keep-${retains}`,
      category: 'test:things',
      data: {},
      retainsArtifacts: retains,
      workflowId,
      createdAt: deps.clock.now().toISOString(),
      version: 1,
    };
    await deps.collections.create(c);
    return c.id;
  };
  const workflow = newWorkRequest({ id: 900, scope: 'debusine', workspace: 'priv', createdBy: 'user:owner', taskType: 'Workflow', taskName: 'noop', taskData: {}, createdAt: deps.clock.now().toISOString() });
  deps.workRequests.items.set(900, { ...workflow, status: 'running' });
  const collections = { always: await collection('always', null), never: await collection('never', null), workflow: await collection('workflow', 900) };
  return { deps, owner, collections };
}

async function runOp(deps: MemoryDeps, store: MemoryExpiryStore, owner: Caller, collections: Record<string, number>, op: Op, ids: number[], itemIds: { next: number }) {
  const pick = (n: number) => (ids.length ? ids[n % ids.length]! : undefined);
  switch (op.kind) {
    case 'create': {
      const files = Object.fromEntries(op.contents.map((c) => [`f${c}`, { size: CONTENTS[c]!.length, sha256: sha(CONTENTS[c]!) }]));
      const created = await createArtifact(deps, owner, {
        scope: 'debusine',
        workspace: op.workspace,
        category: 'test:things',
        data: {},
        files,
        ...(op.delay === null ? {} : { expirationDelay: op.delay }),
      });
      ids.push(created.artifact.id);
      if (op.upload) await uploadAll(deps, owner, created.artifact.id);
      return;
    }
    case 'upload': {
      const id = pick(op.artifact);
      if (id !== undefined) await uploadAll(deps, owner, id);
      return;
    }
    case 'relate': {
      const from = pick(op.from);
      const to = pick(op.to);
      if (from === undefined || to === undefined) return;
      await createRelation(deps, owner, { artifact: from, target: to, type: 'relates-to' });
      return;
    }
    case 'link': {
      const id = pick(op.artifact);
      if (id === undefined || !(await deps.collections.get(collections[op.collection]!))) return;
      const itemId = itemIds.next++;
      await deps.collections.addItem(
        { id: itemId, collectionId: collections[op.collection]!, name: `i${itemId}`, childType: 'artifact', category: 'test:things', artifactId: id, collectionRef: null, data: {}, createdAt: deps.clock.now().toISOString(), createdBy: 'user:owner', removedAt: null, removedBy: null },
        { replace: false },
      );
      return;
    }
    case 'input': {
      const id = pick(op.artifact);
      // As creating a request would: not in a workspace that is gone.
      if (id === undefined || !(await deps.identity.getWorkspace('debusine', 'priv'))) return;
      const wrId = 1000 + deps.workRequests.items.size;
      const wr = newWorkRequest({ id: wrId, scope: 'debusine', workspace: 'priv', createdBy: 'user:owner', taskType: 'Worker', taskName: 'lintian', taskData: { input: { source_artifact: id, binary_artifacts: [] } }, createdAt: deps.clock.now().toISOString() });
      deps.workRequests.items.set(wrId, { ...wr, status: op.status });
      return;
    }
    case 'finish': {
      for (const wr of deps.workRequests.items.values()) {
        if (op.which === 'workflow' ? wr.taskType === 'Workflow' : wr.taskType === 'Worker') {
          if (wr.status !== 'completed') {
            wr.status = 'completed';
            return;
          }
        }
      }
      return;
    }
    case 'pass':
      await runExpiryPass(deps, store, { recheckSeconds: 0, blobGraceSeconds: GRACE });
      return;
  }
}

async function uploadAll(deps: MemoryDeps, owner: Caller, id: number) {
  const found = await deps.artifacts.get(id);
  for (const f of found?.files ?? []) {
    if (f.complete) continue;
    const plan = await requestUpload(deps, owner, id, f.path);
    if (plan.complete || !('method' in plan) || plan.method !== 'single') continue;
    deps.files.clientPut(plan.url, CONTENTS.find((c) => sha(c) === f.sha256)!);
    await completeUpload(deps, owner, id, f.path);
  }
}

/** Lost races and refusals (409, 404, 400) are part of the game; anything else is a bug. */
function expectedRefusal(err: unknown) {
  if (!(err instanceof DomainError)) throw err;
}

/**
 * Runs the scenario's batches, each concurrently under the scheduler, the clock moving in between;
 * with `privGoes`, priv has an `expiration_delay` of 20 s. After every batch, every complete file's
 * bytes are in the store.
 */
async function runScenario(scenario: { ops: Op[]; advance: number }[], s: fc.Scheduler, privGoes: boolean) {
  const { deps, owner, collections } = await setUp();
  if (privGoes) {
    const priv = (await deps.identity.getWorkspace('debusine', 'priv'))!;
    await deps.identity.updateWorkspace({ ...priv, expirationDelay: 20, version: priv.version + 1 }, priv.version);
  }
  const store = new CheckedStore(deps);
  store.privMayGo = privGoes;
  const deletedObjects: string[] = [];
  const files = deps.files;
  const originalDelete = files.delete.bind(files);
  files.delete = async (key: string) => {
    if (key.startsWith('blobs/') && completeRowKeys(deps).has(key)) deletedObjects.push(key);
    return originalDelete(key);
  };
  // Everything the use cases and the pass touch is an interleaving point.
  const sDeps = { ...deps, artifacts: scheduled(deps.artifacts, s), files: scheduled(files, s), collections: scheduled(deps.collections, s) } as MemoryDeps;
  const sStore = scheduled(store, s);
  const ids: number[] = [];
  const itemIds = { next: 1 };
  for (const batch of scenario) {
    const tasks = batch.ops.map((op) => runOp(sDeps, sStore, owner, collections, op, ids, itemIds).catch(expectedRefusal));
    await s.waitFor(Promise.all(tasks));
    deps.clock.advance(batch.advance * 1000);
    for (const key of completeRowKeys(deps)) expect(files.objects.has(key)).toBe(true);
  }
  return { deps, store, files, deletedObjects };
}

describe('expiry pass: properties under random interleavings', () => {
  it('never deletes what a root reaches nor bytes a file needs; deletes the unreachable in two passes, the bytes after the grace', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, fc.scheduler(), async (scenario, s) => {
        const { deps, store, files, deletedObjects } = await runScenario(scenario, s, false);
        expect(store.violations).toEqual([]);
        expect(deletedObjects).toEqual([]);

        // Quiet, and late enough that every delay has run out: two passes delete everything
        // expired and unreachable, and nothing else.
        deps.clock.advance(100_000);
        // Work requests go first, in one pass: an input pin of a finished request keeps nothing anyway.
        const requests = planWorkRequestExpiry(workRequestFacts(deps), deps.clock.now());
        await runExpiryPass(deps, store, { recheckSeconds: 0, blobGraceSeconds: GRACE });
        for (const id of requests.expired) expect(deps.workRequests.items.has(id)).toBe(false);
        for (const id of requests.kept.keys()) expect(deps.workRequests.items.has(id)).toBe(true);
        const plan = planArtifactExpiry(fullGraph(deps), deps.clock.now());
        await runExpiryPass(deps, store, { recheckSeconds: 0, blobGraceSeconds: GRACE });
        await runExpiryPass(deps, store, { recheckSeconds: 0, blobGraceSeconds: GRACE });
        for (const id of plan.expired) expect(deps.artifacts.artifacts.has(id)).toBe(false);
        for (const id of plan.kept.keys()) expect(deps.artifacts.artifacts.has(id)).toBe(true);

        // After the grace period, no stored bytes are left that no file row references.
        for (let i = 0; i < 3; i++) {
          deps.clock.advance((GRACE + 1) * 1000);
          await runExpiryPass(deps, store, { recheckSeconds: 0, blobGraceSeconds: GRACE });
        }
        const referenced = anyRowKeys(deps);
        const stored = [...files.objects.keys()].filter((k) => k.startsWith('blobs/') && k !== blobObjectKey(sha(Buffer.alloc(0)), 0));
        for (const key of stored) expect(referenced.has(key)).toBe(true);
        for (const key of completeRowKeys(deps)) expect(files.objects.has(key)).toBe(true);
        expect(store.violations).toEqual([]);
        expect(deletedObjects).toEqual([]);
      }),
      { numRuns: 150 },
    );
  });

  it('with an expiration_delay on priv: whatever of priv goes, nothing a root outside priv reaches goes, nor bytes a file needs', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, fc.boolean(), fc.scheduler(), async (scenario, finishAll, s) => {
        const { deps, store, files, deletedObjects } = await runScenario(scenario, s, true);
        // Quiet: with every request finished, priv goes within a few passes unless something outside keeps part of it.
        if (finishAll) for (const wr of deps.workRequests.items.values()) wr.status = 'completed';
        for (let i = 0; i < 8; i++) {
          deps.clock.advance(100_000);
          await runExpiryPass(deps, store, { recheckSeconds: 0, blobGraceSeconds: GRACE });
        }
        expect(store.violations).toEqual([]);
        expect(deletedObjects).toEqual([]);
        for (const key of completeRowKeys(deps)) expect(files.objects.has(key)).toBe(true);
        const outsideKept = planArtifactExpiry(graphWithPrivGoing(deps), deps.clock.now()).kept;
        for (const id of outsideKept.keys()) expect(deps.artifacts.artifacts.has(id)).toBe(true);
        if ((await deps.identity.getWorkspace('debusine', 'priv')) === undefined) {
          // Gone: no row names it any more.
          const naming = [...deps.artifacts.artifacts.values(), ...deps.collections.collections.values(), ...deps.workRequests.items.values()].filter((x) => x.workspace === 'priv');
          expect(naming).toEqual([]);
        } else if (finishAll) {
          // It waits only on something outside: a pub artifact relating to one of its artifacts.
          deps.clock.advance(100_000);
          const report = await runExpiryPass(deps, store, { recheckSeconds: 0, blobGraceSeconds: GRACE, dryRun: true });
          expect(report.workspaces.waiting).toEqual([{ scope: 'debusine', workspace: 'priv', why: expect.stringMatching(/kept from outside the workspace|of another workspace relates to it/) }]);
        }
      }),
      { numRuns: 60 },
    );
  });
});
