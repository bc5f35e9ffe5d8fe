import { z } from 'zod';
import { createCollection, addCollectionItem } from '../../shared/app/collections';
import { createTemplate } from '../../shared/app/workflow-templates';
import { startWorkflow } from '../../shared/app/workflow-runs';
import { createWorkRequest } from '../../shared/app/work-requests';
import { createArtifact } from '../../shared/app/artifacts';
import { registerWorkflow } from '../../shared/workflows';
import {
  ArtifactHasNoArchitecture,
  followArtifactRelation,
  getArchitectures,
  getSourcePackageNames,
  locateDebianSourcePackage,
  lookupResultArchitecture,
  lookupResultBinaryPackageName,
  type ArtifactView,
} from '../../shared/workflows/utils';
import type { LookupResult } from '../../shared/domain/collections';
import type { CollectionItem } from '../../shared/domain/collections';
import { AMD64_METADATA, createSchedulingWorld, type SchedulingWorld } from '../support/scheduling';
import { defaultScript, drive } from '../support/workflows';

let w: SchedulingWorld;
beforeEach(async () => {
  w = await createSchedulingWorld();
});

const item = (data: Record<string, unknown>, category = 'debusine:promise'): CollectionItem => ({
  id: 1, collectionId: 1, name: 'x', childType: 'bare', category, artifactId: null, collectionRef: null, data, createdAt: '', createdBy: '', removedAt: null, removedBy: null,
});
const promise = (data: Record<string, unknown>): LookupResult => ({ resultType: 'b', collectionItem: item(data), artifact: null, collection: null });
const artifactResult = (id: number): LookupResult => ({ resultType: 'a', collectionItem: null, artifact: id, collection: null });

describe('workflow utilities (seed 001)', () => {
  const artifacts: Record<number, ArtifactView> = {
    1: { id: 1, category: 'debian:binary-package', data: { deb_fields: { Package: 'hello', Architecture: 'amd64' } } },
    2: { id: 2, category: 'debian:upload', data: {} },
    3: { id: 3, category: 'debian:source-package', data: { name: 'hello' } },
    4: { id: 4, category: 'debian:binary-package', data: {} },
  };
  const read = async (id: number) => artifacts[id]!;
  const relations = async (id: number) => (id === 2 ? [{ target: 3, type: 'extends' }] : []);

  it('reads architectures from promises and artifacts', async () => {
    expect(lookupResultArchitecture(promise({ architecture: 'i386' }))).toBe('i386');
    expect(lookupResultArchitecture(artifactResult(1), artifacts[1])).toBe('amd64');
    expect(() => lookupResultArchitecture(artifactResult(4), artifacts[4])).toThrow(ArtifactHasNoArchitecture);
    expect([...(await getArchitectures([promise({ architecture: 'i386' }), artifactResult(1)], read))].sort()).toEqual(['amd64', 'i386']);
  });
  it('reads binary package names', () => {
    expect(lookupResultBinaryPackageName(artifactResult(1), artifacts[1])).toBe('hello');
    expect(lookupResultBinaryPackageName(promise({ binary_package_name: 'hello-doc' }))).toBe('hello-doc');
    expect(() => lookupResultBinaryPackageName(artifactResult(4), artifacts[4])).toThrow();
  });
  it('finds the source package of an upload by following its relation', async () => {
    expect((await locateDebianSourcePackage(artifacts[2]!, read, relations)).id).toBe(3);
    expect((await locateDebianSourcePackage(artifacts[3]!, read, relations)).id).toBe(3);
    await expect(locateDebianSourcePackage(artifacts[1]!, read, relations)).rejects.toThrow(/not a debian:source-package/);
    await expect(followArtifactRelation(artifacts[2]!, 'relates-to', 'debian:source-package', read, relations)).rejects.toThrow();
  });
  it('lists source package names of promises and artifacts', async () => {
    expect(await getSourcePackageNames([promise({ source_package_name: 'zlib' }), artifactResult(3)], ['debian:source-package'], read)).toEqual(['hello', 'zlib']);
    await expect(getSourcePackageNames([artifactResult(1)], ['debian:source-package'], read)).rejects.toThrow(/expected/);
  });
});

describe('sub-workflows', () => {
  it('are orchestrated inline by their parent, and complete it', async () => {
    registerWorkflow({
      name: 'test-parent',
      schema: z.strictObject({}),
      async populate(ctx) {
        await ctx.ensureChild({ taskType: 'Workflow', taskName: 'noop', taskData: {}, workflowData: { step: 'inner' } });
        await ctx.ensureChild({ taskName: 'noop', taskData: { result: true }, workflowData: { step: 'work' } });
      },
    });
    await createTemplate(w.deps, await w.caller('owner'), { scope: 'debusine', workspace: 'priv', name: 'p', taskName: 'test-parent' });
    const wf = await startWorkflow(w.deps, await w.caller('contributor'), { scope: 'debusine', workspace: 'priv', templateName: 'p' });
    await drive(w, [await w.addWorker('a.lan')], defaultScript(w));
    const kids = await w.deps.workRequests.children(wf.id);
    expect(kids.map((k) => [k.workflowData.step, k.taskType, k.status, k.result])).toEqual([
      ['inner', 'Workflow', 'completed', 'success'],
      ['work', 'Worker', 'completed', 'success'],
    ]);
    expect((await w.deps.workRequests.get(wf.id))!).toMatchObject({ status: 'completed', result: 'success' });
  });
});

describe('event reactions', () => {
  it('update-collection-with-data adds a bare item when a workflow child succeeds', async () => {
    registerWorkflow({
      name: 'test-data',
      schema: z.strictObject({}),
      async populate(ctx) {
        const child = await ctx.ensureChild({ taskName: 'noop', taskData: { result: true }, workflowData: { step: 'only' } });
        const current = (await ctx.children()).find((c) => c.id === child.id)!;
        await w.deps.workRequests.commit({
          update: [{
            workRequest: { ...current, eventReactions: { on_success: [{ action: 'update-collection-with-data', collection: 'internal@collections', category: 'conveyor:note', name_template: 'note-{kind}', data: { kind: 'done' } }] }, version: current.version + 1 },
            expectedVersion: current.version,
          }],
        });
      },
    });
    await createTemplate(w.deps, await w.caller('owner'), { scope: 'debusine', workspace: 'priv', name: 'd', taskName: 'test-data' });
    const wf = await startWorkflow(w.deps, await w.caller('contributor'), { scope: 'debusine', workspace: 'priv', templateName: 'd' });
    await drive(w, [await w.addWorker('a.lan')], defaultScript(w));
    const items = await w.deps.collections.activeItems(wf.internalCollection!);
    expect(items.map((i) => [i.name, i.childType, i.category, i.data])).toEqual([['note-done', 'bare', 'conveyor:note', { kind: 'done' }]]);
  });

  it('20: skip-if-lookup-result-changed completes the request as skipped at assignment, and it never runs', async () => {
    const contributor = await w.caller('contributor');
    const collection = await createCollection(w.deps, contributor, { scope: 'debusine', workspace: 'priv', name: 'suite', category: 'debian:suite' });
    const wr = await createWorkRequest(w.deps, contributor, { scope: 'debusine', workspace: 'priv', taskName: 'noop', taskData: {} });
    // Reactions other than notifications come from workflows; set one up directly.
    const stored = (await w.deps.workRequests.get(wr.id))!;
    await w.deps.workRequests.commit({
      update: [{
        workRequest: { ...stored, eventReactions: { on_assignment: [{ action: 'skip-if-lookup-result-changed', lookup: 'suite@debian:suite/name:hello', collection_item_id: null }] }, version: stored.version + 1 },
        expectedVersion: stored.version,
      }],
    });
    const artifact = await createArtifact(w.deps, contributor, { scope: 'debusine', workspace: 'priv', category: 'debian:source-package', data: {}, files: {} });
    await addCollectionItem(w.deps, contributor, collection.id, { name: 'hello', artifact: artifact.artifact.id });
    const worker = await w.addWorker('a.lan', { metadata: AMD64_METADATA });
    await drive(w, [worker], async () => {
      throw new Error('a skipped request must never run');
    });
    const done = (await w.deps.workRequests.get(wr.id))!;
    expect(done).toMatchObject({ status: 'completed', result: 'skipped', outputData: { skip_reason: "Result of lookup 'suite@debian:suite/name:hello' changed" } });
    expect((await w.deps.workers.get(worker.name))!.assigned).toBe(0);
  });
});

describe('recovery from lost follow-up steps (found by the benchmark)', () => {
  async function chain() {
    registerWorkflow({
      name: 'test-chain',
      schema: z.strictObject({}),
      async populate(ctx) {
        const first = await ctx.ensureChild({ taskName: 'noop', taskData: { result: true }, workflowData: { step: 'first' } });
        const second = await ctx.ensureChild({ taskName: 'noop', taskData: { result: true }, workflowData: { step: 'second' } });
        await ctx.addDependency(second, first);
      },
    });
    await createTemplate(w.deps, await w.caller('owner'), { scope: 'debusine', workspace: 'priv', name: 'c', taskName: 'test-chain' });
    return startWorkflow(w.deps, await w.caller('contributor'), { scope: 'debusine', workspace: 'priv', templateName: 'c' });
  }

  it('a lost populate hand-off leaves the workflow pending for the next pass, not running for ever', async () => {
    const wf = await chain();
    const { schedule } = await import('../../shared/app/scheduler');
    const queues = w.deps.queues;
    const send = queues.enqueueOrchestration.bind(queues);
    queues.enqueueOrchestration = async () => {
      queues.enqueueOrchestration = send;
      throw new Error('SQS is unavailable');
    };
    await expect(schedule(w.deps)).rejects.toThrow('SQS is unavailable');
    expect((await w.deps.workRequests.get(wf.id))!.status).toBe('pending');
    await drive(w, [await w.addWorker('a.lan')], defaultScript(w));
    expect((await w.deps.workRequests.get(wf.id))!).toMatchObject({ status: 'completed', result: 'success' });
  });

  it('a completion whose follow-up was lost is settled by the watchdog reconcile', async () => {
    const wf = await chain();
    const worker = await w.addWorker('a.lan');
    const repo = w.deps.workRequests;
    const reverse = repo.reverseDependencies.bind(repo);
    // Twice: the read alongside the finish's commit, and the unblocking's own listing after it.
    let failures = 2;
    repo.reverseDependencies = async (id) => {
      if (failures-- > 0) throw new Error('the function died here');
      return reverse(id);
    };
    // The function died: the hand-off of the failed unblock and the workflow's message are lost too.
    const queues = w.deps.queues;
    const enqueue = queues.enqueueOrchestration.bind(queues);
    let lost = 2;
    queues.enqueueOrchestration = async (message) => {
      if ((message.kind === 'settle-dependents' || message.kind === 'child-finished') && lost-- > 0) throw new Error('the function died here');
      return enqueue(message);
    };
    // The completion itself stands (follow-ups never undo it); the second child waits behind the lost follow-up.
    await drive(w, [worker], defaultScript(w));
    const second = (await w.deps.workRequests.children(wf.id)).find((c) => c.workflowData.step === 'second')!;
    expect(second.status).toBe('blocked');
    const { reconcileWorkflows } = await import('../../shared/app/watchdog');
    expect(await reconcileWorkflows(w.deps)).toEqual([]); // not quiet for long enough yet
    w.deps.clock.advance(6 * 60_000);
    await (await import('../../shared/app/workers')).updateDynamicMetadata(w.deps, await worker.caller(), AMD64_METADATA);
    expect(await reconcileWorkflows(w.deps)).toEqual([wf.id]);
    await drive(w, [worker], defaultScript(w));
    expect((await w.deps.workRequests.get(wf.id))!).toMatchObject({ status: 'completed', result: 'success' });
  });
});
