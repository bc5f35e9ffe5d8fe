/**
 * The worker listing as an item of its own (worker-listing.ts) on DynamoDB Local: slot writes no
 * longer touch the worker's gsi1 entry, the listing reads the worker items (exact `assigned`), a
 * versioned update moves a worker between `WORKERS` and `WORKERS#DISABLED`, and a worker item written
 * before (its listing key on the worker item itself) keeps working until its next update moves it.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { DynamoWorkRequestRepository } from '../../shared/adapters/dynamodb/work-request-repository';
import { DynamoWorkerRepository } from '../../shared/adapters/dynamodb/worker-repository';
import { keys } from '../../shared/adapters/dynamodb/keys';
import { slotHolderAttribute } from '../../shared/adapters/dynamodb/slot-writes';
import { workerListingKey } from '../../shared/adapters/dynamodb/worker-listing';
import { bump, newWorkRequest, type WorkRequest } from '../../shared/domain/work-requests';
import type { Worker } from '../../shared/domain/workers';
import { externalWorker } from '../support/worker-fixture';

jest.setTimeout(120_000);

const table = process.env.CONVEYOR_TABLE_MAIN!;
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
const requests = new DynamoWorkRequestRepository(doc, table);
const workers = new DynamoWorkerRepository(doc, table);

afterAll(() => doc.destroy());

let nextId = Math.floor(Math.random() * 1e9) * 1000 + 700;
const ASSIGNED_AT = '2026-11-22T10:30:00.000Z';

function newWorker(concurrency = 2): Worker {
  return externalWorker(`listing-${randomUUID().slice(0, 8)}`, { concurrency });
}

async function pendingRequest(): Promise<WorkRequest> {
  const fields = { scope: 'debusine', workspace: 'System', createdBy: 'user:alice', taskName: 'noop', taskData: {}, createdAt: '2026-11-22T10:00:00.000Z' };
  const wr = newWorkRequest({ id: ++nextId, ...fields, taskType: 'Worker', hostArchitecture: `listing-${randomUUID().slice(0, 6)}` });
  await requests.commit({ create: [wr] });
  return wr;
}

async function raw(key: { pk: string; sk: string }): Promise<Record<string, unknown> | undefined> {
  return (await doc.send(new GetCommand({ TableName: table, Key: key, ConsistentRead: true }))).Item;
}

async function assign(wr: WorkRequest, name: string, seen: { assigned: number; concurrency: number }): Promise<WorkRequest> {
  const assigned = bump(wr, { worker: name, assignedAt: ASSIGNED_AT });
  await requests.commit({ update: [{ workRequest: assigned, expectedVersion: wr.version }], slots: [{ worker: name, delta: 1, seen, workRequestId: wr.id }] });
  return assigned;
}

async function finish(wr: WorkRequest): Promise<void> {
  const finished = bump(wr, { status: 'completed', result: 'success', completedAt: new Date().toISOString() });
  await requests.commit({ update: [{ workRequest: finished, expectedVersion: wr.version, finishes: true }], slots: [{ worker: wr.worker!, delta: -1, workRequestId: wr.id }] });
}

const listed = async (name: string) => (await workers.list()).filter((w) => w.name === name);
const listedDisabled = async (name: string) => (await workers.listDisabled()).filter((w) => w.name === name);

it('a new worker: its listing item carries gsi1, its worker item none; slot writes leave the listing item alone and the listing shows the exact count', async () => {
  const worker = newWorker();
  await workers.create(worker);
  const listing = await raw(workerListingKey(worker.name));
  expect(listing).toMatchObject({ entity: 'workerListing', name: worker.name, gsi1pk: 'WORKERS', gsi1sk: worker.name });
  expect((await raw(keys.worker(worker.name)))!.gsi1pk).toBeUndefined();

  const wr = await assign(await pendingRequest(), worker.name, { assigned: 0, concurrency: 2 });
  const item = (await raw(keys.worker(worker.name)))!;
  expect(item).toMatchObject({ assigned: 1, [slotHolderAttribute(wr.id)]: ASSIGNED_AT, gsi3pk: expect.stringMatching(/^FREESLOTS#/) });
  expect(item.gsi1pk).toBeUndefined();
  expect(await raw(workerListingKey(worker.name))).toEqual(listing);
  // Read from the worker item, not from an index copy: exact at once.
  expect((await listed(worker.name)).map((w) => w.assigned)).toEqual([1]);

  await finish(wr);
  expect((await listed(worker.name)).map((w) => w.assigned)).toEqual([0]);
  expect(await raw(workerListingKey(worker.name))).toEqual(listing);
});

it('an update moves the worker between WORKERS and WORKERS#DISABLED (listing item and worker item in one transaction)', async () => {
  const worker = newWorker();
  await workers.create({ ...worker, enabled: false });
  expect(await listed(worker.name)).toEqual([]);
  expect(await listedDisabled(worker.name)).toHaveLength(1);
  await workers.update({ ...worker, version: 2 }, 1);
  expect((await listed(worker.name)).map((w) => [w.enabled, w.version])).toEqual([[true, 2]]);
  expect(await listedDisabled(worker.name)).toEqual([]);
  // A lost race changes neither item.
  await expect(workers.update({ ...worker, enabled: false, version: 2 }, 1)).rejects.toThrow(/expected version 1, found 2/);
  expect((await raw(workerListingKey(worker.name)))!.gsi1pk).toBe('WORKERS');
});

it('a worker item written before the listing item existed is listed, takes and gives back slots, is swept for orphaned slots, and moves to the listing item on its next update', async () => {
  const worker = newWorker(1);
  // As the code before wrote it: the listing key on the worker item, no listing item.
  await doc.send(
    new PutCommand({
      TableName: table,
      Item: {
        ...keys.worker(worker.name),
        entity: 'worker',
        name: worker.name,
        tokenHash: worker.tokenHash,
        workerType: worker.workerType,
        enabled: true,
        registeredAt: worker.registeredAt,
        connectedAt: worker.connectedAt,
        staticMetadataJson: '{}',
        dynamicMetadataJson: '{}',
        concurrency: 1,
        assigned: 0,
        version: 1,
        gsi1pk: 'WORKERS',
        gsi1sk: worker.name,
      },
    }),
  );
  expect(await listed(worker.name)).toHaveLength(1);

  const wr = await assign(await pendingRequest(), worker.name, { assigned: 0, concurrency: 1 });
  expect((await listed(worker.name)).map((w) => w.assigned)).toEqual([1]);
  await finish(wr);
  expect((await listed(worker.name)).map((w) => w.assigned)).toEqual([0]);

  // A slot whose request write never happened, long ago: the watchdog's sweep finds it through the legacy entry.
  const orphan = await pendingRequest();
  await doc.send(
    new PutCommand({
      TableName: table,
      Item: { ...(await raw(keys.worker(worker.name)))!, assigned: 1, [slotHolderAttribute(orphan.id)]: '2026-11-22T08:00:00.000Z' },
    }),
  );
  expect(await requests.releaseOrphanedSlots('2026-11-22T09:00:00.000Z')).toBeGreaterThanOrEqual(1);
  expect((await raw(keys.worker(worker.name)))!.assigned).toBe(0);

  const current = (await workers.get(worker.name))!;
  await workers.update({ ...current, version: current.version + 1 }, current.version);
  expect((await raw(keys.worker(worker.name)))!.gsi1pk).toBeUndefined();
  expect((await raw(workerListingKey(worker.name)))!.gsi1pk).toBe('WORKERS');
  expect((await listed(worker.name)).map((w) => w.version)).toEqual([current.version + 1]);
});
