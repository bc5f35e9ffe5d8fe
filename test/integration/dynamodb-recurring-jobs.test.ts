/**
 * DynamoRecurringJobRepository against DynamoDB Local: conditional writes (two racing writers, one
 * wins), results and events appended in the same transaction, pagination, and the sparse sharded
 * due index (only due, unreleased runs of REVIEWED jobs; a released run leaves it), and the runs-out
 * index (released, unfinished runs; the reconcile pass reads it).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoRecurringJobRepository } from '../../shared/adapters/dynamodb/recurring-job-repository';
import { ConflictError } from '../../shared/domain/errors';
import { createRecurringJob, finishJob, startJob, updateRecurringJob, type RecurringJob } from '../../shared/domain/recurring-jobs';

const table = process.env.CONVEYOR_TABLE_MAIN!;
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
const repo = new DynamoRecurringJobRepository(doc, table);
afterAll(() => doc.destroy());
// DynamoDB Local answers a transaction in tens of milliseconds, slower on a busy machine.
jest.setTimeout(30_000);

let nextId = Math.floor(Math.random() * 1e9) * 1000;
const workspace = `ws${nextId}`;

async function newJob(due: string): Promise<RecurringJob> {
  const change = createRecurringJob({ id: ++nextId, scope: 'debusine', workspace, owner: 'user:a', kind: 'git-import', target: { url: 'file:///r' } }, new Date(due));
  await repo.create(change.job, change.events);
  return change.job;
}

async function write(before: RecurringJob, change: { job: RecurringJob; result?: unknown; events?: unknown[] }): Promise<RecurringJob> {
  const job = { ...change.job, version: before.version + 1 };
  await repo.commit({ job, expectedVersion: before.version, result: (change.result as never) ?? null, events: (change.events as never) ?? [] });
  return job;
}

test('a job round-trips; of two writers from the same version one wins; results and events are appended', async () => {
  const job = await newJob('1975-01-01T00:00:00.000Z');
  expect(await repo.get(job.id)).toEqual(job);
  await expect(repo.create(job, [])).rejects.toBeInstanceOf(ConflictError);
  const started = await write(job, startJob(job, { name: 'bee', state: 'ONLINE' }, new Date('1975-01-01T00:01:00Z')));
  const racing = { ...startJob(job, { name: 'wasp', state: 'ONLINE' }, new Date('1975-01-01T00:01:00Z')).job, version: job.version + 1 };
  await expect(repo.commit({ job: racing, expectedVersion: job.version })).rejects.toBeInstanceOf(ConflictError);
  expect((await repo.get(job.id))!.run!.machine).toBe('bee');
  const finished = await write(started, finishJob(started, 'SUCCESS', new Date('1975-01-01T00:02:00Z')));
  expect((await repo.results(job.id, 10)).items).toEqual([expect.objectContaining({ sequence: 1, status: 'SUCCESS', machine: 'bee' })]);
  const events = await repo.events(job.id, 2);
  expect(events.items.map((e) => e.type)).toEqual(['CREATE', 'START']);
  expect((await repo.events(job.id, 2, events.next)).items.map((e) => e.type)).toEqual(['FINISH']);
  expect(finished.run!.id).toBe(2);
});

test('the due index holds only due, unreleased runs of REVIEWED jobs, across shards, most overdue first', async () => {
  const jobs = [];
  for (let k = 0; k < 6; k++) jobs.push(await newJob(`1971-01-0${k + 1}T00:00:00.000Z`));
  const due = async () => (await repo.dueRuns('1971-01-04T00:00:00.000Z', 100)).map((j) => j.id);
  expect(await due()).toEqual(jobs.slice(0, 4).map((j) => j.id));
  const released = await write(jobs[0]!, { job: { ...jobs[0]!, run: { ...jobs[0]!.run!, workRequestId: 5, releasedAt: '1971-01-04T00:00:00.000Z' } } });
  await write(jobs[1]!, updateRecurringJob(jobs[1]!, { reviewStatus: 'SUSPENDED' }, 'user:o', new Date('1971-01-04T00:00:00Z')));
  expect(await due()).toEqual(jobs.slice(2, 4).map((j) => j.id));
  expect((await repo.dueRuns('1971-01-04T00:00:00.000Z', 1)).map((j) => j.id)).toEqual([jobs[2]!.id]);
  expect(released.run!.releasedAt).not.toBeNull();
});

test('the runs-out index holds released, unfinished runs only, oldest release first; a finish takes the run out', async () => {
  const jobs = [];
  for (let k = 0; k < 3; k++) jobs.push(await newJob(`1960-01-0${k + 1}T00:00:00.000Z`));
  const out = async (before: string) => (await repo.releasedRuns(before, 100)).map((j) => j.id);
  expect(await out('1960-06-01T00:00:00.000Z')).toEqual([]);
  const release = (j: RecurringJob, at: string) => write(j, { job: { ...j, run: { ...j.run!, workRequestId: j.id, releasedAt: at } } });
  const first = await release(jobs[1]!, '1960-01-05T00:00:00.000Z');
  await release(jobs[2]!, '1960-01-04T00:00:00.000Z');
  expect(await out('1960-06-01T00:00:00.000Z')).toEqual([jobs[2]!.id, jobs[1]!.id]);
  expect(await out('1960-01-04T12:00:00.000Z')).toEqual([jobs[2]!.id]);
  const started = await write(first, startJob(first, { name: 'bee', state: 'ONLINE' }, new Date('1960-01-05T00:01:00Z')));
  expect(await out('1960-06-01T00:00:00.000Z')).toEqual([jobs[2]!.id, jobs[1]!.id]);
  await write(started, finishJob(started, 'SUCCESS', new Date('1960-01-05T00:02:00Z')));
  expect(await out('1960-06-01T00:00:00.000Z')).toEqual([jobs[2]!.id]);
});

test('listing a workspace pages through its jobs; delete is conditional on the version', async () => {
  const page = await repo.list('debusine', workspace, 3);
  expect(page.items).toHaveLength(3);
  const rest = await repo.list('debusine', workspace, 100, page.next);
  expect(new Set([...page.items, ...rest.items].map((j) => j.id)).size).toBe(page.items.length + rest.items.length);
  const job = await newJob('1980-01-01T00:00:00.000Z');
  await expect(repo.delete({ ...job, version: 7 })).rejects.toBeInstanceOf(ConflictError);
  await repo.delete(job);
  expect(await repo.get(job.id)).toBeUndefined();
});

test('machine events are kept per worker, oldest first', async () => {
  const name = `bee${nextId}`;
  await repo.appendMachineEvents(name, [{ type: 'QUIESCE', date: '1990-01-01T00:00:00.000Z', person: 'user:admin', machine: name, items: {} }]);
  await repo.appendMachineEvents(name, [{ type: 'OFFLINE', date: '1990-01-01T00:05:00.000Z', person: null, machine: name, items: { OFFLINE_REASON: 'QUIESCED' } }]);
  expect((await repo.machineEvents(name, 10)).items.map((e) => e.type)).toEqual(['QUIESCE', 'OFFLINE']);
});
