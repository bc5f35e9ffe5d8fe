/**
 * DynamoWorkRequestRepository and DynamoWorkerRepository against DynamoDB Local (started by
 * test/integration/global-setup.ts). The table is shared: every test uses its own ids, worker
 * names, scopes and architectures, and the time-indexed queries use times no other test writes.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { DynamoWorkRequestRepository } from '../../shared/adapters/dynamodb/work-request-repository';
import { DynamoWorkerRepository } from '../../shared/adapters/dynamodb/worker-repository';
import { ConflictError, NotFoundError, ValidationError } from '../../shared/domain/errors';
import { newWorkRequest, type WorkRequest } from '../../shared/domain/work-requests';
import type { Worker } from '../../shared/domain/workers';
import { externalWorker } from '../support/worker-fixture';

const table = process.env.CONVEYOR_TABLE_MAIN!;
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
const requests = new DynamoWorkRequestRepository(doc, table);
const workers = new DynamoWorkerRepository(doc, table);

afterAll(() => doc.destroy());

let nextId = Math.floor(Math.random() * 1e9) * 1000;
const newId = () => ++nextId;
const unique = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

function wrOf(overrides: Partial<WorkRequest> = {}): WorkRequest {
  return newWorkRequest({
    id: newId(),
    scope: 'debusine',
    workspace: 'System',
    createdBy: 'user:alice',
    taskType: 'Worker',
    taskName: 'noop',
    taskData: {},
    hostArchitecture: 'amd64',
    createdAt: '2026-11-22T10:00:00.000Z',
    ...overrides,
  });
}

function workerOf(overrides: Partial<Worker> = {}): Worker {
  return externalWorker(unique('bee'), { dynamicMetadata: { 'system:host_architecture': 'amd64' }, ...overrides });
}

async function created(overrides: Partial<WorkRequest> = {}): Promise<WorkRequest> {
  const wr = wrOf(overrides);
  await requests.commit({ create: [wr] });
  return wr;
}

async function createdWorker(overrides: Partial<Worker> = {}): Promise<Worker> {
  const w = workerOf(overrides);
  await workers.create(w);
  return w;
}

/** The scheduler's assignment: the request gets the worker, the worker a slot held by the request (its holder finds it). */
function assign(wr: WorkRequest, worker: string) {
  return requests.commit({
    update: [{ workRequest: { ...wr, worker, assignedAt: '2026-11-22T10:30:00.000Z', version: wr.version + 1 }, expectedVersion: wr.version }],
    slots: [{ worker, delta: 1, workRequestId: wr.id }],
  });
}

describe('work requests: create, get, getMany', () => {
  test('round-trips every field', async () => {
    const wr = wrOf({
      taskType: 'Worker',
      taskName: 'sbuild',
      taskData: { input: { source_artifact: 12 }, big: 12345678901234567890, deep: [[[{ x: null }]]], empty: '' },
      hostArchitecture: 'arm64',
      dynamicTaskData: { environment_id: 5, runtime_context: 'sid' },
      status: 'running',
      result: '',
      worker: 'bee-1',
      assignedAt: '2026-11-22T10:00:30.000Z',
      startedAt: '2026-11-22T10:01:00.000Z',
      completedAt: null,
      priorityBase: -7,
      priorityAdjustment: 1000,
      parent: 77,
      dependencies: [3, 1, 2],
      unblockStrategy: 'manual',
      eventReactions: { on_success: [{ action: 'send-notification', channel: 'c', data: {} }] },
      workflowData: { allow_failure: true, display_name: 'Build', step: 'build-arm64' },
      outputData: { runtime_statistics: { duration: 3 }, errors: [{ message: 'm', code: 'c' }], skip_reason: 'none' },
      retryCount: 2,
      supersedes: 66,
      supersededBy: 99,
      abortedBy: 'user:bob',
      heartbeatAt: '2026-11-22T10:02:00.000Z',
      logtail: ['a', 'b', ''],
      outputArtifacts: [5, 4],
      version: 7,
    });
    await requests.commit({ create: [wr] });
    expect(await requests.get(wr.id)).toEqual(wr);

    const bare = await created();
    expect(await requests.get(bare.id)).toEqual(bare);
    expect(await requests.getMany([bare.id, newId(), wr.id])).toEqual([bare, wr]);
    expect(await requests.get(newId())).toBeUndefined();
  });

  test('a create whose id exists is a ConflictError and writes nothing', async () => {
    const wr = await created();
    const other = await created();
    const err = await requests
      .commit({ create: [wrOf({ id: other.id + 1000 }), { ...wr, taskName: 'changed' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect((err as ConflictError).detail).toBe(`work request ${wr.id} already exists`);
    expect((await requests.get(wr.id))!.taskName).toBe('noop');
    expect(await requests.get(other.id + 1000)).toBeUndefined();
  });

  test('getMany reads more than one batch (100 keys)', async () => {
    const many = Array.from({ length: 105 }, () => wrOf());
    for (let i = 0; i < many.length; i += 50) await requests.commit({ create: many.slice(i, i + 50) });
    const ids = many.map((w) => w.id).reverse();
    expect((await requests.getMany(ids)).map((w) => w.id)).toEqual(ids);
  });

  test('an update conditioned on a stale version is a ConflictError and writes nothing', async () => {
    const wr = await created();
    await requests.commit({ update: [{ workRequest: { ...wr, priorityAdjustment: 5, version: 2 }, expectedVersion: 1 }] });
    const stored = await requests.get(wr.id);
    expect(stored).toMatchObject({ priorityAdjustment: 5, version: 2 });
    await expect(requests.commit({ update: [{ workRequest: { ...wr, priorityAdjustment: 9, version: 2 }, expectedVersion: 1 }] })).rejects.toThrow(
      `work request ${wr.id}: expected version 1, found 2`,
    );
    expect((await requests.get(wr.id))!.priorityAdjustment).toBe(5);
  });
});

describe('reverse dependencies', () => {
  test('links are added and removed atomically with the requests', async () => {
    const dep = wrOf();
    const a = wrOf({ status: 'blocked', dependencies: [dep.id] });
    const b = wrOf({ status: 'blocked', dependencies: [dep.id] });
    await requests.commit({
      create: [dep, a, b],
      addReverseDependencies: [
        { dependency: dep.id, dependent: b.id },
        { dependency: dep.id, dependent: a.id },
      ],
    });
    expect(await requests.reverseDependencies(dep.id)).toEqual([a.id, b.id]);
    expect(await requests.get(dep.id)).toEqual(dep); // links do not disturb the request item
    await requests.commit({ removeReverseDependencies: [{ dependency: dep.id, dependent: a.id }] });
    expect(await requests.reverseDependencies(dep.id)).toEqual([b.id]);
    expect(await requests.reverseDependencies(newId())).toEqual([]);
  });
});

describe('pendingCandidates', () => {
  test('unassigned pending requests of the partition only, highest priority first, then oldest, across shards', async () => {
    const arch = unique('arch');
    const at = (m: number) => `2026-11-22T10:${String(m).padStart(2, '0')}:00.000Z`;
    // Ids are consecutive, so these land in all four shards.
    const high = await created({ hostArchitecture: arch, priorityBase: 100, createdAt: at(30) });
    const adjusted = await created({ hostArchitecture: arch, priorityBase: 0, priorityAdjustment: 50, createdAt: at(40) });
    const oldLow = await created({ hostArchitecture: arch, priorityBase: -5, createdAt: at(1) });
    const newLow = await created({ hostArchitecture: arch, priorityBase: -5, createdAt: at(2) });
    const zeroNew = await created({ hostArchitecture: arch, createdAt: at(50) });
    const zeroOld = await created({ hostArchitecture: arch, createdAt: at(10) });
    const veryLow = await created({ hostArchitecture: arch, priorityBase: -1_000_000, priorityAdjustment: -1_000_000, createdAt: at(0) });
    // Not candidates:
    await created({ hostArchitecture: arch, status: 'blocked', priorityBase: 1000 });
    await created({ hostArchitecture: arch, status: 'running', worker: 'x', startedAt: at(5), priorityBase: 1000 });
    await created({ hostArchitecture: arch, worker: 'x', assignedAt: at(5), priorityBase: 1000 });
    await created({ hostArchitecture: arch, status: 'completed', result: 'success', priorityBase: 1000 });
    await created({ hostArchitecture: arch, taskType: 'Server', priorityBase: 1000 });
    const toAssign = await created({ hostArchitecture: arch, priorityBase: 1000 });
    const w = await createdWorker();
    await assign(toAssign, w.name);

    const expected = [high, adjusted, zeroOld, zeroNew, oldLow, newLow, veryLow].map((r) => r.id);
    expect((await requests.pendingCandidates('Worker', arch, 100)).map((r) => r.id)).toEqual(expected);
    expect((await requests.pendingCandidates('Worker', arch, 3)).map((r) => r.id)).toEqual(expected.slice(0, 3));
    expect(new Set(expected.map((id) => id % 4)).size).toBe(4);
  });

  test('null architecture is its own partition, and so is each task type', async () => {
    // Other tests may leave architecture-less pending Signing requests: look for ours only.
    const mine = await created({ taskType: 'Signing', hostArchitecture: null, priorityBase: 999_999 });
    const found = await requests.pendingCandidates('Signing', null, 1000);
    expect(found.map((r) => r.id)).toContain(mine.id);
    expect(found.every((r) => r.taskType === 'Signing' && r.hostArchitecture === null && r.status === 'pending' && r.worker === null)).toBe(true);
    // Root workflows wait there for the scheduler to start them; sub-workflows never do.
    const root = await created({ taskType: 'Workflow', hostArchitecture: null, priorityBase: 999_999 });
    const sub = await created({ taskType: 'Workflow', hostArchitecture: null, priorityBase: 999_999, parent: root.id });
    const workflows = (await requests.pendingCandidates('Workflow', null, 1000)).map((r) => r.id);
    expect(workflows).toContain(root.id);
    expect(workflows).not.toContain(sub.id);
    // Leave nothing for other tests' scheduling passes to start.
    await requests.commit({ update: [{ workRequest: { ...root, status: 'aborted', version: 2 }, expectedVersion: 1 }] });
    expect((await requests.pendingCandidates('Workflow', null, 1000)).map((r) => r.id)).not.toContain(root.id);
  });

  test('a request leaves the partition when it is aborted, and returns when its priority changes', async () => {
    const arch = unique('arch');
    const a = await created({ hostArchitecture: arch });
    const b = await created({ hostArchitecture: arch });
    expect((await requests.pendingCandidates('Worker', arch, 10)).map((r) => r.id)).toEqual([a.id, b.id]);
    await requests.commit({
      update: [
        { workRequest: { ...a, status: 'aborted', version: 2 }, expectedVersion: 1 },
        { workRequest: { ...b, priorityAdjustment: 10, version: 2 }, expectedVersion: 1 },
      ],
    });
    const after = await requests.pendingCandidates('Worker', arch, 10);
    expect(after.map((r) => [r.id, r.priorityAdjustment, r.version])).toEqual([[b.id, 10, 2]]);
  });
});

describe('slots', () => {
  test('20 concurrent assignments of the same request to different workers: exactly one succeeds', async () => {
    const wr = await created({ hostArchitecture: unique('arch') });
    const pool = await Promise.all(Array.from({ length: 20 }, () => createdWorker({ concurrency: 1 })));
    const results = await Promise.allSettled(pool.map((w) => assign(wr, w.name)));
    const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [pool[i]!.name] : []));
    expect(won).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(ConflictError);

    const stored = await requests.get(wr.id);
    expect(stored).toMatchObject({ worker: won[0], version: 2 });
    const assigned = await Promise.all(pool.map(async (w) => [w.name, (await workers.get(w.name))!.assigned] as const));
    expect(assigned.filter(([, n]) => n !== 0)).toEqual([[won[0], 1]]);
    expect((await requests.activeForWorker(won[0]!)).map((r) => r.id)).toEqual([wr.id]);
  });

  test('a worker with concurrency 2 and 5 concurrent assignments of different requests: exactly 2 succeed', async () => {
    const w = await createdWorker({ concurrency: 2 });
    const candidates = await Promise.all(Array.from({ length: 5 }, () => created()));
    const results = await Promise.allSettled(candidates.map((wr) => assign(wr, w.name)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(2);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(ConflictError);
    expect((await workers.get(w.name))!.assigned).toBe(2);
    const holders = (await requests.getMany(candidates.map((c) => c.id))).filter((r) => r.worker === w.name);
    expect(holders).toHaveLength(2);
    expect((await requests.activeForWorker(w.name)).map((r) => r.id).sort()).toEqual(holders.map((r) => r.id).sort());

    // The sixth attempt names the reason.
    await expect(assign(candidates.find((c) => !holders.some((h) => h.id === c.id))!, w.name)).rejects.toThrow(
      `worker "${w.name}" has no free slot (2 of 2 in use)`,
    );
  });

  test('a disabled or unknown worker gets no slot, and the request is left untouched', async () => {
    const disabled = await createdWorker({ enabled: false });
    const wr = await created();
    await expect(assign(wr, disabled.name)).rejects.toThrow(`worker "${disabled.name}" is disabled`);
    await expect(assign(wr, unique('ghost'))).rejects.toThrow(/does not exist/);
    expect(await requests.get(wr.id)).toEqual(wr);
  });

  test('slot -1 below zero is refused, atomically with the rest', async () => {
    const w = await createdWorker({ concurrency: 3 });
    const wr = await created();
    await assign(wr, w.name);
    const assigned = (await requests.get(wr.id))!;
    const finish = (expectedVersion: number) =>
      requests.commit({
        update: [
          {
            workRequest: { ...assigned, status: 'aborted', completedAt: '2026-11-22T11:00:00.000Z', version: expectedVersion + 1 },
            expectedVersion,
          },
        ],
        slots: [{ worker: w.name, delta: -1 }],
      });
    await finish(assigned.version);
    expect((await workers.get(w.name))!.assigned).toBe(0);
    expect(await requests.activeForWorker(w.name)).toEqual([]);

    await expect(requests.commit({ slots: [{ worker: w.name, delta: -1 }] })).rejects.toThrow(`worker "${w.name}" has no slot in use to give back`);
    // A request update in the same transaction is not written either.
    const other = await created();
    await expect(
      requests.commit({
        update: [{ workRequest: { ...other, priorityAdjustment: 3, version: 2 }, expectedVersion: 1 }],
        slots: [{ worker: w.name, delta: -1 }],
      }),
    ).rejects.toThrow(ConflictError);
    expect(await requests.get(other.id)).toEqual(other);
    expect((await workers.get(w.name))!.assigned).toBe(0);
  });
});

describe('staleRunning, dueWaits and heartbeats', () => {
  // A random minute of a year no other test uses, so the shared RUNNING / WAIT partitions hold
  // nothing older than ours.
  const year = 1100 + Math.floor(Math.random() * 800);
  const t = (second: number) => new Date(Date.UTC(year, 0, 1, 0, 0, second)).toISOString();

  test('staleRunning returns running Worker tasks whose last sign of life is strictly before the bound, oldest first', async () => {
    const startedOnly = await created({ status: 'running', worker: 'w', startedAt: t(10) });
    const beat = await created({ status: 'running', worker: 'w', startedAt: t(1), heartbeatAt: t(20) });
    const fresh = await created({ status: 'running', worker: 'w', startedAt: t(1), heartbeatAt: t(40) });
    await created({ status: 'running', taskType: 'Server', startedAt: t(1) }); // not a Worker task
    await created({ status: 'completed', result: 'success', worker: 'w', startedAt: t(1), heartbeatAt: t(2) });

    const mine = (list: WorkRequest[]) => list.map((r) => r.id).filter((id) => [startedOnly.id, beat.id, fresh.id].includes(id));
    expect(mine(await requests.staleRunning(t(40), 1000))).toEqual([startedOnly.id, beat.id]);
    expect(mine(await requests.staleRunning(t(41), 1000))).toEqual([startedOnly.id, beat.id, fresh.id]);
    expect(mine(await requests.staleRunning(t(20), 1000))).toEqual([startedOnly.id]);
    expect(mine(await requests.staleRunning(t(10), 1000))).toEqual([]);
  });

  test('dueWaits returns running Wait tasks due at or before now, earliest first', async () => {
    const wait = (second: number) =>
      created({ status: 'running', taskType: 'Wait', taskName: 'delay', hostArchitecture: null, taskData: { delay_until: t(second) }, startedAt: t(0) });
    const early = await wait(5);
    const exact = await wait(30);
    const late = await wait(31);
    await created({ status: 'pending', taskType: 'Wait', taskName: 'delay', hostArchitecture: null, taskData: { delay_until: t(1) } });
    const mine = (list: WorkRequest[]) => list.map((r) => r.id).filter((id) => [early.id, exact.id, late.id].includes(id));
    expect(mine(await requests.dueWaits(t(30), 1000))).toEqual([early.id, exact.id]);
    expect(mine(await requests.dueWaits(t(4), 1000))).toEqual([]);
    expect(mine(await requests.dueWaits(t(31), 1000))).toEqual([early.id, exact.id, late.id]);
  });

  test('applyHeartbeat applies only newer heartbeats, only for a request running on that worker, without bumping the version', async () => {
    const w = await createdWorker({ concurrency: 2 });
    const running = await created({ status: 'running', worker: w.name, startedAt: t(100) });
    const pending = await created({ worker: w.name });
    const hb = (at: number, worker = w.name, id = running.id, logtail = [`at ${at}`]) => requests.applyHeartbeat({ workRequestId: id, worker, at: t(at), logtail });

    expect(await hb(110)).toBe(true);
    expect(await requests.get(running.id)).toMatchObject({ heartbeatAt: t(110), logtail: ['at 110'], version: 1 });
    expect(await hb(105)).toBe(false); // older
    expect(await hb(110, w.name, running.id, ['duplicate'])).toBe(false); // same time: duplicate
    expect(await hb(120, unique('other'))).toBe(false); // another worker
    expect(await hb(120, w.name, pending.id)).toBe(false); // not running
    expect(await hb(120, w.name, newId())).toBe(false); // no such request
    expect(await requests.get(running.id)).toMatchObject({ heartbeatAt: t(110), logtail: ['at 110'], version: 1 });
    expect(await requests.get(pending.id)).toEqual(pending);

    // The RUNNING index moved with the heartbeat.
    const isStale = async (before: number) => (await requests.staleRunning(t(before), 1000)).some((r) => r.id === running.id);
    expect(await isStale(105)).toBe(false);
    expect(await isStale(111)).toBe(true);
    expect(await hb(130)).toBe(true);
    expect(await isStale(111)).toBe(false);

    // A state change after a heartbeat is not a conflict: heartbeats leave the version alone.
    const current = (await requests.get(running.id))!;
    await requests.commit({
      update: [{ workRequest: { ...current, status: 'completed', result: 'success', completedAt: t(140), version: 2 }, expectedVersion: 1 }],
    });
    expect(await hb(150)).toBe(false); // finished
    expect(await isStale(200)).toBe(false);
  });
});

describe('list', () => {
  test('newest first, filtered by workspace, status and task name, with cursors', async () => {
    const scope = unique('scope');
    const at = (m: number) => `2026-11-22T11:${String(m).padStart(2, '0')}:00.000Z`;
    const rows: WorkRequest[] = [];
    for (let m = 0; m < 9; m++) {
      rows.push(
        await created({
          scope,
          workspace: m % 3 === 0 ? 'other' : 'System',
          status: m % 2 === 0 ? 'pending' : 'blocked',
          taskName: m < 4 ? 'sbuild' : 'noop',
          createdAt: at(m),
        }),
      );
    }
    const newestFirst = [...rows].reverse();
    const all = async (filter: Partial<Parameters<typeof requests.list>[0]>, limit: number) => {
      const ids: number[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await requests.list({ scope, limit, ...filter, ...(cursor ? { cursor } : {}) });
        ids.push(...page.items.map((r) => r.id));
        cursor = page.next;
        pages++;
      } while (cursor);
      return { ids, pages };
    };

    const first = await requests.list({ scope, limit: 4 });
    expect(first.items).toEqual(newestFirst.slice(0, 4));
    expect(first.next).toBeDefined();
    expect(await all({}, 4)).toEqual({ ids: newestFirst.map((r) => r.id), pages: 3 });
    expect(await all({}, 9)).toEqual({ ids: newestFirst.map((r) => r.id), pages: 1 }); // no empty page after a full one
    expect((await all({ workspace: 'System' }, 2)).ids).toEqual(newestFirst.filter((r) => r.workspace === 'System').map((r) => r.id));
    expect((await all({ status: 'pending', taskName: 'sbuild' }, 1)).ids).toEqual(
      newestFirst.filter((r) => r.status === 'pending' && r.taskName === 'sbuild').map((r) => r.id),
    );
    expect((await requests.list({ scope, limit: 5, workspace: 'nowhere' })).items).toEqual([]);

    await expect(requests.list({ scope, limit: 2, cursor: 'garbage' })).rejects.toThrow(ValidationError);
    await expect(requests.list({ scope: unique('scope'), limit: 2, cursor: first.next! })).rejects.toThrow(ValidationError);

    // cursorAfter (security finding 7): a listing continues right after the request it names.
    const third = newestFirst[2]!;
    const after = await requests.list({ scope, limit: 3, cursor: requests.cursorAfter(third, { scope, limit: 3 }) });
    expect(after.items.map((r) => r.id)).toEqual(newestFirst.slice(3, 6).map((r) => r.id));
  });
});

describe('workers', () => {
  test('create, get, list, update round-trip; a taken name is a ConflictError', async () => {
    const w = workerOf({
      staticMetadata: { tasks_allowlist: ['sbuild'], big: 12345678901234567890 },
      lastSeenAt: '2026-11-22T09:30:00.000Z',
      dynamicMetadataUpdatedAt: '2026-11-22T09:31:00.000Z',
      queueUrl: 'http://localhost/q',
      concurrency: 4,
    });
    await workers.create(w);
    expect(await workers.get(w.name)).toEqual(w);
    await expect(workers.create({ ...w, concurrency: 9 })).rejects.toThrow(ConflictError);
    expect((await workers.list()).find((x) => x.name === w.name)).toEqual(w);

    const next: Worker = { ...w, enabled: false, connectedAt: null, queueUrl: null, dynamicMetadata: { x: 1 }, version: 2 };
    await workers.update(next, 1);
    expect(await workers.get(w.name)).toEqual(next);
    // A disabled worker leaves the index the scheduler reads (security finding 2).
    expect((await workers.list()).find((x) => x.name === w.name)).toBeUndefined();
    expect((await workers.listDisabled()).find((x) => x.name === w.name)).toEqual(next);
    await expect(workers.update({ ...next, concurrency: 1 }, 1)).rejects.toThrow(/expected version 1, found 2/);
    await expect(workers.update(workerOf(), 1)).rejects.toThrow(NotFoundError);
    expect(await workers.get(unique('nobody'))).toBeUndefined();
  });

  test('update never overwrites a slot taken meanwhile', async () => {
    const w = await createdWorker({ concurrency: 2 });
    const read = (await workers.get(w.name))!;
    await assign(await created(), w.name); // assigned 0 → 1, version unchanged
    await workers.update({ ...read, dynamicMetadata: { updated: true }, version: 2 }, read.version);
    expect(await workers.get(w.name)).toMatchObject({ assigned: 1, dynamicMetadata: { updated: true }, version: 2 });
  });

  test('touch records contact at most once per interval and leaves the version alone', async () => {
    const w = await createdWorker();
    const base = Date.parse('2026-11-22T12:00:00.000Z');
    await workers.touch(w.name, new Date(base), 60_000);
    expect(await workers.get(w.name)).toMatchObject({ lastSeenAt: '2026-11-22T12:00:00.000Z', version: 1 });
    await workers.touch(w.name, new Date(base + 30_000), 60_000);
    expect((await workers.get(w.name))!.lastSeenAt).toBe('2026-11-22T12:00:00.000Z');
    await workers.touch(w.name, new Date(base + 61_000), 60_000);
    expect((await workers.get(w.name))!.lastSeenAt).toBe('2026-11-22T12:01:01.000Z');
    await workers.touch(unique('nobody'), new Date(base), 60_000); // no such worker: nothing happens
    const raw = await doc.send(new GetCommand({ TableName: table, Key: { pk: `WORKER#${w.name}`, sk: 'K' }, ConsistentRead: true }));
    expect(raw.Item).toMatchObject({ assigned: 0 });
    // The listing key is on the listing item, so that a touch or a slot write does not rewrite gsi1.
    expect(raw.Item!.gsi1pk).toBeUndefined();
    const listing = await doc.send(new GetCommand({ TableName: table, Key: { pk: `WORKER#${w.name}`, sk: 'LIST' }, ConsistentRead: true }));
    expect(listing.Item).toMatchObject({ entity: 'workerListing', name: w.name, gsi1pk: 'WORKERS', gsi1sk: w.name });
  });
});
