/**
 * Security finding 7, existence leaks: a private workspace, relation or running request the caller
 * cannot see must look exactly like one that does not exist — in the answer and in the reads behind it.
 */
import { createArtifact } from '../../../shared/app/artifacts';
import { accessWorkspace } from '../../../shared/app/auth';
import { createRelation, deleteRelation } from '../../../shared/app/relations';
import { getWorker, listWorkers } from '../../../shared/app/workers';
import { createWorkRequest, listWorkRequests } from '../../../shared/app/work-requests';
import type { WorkRequest } from '../../../shared/domain/work-requests';
import type { WorkRequestListFilter } from '../../../shared/ports';
import { bump } from '../../../shared/domain/work-requests';
import { createSchedulingWorld, type SchedulingWorld } from '../../support/scheduling';

let world: SchedulingWorld;
beforeEach(async () => {
  world = await createSchedulingWorld();
});

/** Records the identity reads made while `run` runs. */
async function identityReads(run: () => Promise<unknown>): Promise<string[]> {
  const reads: string[] = [];
  const identity = world.deps.identity;
  const original = { getWorkspace: identity.getWorkspace.bind(identity), getRole: identity.getRole.bind(identity) };
  identity.getWorkspace = (...args) => (reads.push('getWorkspace'), original.getWorkspace(...args));
  identity.getRole = (...args) => (reads.push('getRole'), original.getRole(...args));
  try {
    await run().catch(() => undefined);
  } finally {
    Object.assign(identity, original);
  }
  return reads.sort();
}

it('a hidden private workspace costs the same reads as a missing one (no timing difference)', async () => {
  const outsider = await world.caller('outsider');
  const hidden = await identityReads(() => accessWorkspace(world.deps, outsider, 'debusine', 'priv', 'viewer'));
  const missing = await identityReads(() => accessWorkspace(world.deps, outsider, 'debusine', 'no-such-workspace', 'viewer'));
  expect(hidden).toEqual(missing);
});

it('deleting a relation whose source is hidden answers like a relation that does not exist', async () => {
  const contributor = await world.caller('contributor');
  const artifact = async () =>
    (await createArtifact(world.deps, contributor, { scope: 'debusine', workspace: 'priv', category: 'debusine:test', data: {}, files: {} })).artifact;
  const [a, b] = [await artifact(), await artifact()];
  const { relation } = await createRelation(world.deps, contributor, { artifact: a.id, target: b.id, type: 'relates-to' });
  const outsider = await world.caller('outsider');
  const hidden = await deleteRelation(world.deps, outsider, relation.id).catch((e: Error & { detail?: string }) => e);
  const missing = await deleteRelation(world.deps, outsider, relation.id + 1000).catch((e: Error & { detail?: string }) => e);
  expect(hidden).toBeInstanceOf(Error);
  const shape = (e: unknown, id: number) => JSON.stringify({ ...(e as object), message: (e as Error).message }).replaceAll(String(id), 'N');
  expect(shape(hidden, relation.id)).toEqual(shape(missing, relation.id + 1000));
  expect(JSON.stringify(hidden)).not.toContain(`artifact ${a.id}`);
  expect(await world.deps.artifacts.getRelation(relation.id)).toBeDefined();
});

it("GET worker/ shows a running request's id only to those who may see its workspace", async () => {
  const worker = await world.addWorker('build1.example.org');
  const wr = await world.submit('noop');
  await world.deps.workRequests.commit({
    update: [
      {
        workRequest: bump(wr, { status: 'running', worker: worker.name, assignedAt: '2026-12-06T04:00:00.000Z', startedAt: '2026-12-06T04:00:00.000Z' }),
        expectedVersion: wr.version,
      },
    ],
    // A request on a worker holds one of its slots (its holder is how the worker's work is read).
    slots: [{ worker: worker.name, delta: 1, workRequestId: wr.id }],
  });
  const shownTo = async (who: string) => (await listWorkers(world.deps, await world.caller(who))).find((w) => w.name === worker.name)!.currentWork;
  expect(await shownTo('viewer')).toEqual([wr.id]);
  expect(await shownTo('admin')).toEqual([wr.id]);
  expect(await shownTo('outsider')).toEqual([]);
  expect((await getWorker(world.deps, worker.name, await world.caller('outsider'))).currentWork).toEqual([]);
  // Operators (the admin CLI) see everything.
  expect((await getWorker(world.deps, worker.name)).currentWork).toEqual([wr.id]);
});

it('a work-request list never hands out a cursor that names a request the caller cannot see', async () => {
  // Key cursors, as DynamoDB's are: "after:<id>" names the last request read.
  const base = world.deps.workRequests;
  const keyed: typeof base = Object.assign(Object.create(base) as typeof base, {
    async list(filter: WorkRequestListFilter) {
      const all = (await base.list({ ...filter, cursor: undefined, limit: 1000 })).items;
      const after = filter.cursor ? Number(filter.cursor.slice('after:'.length)) : Infinity;
      const rest = all.filter((w) => w.id < after);
      const items = rest.slice(0, filter.limit);
      return { items, ...(rest.length > filter.limit ? { next: `after:${items[items.length - 1]!.id}` } : {}) };
    },
    cursorAfter: (wr: WorkRequest) => `after:${wr.id}`,
  });
  world.deps.workRequests = keyed;
  const contributor = await world.caller('contributor');
  const ids: Record<string, number[]> = { pub: [], priv: [] };
  for (const workspace of ['pub', 'priv', 'pub', 'priv', 'priv', 'priv', 'pub', 'priv']) {
    ids[workspace]!.push((await createWorkRequest(world.deps, contributor, { scope: 'debusine', workspace, taskName: 'noop', taskData: {} })).id);
  }
  const outsider = await world.caller('outsider');
  const seen: number[] = [];
  const cursors: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await listWorkRequests(world.deps, outsider, { scope: 'debusine', limit: 2, ...(cursor ? { cursor } : {}) });
    seen.push(...page.items.map((w) => w.id));
    cursor = page.next;
    if (cursor) cursors.push(cursor);
  } while (cursor && cursors.length < 20);
  expect(seen).toEqual([...ids['pub']!].reverse());
  for (const c of cursors) expect(ids['priv']).not.toContain(Number(c.slice('after:'.length)));
});
