/**
 * The free-slot index on DynamoDB Local (gsi3 `FREESLOTS#<shard>`): kept in the same writes that
 * take and give back slots and that update the worker, and dropped only on a condition.
 */
import { createAwsDeps } from '../../shared/adapters/aws';
import { generateTokenKey } from '../../shared/app/admin';
import { authenticate } from '../../shared/app/auth';
import { initDatabase } from '../../shared/app/bootstrap';
import { disableWorker, enableWorker, registerWorker, updateDynamicMetadata } from '../../shared/app/workers';
import { ConflictError } from '../../shared/domain/errors';
import type { Deps } from '../../shared/ports';
import { AMD64_METADATA } from '../support/scheduling';

jest.setTimeout(120_000);

let deps: Deps;
const suffix = Math.random().toString(36).slice(2, 8);

beforeAll(async () => {
  deps = createAwsDeps(process.env);
  await initDatabase(deps);
});

async function connectedWorker(tag: string, concurrency: number): Promise<string> {
  const tokenKey = generateTokenKey();
  const w = await registerWorker(deps, { tokenKey, fqdn: `free-${tag}-${suffix}.lan`, concurrency });
  await enableWorker(deps, 'test', w.name);
  await updateDynamicMetadata(deps, await authenticate(deps, tokenKey), AMD64_METADATA);
  return w.name;
}

const inIndex = async (name: string) => (await deps.workers.withFreeSlots()).some((w) => w.name === name);

it('holds a worker until a take fills its last slot, and again after a give-back', async () => {
  const name = await connectedWorker('slots', 2);
  expect(await inIndex(name)).toBe(true);
  await deps.workRequests.commit({ slots: [{ worker: name, delta: 1, seen: { assigned: 0, concurrency: 2 } }] });
  expect(await inIndex(name)).toBe(true);
  await deps.workRequests.commit({ slots: [{ worker: name, delta: 1, seen: { assigned: 1, concurrency: 2 } }] });
  expect(await inIndex(name)).toBe(false);
  expect((await deps.workers.get(name))!.assigned).toBe(2);
  await deps.workRequests.commit({ slots: [{ worker: name, delta: -1 }] });
  const entry = (await deps.workers.withFreeSlots()).find((w) => w.name === name);
  expect(entry?.assigned).toBe(1);
});

it('a take that read the worker fuller than it is fails and leaves the entry', async () => {
  const name = await connectedWorker('race', 2);
  await expect(deps.workRequests.commit({ slots: [{ worker: name, delta: 1, seen: { assigned: 1, concurrency: 2 } }] })).rejects.toThrow(ConflictError);
  const w = (await deps.workers.get(name))!;
  expect(w.assigned).toBe(0);
  expect(await inIndex(name)).toBe(true);
});

it('disable removes the entry and enable puts it back', async () => {
  const name = await connectedWorker('toggle', 1);
  await disableWorker(deps, 'test', name);
  expect(await inIndex(name)).toBe(false);
  await enableWorker(deps, 'test', name);
  expect(await inIndex(name)).toBe(true);
});

it('drops a stale entry only while the worker is unchanged, and marks it disconnected', async () => {
  const name = await connectedWorker('stale', 1);
  const read = (await deps.workers.get(name))!;
  expect(await deps.workers.dropFromFreeSlots({ ...read, lastSeenAt: '2000-01-01T00:00:00.000Z' }, 'stale')).toBe(false);
  expect(await inIndex(name)).toBe(true);
  expect(await deps.workers.dropFromFreeSlots(read, 'stale')).toBe(true);
  expect(await inIndex(name)).toBe(false);
  const after = (await deps.workers.get(name))!;
  expect(after.connectedAt).toBeNull();
  expect(after.version).toBe(read.version + 1);
});

it('drops a full entry only while it is full', async () => {
  const name = await connectedWorker('full', 1);
  const read = (await deps.workers.get(name))!;
  expect(await deps.workers.dropFromFreeSlots(read, 'full')).toBe(false);
  // A take without `seen` leaves the entry (it cannot know it filled the worker): the pass drops it.
  await deps.workRequests.commit({ slots: [{ worker: name, delta: 1 }] });
  expect(await inIndex(name)).toBe(true);
  expect(await deps.workers.dropFromFreeSlots(read, 'full')).toBe(true);
  expect(await inIndex(name)).toBe(false);
});
