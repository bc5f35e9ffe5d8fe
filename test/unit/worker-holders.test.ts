/**
 * The memory fake reads a worker's active requests as DynamoDB does (worker-holders.ts): from its
 * slot holders, keeping those still assigned to it and not finished; a request holding a slot taken
 * before holders existed is found while `assigned` exceeds the holders, and adopted.
 */
import { createMemoryDeps } from '../../shared/adapters/memory';
import { bump, newWorkRequest, type WorkRequest } from '../../shared/domain/work-requests';
import { externalWorker } from '../support/worker-fixture';

const AT = '2026-11-22T10:30:00.000Z';
let nextId = 100;

function setUp() {
  const deps = createMemoryDeps();
  const pending = async (): Promise<WorkRequest> => {
    const wr = newWorkRequest({ id: ++nextId, scope: 'debusine', workspace: 'System', createdBy: 'user:alice', taskType: 'Worker', taskName: 'noop', taskData: {}, hostArchitecture: 'amd64', createdAt: AT });
    await deps.workRequests.commit({ create: [wr] });
    return wr;
  };
  const assigned = async (worker: string): Promise<WorkRequest> => {
    const wr = await pending();
    const next = bump(wr, { worker, assignedAt: AT });
    await deps.workRequests.commit({ update: [{ workRequest: next, expectedVersion: wr.version }], slots: [{ worker, delta: 1, workRequestId: wr.id }] });
    return next;
  };
  const worker = async (name: string, concurrency = 3) => {
    await deps.workers.create(externalWorker(name, { concurrency }));
    return name;
  };
  const activeIds = async (name: string) => (await deps.workRequests.activeForWorker(name)).map((wr) => wr.id);
  return { deps, pending, assigned, worker, activeIds };
}

it('the active requests are the holders still assigned and not finished, by id', async () => {
  const { deps, assigned, worker, activeIds } = setUp();
  const bee = await worker('bee');
  const [first, second] = [await assigned(bee), await assigned(bee)];
  const started = bump(first, { status: 'running', startedAt: AT });
  await deps.workRequests.commit({ update: [{ workRequest: started, expectedVersion: first.version }] });
  expect(await deps.workRequests.activeForWorker(bee)).toEqual([started, second]);
  await deps.workRequests.commit({
    update: [{ workRequest: bump(started, { status: 'completed', result: 'success', completedAt: AT }), expectedVersion: started.version, finishes: true }],
    slots: [{ worker: bee, delta: -1, workRequestId: first.id }],
  });
  expect(await activeIds(bee)).toEqual([second.id]);
  expect(deps.workers.holdersOf(bee)).toEqual(new Set([second.id]));
});

it('a holder whose request finished without its give-back, or moved to another worker, is not returned', async () => {
  const { deps, assigned, worker, activeIds } = setUp();
  const bee = await worker('bee');
  const wasp = await worker('wasp');
  const [finished, moved, kept] = [await assigned(bee), await assigned(bee), await assigned(bee)];
  await deps.workRequests.commit({ update: [{ workRequest: bump(finished, { status: 'aborted', completedAt: AT }), expectedVersion: finished.version }] });
  deps.workRequests.items.set(moved.id, bump(moved, { worker: wasp }));
  expect(deps.workers.holdersOf(bee).size).toBe(3);
  expect(await activeIds(bee)).toEqual([kept.id]);
  expect(await activeIds(wasp)).toEqual([]);
});

it('a request holding a slot taken before holders (the gsi2 entry of older code) is found and adopted', async () => {
  const { deps, pending, assigned, worker, activeIds } = setUp();
  const bee = await worker('bee');
  const held = await assigned(bee);
  const legacy = bump(await pending(), { worker: bee, assignedAt: AT });
  deps.workRequests.items.set(legacy.id, legacy);
  deps.workers.items.get(bee)!.assigned++;
  expect(await activeIds(bee)).toEqual([held.id, legacy.id]);
  expect(deps.workers.holdersOf(bee)).toEqual(new Set([held.id, legacy.id]));
  // Without a slot to account for it (`assigned` equal to the holders), a request naming the worker is not read.
  const stray = bump(await pending(), { worker: bee, assignedAt: AT });
  deps.workRequests.items.set(stray.id, stray);
  expect(await activeIds(bee)).toEqual([held.id, legacy.id]);
});
