/**
 * A worker's active requests read from its slot holders (shared/adapters/dynamodb/worker-holders.ts)
 * on DynamoDB Local: request items carry no gsi2 `WORKERWR#` key; a finished or moved holder is not
 * returned; a request written by older code (gsi2 key, slot taken without a holder) is still found,
 * adopted, and stays found after its next write drops the key; get-next and the watchdog work alike.
 */
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { createArtifact } from '../../shared/app/artifacts';
import { createToken, createUser, createWorkspace, generateTokenKey, grantRole } from '../../shared/app/admin';
import { authenticate } from '../../shared/app/auth';
import { schedule } from '../../shared/app/scheduler';
import { reclaimStale } from '../../shared/app/watchdog';
import { createWorkRequest } from '../../shared/app/work-requests';
import { enableWorker, getNextForWorker, registerWorker, updateDynamicMetadata } from '../../shared/app/workers';
import { keys } from '../../shared/adapters/dynamodb/keys';
import { workRequestItem } from '../../shared/adapters/dynamodb/work-request-repository';
import { bump, type WorkRequest } from '../../shared/domain/work-requests';
import { localRepositories, noopRequest } from '../support/dynamodb-local';
import { integrationDeps } from '../support/integration-deps';
import { AMD64_METADATA } from '../support/scheduling';
import { externalWorker } from '../support/worker-fixture';

jest.setTimeout(120_000);

const { table, doc, requests, workers } = localRepositories();

const suffix = Math.random().toString(36).slice(2, 8);
let nextId = Math.floor(Math.random() * 1e9) * 1000;
const ASSIGNED_AT = '2026-11-22T10:30:00.000Z';

async function workerNamed(tag: string, concurrency = 2): Promise<string> {
  const w = externalWorker(`holders-${suffix}-${tag}`, { concurrency, dynamicMetadata: { 'system:host_architecture': 'amd64' } });
  await workers.create(w);
  return w.name;
}

async function pending(): Promise<WorkRequest> {
  const wr = noopRequest(++nextId);
  await requests.commit({ create: [wr] });
  return wr;
}

/** A pass's assignment: the request and its own slot, the holder named. */
async function assigned(worker: string): Promise<WorkRequest> {
  const wr = await pending();
  const next = bump(wr, { worker, assignedAt: ASSIGNED_AT });
  await requests.commit({ update: [{ workRequest: next, expectedVersion: wr.version }], slots: [{ worker, delta: 1, workRequestId: wr.id }] });
  return next;
}

const rawItem = async (key: { pk: string; sk: string }) => (await doc.send(new GetCommand({ TableName: table, Key: key, ConsistentRead: true }))).Item!;
const activeIds = async (worker: string) => (await requests.activeForWorker(worker)).map((wr) => wr.id);

describe('the repository', () => {
  test('an assigned and a started request: no gsi2 key written, both found by their holders; a finish removes one', async () => {
    const worker = await workerNamed('a');
    const first = await assigned(worker);
    const second = await assigned(worker);
    for (const wr of [first, second]) {
      const item = await rawItem(keys.workRequest(wr.id));
      expect(item).toMatchObject({ worker });
      expect(item).not.toHaveProperty('gsi2pk');
      expect(item).not.toHaveProperty('gsi2sk');
    }
    const started = bump(first, { status: 'running', startedAt: '2026-11-22T10:31:00.000Z' });
    await requests.commit({ update: [{ workRequest: started, expectedVersion: first.version }] });
    expect(await rawItem(keys.workRequest(first.id))).not.toHaveProperty('gsi2pk');
    expect(await requests.activeForWorker(worker)).toEqual([started, second].map((wr) => ({ ...wr })));

    const done = bump(started, { status: 'completed', result: 'success', completedAt: '2026-11-22T10:32:00.000Z' });
    await requests.commit({ update: [{ workRequest: done, expectedVersion: started.version, finishes: true }], slots: [{ worker, delta: -1, workRequestId: first.id }] });
    expect(await activeIds(worker)).toEqual([second.id]);
    expect(await rawItem(keys.worker(worker))).toMatchObject({ assigned: 1, [`slot#${second.id}`]: ASSIGNED_AT });
  });

  test('a holder whose request finished (its give-back not yet written) or moved to another worker is not returned', async () => {
    const worker = await workerNamed('b', 3);
    const other = await workerNamed('b-other');
    const [finished, moved, kept] = [await assigned(worker), await assigned(worker), await assigned(worker)];
    // The finish's Put without its give-back (the function died between its two writes).
    await requests.commit({ update: [{ workRequest: bump(finished, { status: 'aborted', completedAt: ASSIGNED_AT }), expectedVersion: finished.version }] });
    // Written with another worker while this one's holder stays (a state no commit leaves, but a read must not trust a holder).
    await doc.send(new PutCommand({ TableName: table, Item: workRequestItem(bump(moved, { worker: other }), moved.version + 1) }));
    expect(Object.keys(await rawItem(keys.worker(worker))).filter((a) => a.startsWith('slot#'))).toHaveLength(3);
    expect(await activeIds(worker)).toEqual([kept.id]);
    expect(await activeIds(other)).toEqual([]);
  });

  test('a request written by older code (gsi2 key, slot taken without a holder) is found, adopted, and stays found after its next write', async () => {
    const worker = await workerNamed('c');
    const held = await assigned(worker);
    // Older code: the request's own gsi2 entry, and `assigned + 1` with no holder.
    const legacy = bump(await pending(), { worker, assignedAt: ASSIGNED_AT });
    await doc.send(new PutCommand({ TableName: table, Item: { ...workRequestItem(legacy, legacy.version), gsi2pk: `WORKERWR#${worker}`, gsi2sk: String(legacy.id).padStart(16, '0') } }));
    await doc.send(
      new UpdateCommand({ TableName: table, Key: keys.worker(worker), UpdateExpression: 'SET assigned = assigned + :one', ExpressionAttributeValues: { ':one': 1 } }),
    );
    expect(await activeIds(worker)).toEqual([held.id, legacy.id].sort((a, b) => a - b));
    // Adopted: the legacy slot now has its holder, `assigned` unchanged.
    expect(await rawItem(keys.worker(worker))).toMatchObject({ assigned: 2, [`slot#${legacy.id}`]: ASSIGNED_AT });

    // Its start (a Put of the whole item, as new code writes it) drops the gsi2 key: still found, by its holder.
    const started = bump(legacy, { status: 'running', startedAt: '2026-11-22T10:31:00.000Z' });
    await requests.commit({ update: [{ workRequest: started, expectedVersion: legacy.version }] });
    expect(await rawItem(keys.workRequest(legacy.id))).not.toHaveProperty('gsi2pk');
    expect(await activeIds(worker)).toEqual([held.id, legacy.id].sort((a, b) => a - b));

    // Its completion gives the slot back with its holder.
    const done = bump(started, { status: 'completed', result: 'success', completedAt: '2026-11-22T10:32:00.000Z' });
    await requests.commit({ update: [{ workRequest: done, expectedVersion: started.version, finishes: true }], slots: [{ worker, delta: -1, workRequestId: legacy.id }] });
    const after = await rawItem(keys.worker(worker));
    expect(after).toMatchObject({ assigned: 1 });
    expect(after).not.toHaveProperty(`slot#${legacy.id}`);
    expect(await activeIds(worker)).toEqual([held.id]);
  });

  test('a legacy request of a worker without any holder, and of a worker item gone, are still found', async () => {
    const worker = await workerNamed('d');
    const legacy = bump(await pending(), { worker, assignedAt: ASSIGNED_AT, status: 'running', startedAt: ASSIGNED_AT });
    await doc.send(new PutCommand({ TableName: table, Item: { ...workRequestItem(legacy, legacy.version), gsi2pk: `WORKERWR#${worker}`, gsi2sk: String(legacy.id).padStart(16, '0') } }));
    await doc.send(new UpdateCommand({ TableName: table, Key: keys.worker(worker), UpdateExpression: 'SET assigned = :one', ExpressionAttributeValues: { ':one': 1 } }));
    expect(await activeIds(worker)).toEqual([legacy.id]);

    const gone = `holders-${suffix}-gone`;
    const orphan = bump(await pending(), { worker: gone, assignedAt: ASSIGNED_AT });
    await doc.send(new PutCommand({ TableName: table, Item: { ...workRequestItem(orphan, orphan.version), gsi2pk: `WORKERWR#${gone}`, gsi2sk: String(orphan.id).padStart(16, '0') } }));
    expect(await activeIds(gone)).toEqual([orphan.id]);
  });
});

test('the request a completion has just finished is not read back: with the only slot, no read at all; with two, one BatchGetItem of the other', async () => {
  const worker = await workerNamed('finished');
  const only = await assigned(worker);
  const send = jest.spyOn(doc, 'send');
  try {
    const read = (await workers.get(worker))!;
    send.mockClear();
    expect(await requests.activeForWorker(worker, read, only.id)).toEqual([]);
    expect(send.mock.calls.map(([command]) => command.constructor.name)).toEqual([]);
    const other = await assigned(worker);
    const readAgain = (await workers.get(worker))!;
    send.mockClear();
    expect((await requests.activeForWorker(worker, readAgain, only.id)).map((r) => r.id)).toEqual([other.id]);
    const batches = send.mock.calls.map(([command]) => command).filter((c) => c.constructor.name === 'BatchGetCommand');
    expect(batches).toHaveLength(1);
    expect(JSON.stringify(batches[0]!.input)).not.toContain(`WR#${only.id}"`);
  } finally {
    send.mockRestore();
  }
});

test('given the worker as just read (get-next\'s authentication), its holders are taken from that read: no second GetItem of the worker', async () => {
  const worker = await workerNamed('read');
  const wr = await assigned(worker);
  const read = (await workers.get(worker))!;
  const send = jest.spyOn(doc, 'send');
  try {
    expect((await requests.activeForWorker(worker, read)).map((r) => r.id)).toEqual([wr.id]);
    const commands = send.mock.calls.map(([command]) => command.constructor.name);
    expect(commands).toEqual(['BatchGetCommand']);
    // A copy of the worker (not what the repository read) is read again.
    send.mockClear();
    expect((await requests.activeForWorker(worker, { ...read })).map((r) => r.id)).toEqual([wr.id]);
    expect(send.mock.calls.map(([command]) => command.constructor.name)).toEqual(['GetCommand', 'BatchGetCommand']);
  } finally {
    send.mockRestore();
  }
});

describe('the use cases on DynamoDB', () => {
  const depsOf = integrationDeps();

  async function setUp(tag: string, concurrency = 1) {
    const deps = depsOf();
    const name = `holders-${suffix}-${tag}`;
    await createWorkspace(deps, 'test', { name });
    await createUser(deps, 'test', { username: name });
    await grantRole(deps, 'test', { workspace: name, username: name, role: 'contributor' });
    const user = await authenticate(deps, (await createToken(deps, 'test', { username: name, enabled: true })).key);
    const tokenKey = generateTokenKey();
    const worker = await registerWorker(deps, { tokenKey, fqdn: `${name}.lan`, concurrency });
    await enableWorker(deps, 'test', worker.name);
    const caller = await authenticate(deps, tokenKey);
    await updateDynamicMetadata(deps, caller, { ...AMD64_METADATA, 'system:architectures': [name], 'system:host_architecture': name });
    // An architecture of this test's own: only its worker can run its requests, only its requests fit that worker.
    const input = await createArtifact(deps, user, { scope: 'debusine', workspace: name, category: 'debian:binary-package', data: {}, files: {} });
    const task = { scope: 'debusine', workspace: name, taskName: 'lintian', taskData: { input: { binary_artifacts: [input.artifact.id] }, host_architecture: name } };
    // Each API request authenticates afresh (shared/http/handler.ts): its worker as read then.
    return { deps, user, worker, caller: () => authenticate(deps, tokenKey), task };
  }

  test('get-next starts the request a pass assigned, found by its holder', async () => {
    const { deps, user, worker, caller, task } = await setUp('getnext');
    const wr = await createWorkRequest(deps, user, task);
    await schedule(deps);
    expect((await deps.workRequests.get(wr.id))!.worker).toBe(worker.name);
    expect(await rawItem(keys.workRequest(wr.id))).not.toHaveProperty('gsi2pk');
    const started = await getNextForWorker(deps, await caller(), []);
    expect(started).toMatchObject({ id: wr.id, status: 'running', worker: worker.name });
    expect((await deps.workRequests.activeForWorker(worker.name)).map((r) => r.id)).toEqual([wr.id]);
  });

  test("the watchdog, a silent worker: its assigned request goes back to pending, its running one is left alone", async () => {
    const { deps, user, worker, caller, task } = await setUp('watchdog', 2);
    const running = await createWorkRequest(deps, user, task);
    await schedule(deps);
    expect(await getNextForWorker(deps, await caller(), [])).toMatchObject({ id: running.id, status: 'running' });
    const waiting = await createWorkRequest(deps, user, task);
    await schedule(deps);
    expect((await deps.workRequests.get(waiting.id))!.worker).toBe(worker.name);
    // Silent for longer than the connection timeout (the running request's own start is fresh).
    const silentSince = new Date(Date.now() - 20 * 60_000).toISOString();
    await doc.send(new UpdateCommand({ TableName: table, Key: keys.worker(worker.name), UpdateExpression: 'SET lastSeenAt = :at', ExpressionAttributeValues: { ':at': silentSince } }));

    expect(await reclaimStale(deps)).not.toContain(running.id);
    expect(await deps.workRequests.get(running.id)).toMatchObject({ status: 'running', worker: worker.name });
    expect(await deps.workRequests.get(waiting.id)).toMatchObject({ status: 'pending', worker: null });
    expect((await deps.workers.get(worker.name))!.assigned).toBe(1);
    expect((await deps.workRequests.activeForWorker(worker.name)).map((r) => r.id)).toEqual([running.id]);
  });
});
