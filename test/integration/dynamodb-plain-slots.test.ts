/**
 * A request and its own worker slot written as two plain conditional writes (plain-slot-commit.ts)
 * on DynamoDB Local: no transaction, the slot rule kept, a lost race gives the slot back, and the
 * slots a dead function leaves taken are given back by `releaseOrphanedSlots` (and only those).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { DynamoWorkRequestRepository } from '../../shared/adapters/dynamodb/work-request-repository';
import { DynamoWorkerRepository } from '../../shared/adapters/dynamodb/worker-repository';
import { keys } from '../../shared/adapters/dynamodb/keys';
import { slotHolderAttribute, takeSlot } from '../../shared/adapters/dynamodb/slot-writes';
import { ConflictError } from '../../shared/domain/errors';
import { bump, newWorkRequest, type WorkRequest } from '../../shared/domain/work-requests';

jest.setTimeout(120_000);

const table = process.env.CONVEYOR_TABLE_MAIN!;
const client = new DynamoDBClient({});
const commands: string[] = [];
client.middlewareStack.add(
  (next, context) => async (args) => {
    commands.push(context.commandName ?? '?');
    return next(args);
  },
  { step: 'initialize', name: 'recordCommands' },
);
const doc = DynamoDBDocumentClient.from(client);
const requests = new DynamoWorkRequestRepository(doc, table);
const workers = new DynamoWorkerRepository(doc, table);

afterAll(() => doc.destroy());

let nextId = Math.floor(Math.random() * 1e9) * 1000 + 500;
const ASSIGNED_AT = '2026-11-22T10:30:00.000Z';

async function pendingRequest(overrides: Partial<WorkRequest> = {}): Promise<WorkRequest> {
  const arch = `plain-${randomUUID().slice(0, 6)}`;
  const fields = { scope: 'debusine', workspace: 'System', createdBy: 'user:alice', taskName: 'noop', taskData: {} };
  const wr = newWorkRequest({ id: ++nextId, ...fields, taskType: 'Worker', hostArchitecture: arch, createdAt: '2026-11-22T10:00:00.000Z', ...overrides });
  await requests.commit({ create: [wr] });
  return wr;
}

async function worker(concurrency = 1): Promise<string> {
  const name = `plain-${randomUUID().slice(0, 8)}`;
  const times = { registeredAt: '2026-11-22T09:00:00.000Z', connectedAt: '2026-11-22T09:00:01.000Z', lastSeenAt: null, dynamicMetadataUpdatedAt: null };
  const metadata = { staticMetadata: {}, dynamicMetadata: {} };
  await workers.create({ name, tokenHash: randomUUID().replace(/-/g, ''), workerType: 'external', enabled: true, ...times, ...metadata, concurrency, assigned: 0, queueUrl: null, version: 1 });
  return name;
}

async function workerItem(name: string): Promise<Record<string, unknown>> {
  return (await doc.send(new GetCommand({ TableName: table, Key: keys.worker(name), ConsistentRead: true }))).Item!;
}

/** The scheduler's assignment (scheduler.ts): the request names the worker, the worker gives a slot. */
function assign(wr: WorkRequest, name: string, seen = { assigned: 0, concurrency: 1 }): Promise<void> {
  return requests.commit({
    update: [{ workRequest: bump(wr, { worker: name, assignedAt: ASSIGNED_AT }), expectedVersion: wr.version }],
    slots: [{ worker: name, delta: 1, seen, workRequestId: wr.id }],
  });
}

/** A finish that gives the slot back (lifecycle.ts commitFinish). */
async function finish(wr: WorkRequest, completedAt = new Date().toISOString()): Promise<WorkRequest> {
  const finished = bump(wr, { status: 'completed', result: 'success', completedAt });
  await requests.commit({ update: [{ workRequest: finished, expectedVersion: wr.version, finishes: true }], slots: [{ worker: wr.worker!, delta: -1, workRequestId: wr.id }] });
  return finished;
}

it('assigns and completes with plain writes: the slot is taken first, named by its holder, and given back', async () => {
  const name = await worker();
  const wr = await pendingRequest();
  commands.length = 0;
  await assign(wr, name);
  expect(commands).toEqual(['UpdateItemCommand', 'PutItemCommand']);
  const taken = await workerItem(name);
  expect(taken.assigned).toBe(1);
  expect(taken[slotHolderAttribute(wr.id)]).toBe(ASSIGNED_AT);
  expect(taken.gsi3pk).toBeUndefined(); // the last slot: out of the free-slot index

  const assigned = (await requests.get(wr.id))!;
  const running = bump(assigned, { status: 'running', startedAt: ASSIGNED_AT });
  await requests.commit({ update: [{ workRequest: running, expectedVersion: assigned.version }] });
  commands.length = 0;
  await finish(running);
  // (before them: the finished root's expiry entry, a Put of its own)
  expect(commands).not.toContain('TransactWriteItemsCommand');
  expect(commands.slice(-2)).toEqual(['PutItemCommand', 'UpdateItemCommand']);
  const back = await workerItem(name);
  expect(back.assigned).toBe(0);
  expect(back[slotHolderAttribute(wr.id)]).toBeUndefined();
  expect(back.gsi3pk).toBeDefined();
  expect((await requests.get(wr.id))!.status).toBe('completed');
});

it('two workers racing for one request: one wins, the loser gets its slot back', async () => {
  const [a, b] = [await worker(), await worker()];
  const wr = await pendingRequest();
  const outcomes = await Promise.allSettled([assign(wr, a), assign(wr, b)]);
  expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
  const rejected = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult;
  expect(rejected.reason).toBeInstanceOf(ConflictError);
  const stored = (await requests.get(wr.id))!;
  const loser = stored.worker === a ? b : a;
  expect((await workerItem(stored.worker!)).assigned).toBe(1);
  const lost = await workerItem(loser);
  expect(lost.assigned).toBe(0);
  expect(lost[slotHolderAttribute(wr.id)]).toBeUndefined();
});

it('many requests racing for a worker with two slots: never more than two assigned, the count matches', async () => {
  const name = await worker(2);
  const pending = await Promise.all(Array.from({ length: 6 }, () => pendingRequest()));
  await Promise.allSettled(pending.map((wr) => assign(wr, name, { assigned: 0, concurrency: 2 })));
  const held = (await requests.getMany(pending.map((wr) => wr.id))).filter((wr) => wr.worker === name);
  expect(held.length).toBeGreaterThan(0);
  expect(held.length).toBeLessThanOrEqual(2);
  const item = await workerItem(name);
  expect(item.assigned).toBe(held.length);
  expect(Object.keys(item).filter((k) => k.startsWith('slot#')).sort()).toEqual(held.map((wr) => slotHolderAttribute(wr.id)).sort());
});

it('a slot taken by a function that died before writing its request is given back by the watchdog sweep, not before', async () => {
  const name = await worker(2);
  const orphan = await pendingRequest();
  const kept = await pendingRequest();
  await assign(kept, name, { assigned: 0, concurrency: 2 });
  // The first write of an assignment, and nothing after it.
  const take = takeSlot(table, { worker: name, delta: 1, workRequestId: orphan.id }, '2026-11-22T10:31:00.000Z');
  await doc.send(new UpdateCommand(take.item.Update!));
  expect((await workerItem(name)).assigned).toBe(2);
  // Too recent: the request write may still be on its way.
  expect(await requests.releaseOrphanedSlots('2026-11-22T10:31:00.000Z')).toBe(0);
  expect(await requests.releaseOrphanedSlots('2026-11-22T11:00:00.000Z')).toBe(1);
  const item = await workerItem(name);
  expect(item.assigned).toBe(1); // the request that holds its slot keeps it
  expect(item[slotHolderAttribute(kept.id)]).toBe(ASSIGNED_AT);
  expect(item[slotHolderAttribute(orphan.id)]).toBeUndefined();
  expect(await requests.releaseOrphanedSlots('2026-11-22T11:00:00.000Z')).toBe(0);
});

it('a finished request whose give-back never ran: its slot is given back once it finished long enough ago', async () => {
  const name = await worker();
  const wr = await pendingRequest();
  await assign(wr, name);
  const assigned = (await requests.get(wr.id))!;
  // The first write of a completion only (the request's Put, through a commit without the slot).
  await requests.commit({ update: [{ workRequest: bump(assigned, { status: 'completed', result: 'success', completedAt: '2026-11-22T10:40:00.000Z' }), expectedVersion: assigned.version }] });
  expect(await requests.releaseOrphanedSlots('2026-11-22T10:35:00.000Z')).toBe(0); // finished after: maybe still giving back
  expect(await requests.releaseOrphanedSlots('2026-11-22T10:45:00.000Z')).toBe(1);
  expect((await workerItem(name)).assigned).toBe(0);
});

it('a slot taken without a holder (before holders existed) is given back by the plain completion', async () => {
  const name = await worker();
  const wr = await pendingRequest();
  await requests.commit({
    update: [{ workRequest: bump(wr, { worker: name, assignedAt: ASSIGNED_AT }), expectedVersion: wr.version }],
    slots: [{ worker: name, delta: 1 }],
  });
  expect(Object.keys(await workerItem(name)).some((k) => k.startsWith('slot#'))).toBe(false);
  await finish((await requests.get(wr.id))!);
  expect((await workerItem(name)).assigned).toBe(0);
});

it('a completion that lost its race changes nothing: the slot stays with the request', async () => {
  const name = await worker();
  const wr = await pendingRequest();
  await assign(wr, name);
  const assigned = (await requests.get(wr.id))!;
  await finish(assigned);
  await expect(finish(assigned)).rejects.toThrow(ConflictError);
  expect((await workerItem(name)).assigned).toBe(0);
});

it('a request whose earlier assignment died half way is not given the same worker again until the sweep freed that slot', async () => {
  const name = await worker(2);
  const wr = await pendingRequest();
  const take = takeSlot(table, { worker: name, delta: 1, workRequestId: wr.id }, '2026-11-22T10:20:00.000Z');
  await doc.send(new UpdateCommand(take.item.Update!));
  // One request never holds two slots of one worker: refused, and nothing changed.
  await expect(assign(wr, name, { assigned: 1, concurrency: 2 })).rejects.toThrow(/still holds a slot for work request/);
  expect((await workerItem(name)).assigned).toBe(1);
  expect((await requests.get(wr.id))!.worker).toBeNull();
  expect(await requests.releaseOrphanedSlots('2026-11-22T11:00:00.000Z')).toBe(1);
  await assign(wr, name, { assigned: 0, concurrency: 2 });
  const item = await workerItem(name);
  expect(item.assigned).toBe(1);
  expect(item[slotHolderAttribute(wr.id)]).toBe(ASSIGNED_AT);
});

describe('a request created already assigned (create-offer.ts): the slot first, then the create', () => {
  /** A new request as the create path's offer writes it: assigned at once, version as after a pending create and an assignment. */
  async function newAssigned(name: string): Promise<WorkRequest> {
    const arch = `plain-${randomUUID().slice(0, 6)}`;
    const fields = { scope: 'debusine', workspace: 'System', createdBy: 'user:alice', taskName: 'noop', taskData: {} };
    const wr = newWorkRequest({ id: ++nextId, ...fields, taskType: 'Worker', hostArchitecture: arch, createdAt: '2026-11-22T10:00:00.000Z' });
    return bump(wr, { worker: name, assignedAt: ASSIGNED_AT });
  }
  const createAssigned = (wr: WorkRequest, seen = { assigned: 0, concurrency: 1 }) =>
    requests.commit({ create: [wr], slots: [{ worker: wr.worker!, delta: 1, seen, workRequestId: wr.id }] });
  const requestItem = async (id: number) => (await doc.send(new GetCommand({ TableName: table, Key: keys.workRequest(id), ConsistentRead: true }))).Item!;

  it('two plain writes, no transaction: the holder names it, and it never had a pending scheduling entry', async () => {
    const name = await worker();
    const wr = await newAssigned(name);
    commands.length = 0;
    await createAssigned(wr);
    expect(commands).toEqual(['UpdateItemCommand', 'PutItemCommand']);
    const item = await workerItem(name);
    expect(item.assigned).toBe(1);
    expect(item[slotHolderAttribute(wr.id)]).toBe(ASSIGNED_AT);
    expect(await requests.get(wr.id)).toEqual(wr);
    expect((await requestItem(wr.id)).gsi3pk).toBeUndefined();
    expect(await requests.releaseOrphanedSlots('2026-11-22T11:00:00.000Z')).toBe(0); // it holds its slot
  });

  it('a Put that had landed before the client retried it: the retry counts as written, the slot stays', async () => {
    const name = await worker(2);
    const wr = await newAssigned(name);
    await requests.commit({ create: [wr] }); // the first attempt's Put, whose answer was lost
    await createAssigned(wr, { assigned: 0, concurrency: 2 });
    const item = await workerItem(name);
    expect(item.assigned).toBe(1);
    expect(item[slotHolderAttribute(wr.id)]).toBe(ASSIGNED_AT);
  });

  it('an id already written by another request: conflict, and the slot is given back', async () => {
    const name = await worker();
    const wr = await newAssigned(name);
    await requests.commit({ create: [{ ...wr, worker: null, assignedAt: null, version: 1 }] });
    await expect(createAssigned(wr)).rejects.toThrow(ConflictError);
    const item = await workerItem(name);
    expect(item.assigned).toBe(0);
    expect(item[slotHolderAttribute(wr.id)]).toBeUndefined();
    expect((await requests.get(wr.id))!.worker).toBeNull();
  });

  it('a function that died after taking the slot: no request holds it, the watchdog sweep gives it back', async () => {
    const name = await worker();
    const wr = await newAssigned(name);
    const take = takeSlot(table, { worker: name, delta: 1, workRequestId: wr.id }, ASSIGNED_AT);
    await doc.send(new UpdateCommand(take.item.Update!));
    expect(await requests.releaseOrphanedSlots('2026-11-22T11:00:00.000Z')).toBe(1);
    expect((await workerItem(name)).assigned).toBe(0);
  });
});
