/**
 * The create path's offer (shared/app/create-offer.ts) racing scheduling passes for the same worker
 * slot, on DynamoDB Local: the slot goes to one request only, and the worker's counter and its
 * requests agree.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { keys } from '../../shared/adapters/dynamodb/keys';
import { slotHolderAttribute } from '../../shared/adapters/dynamodb/slot-writes';
import { createArtifact } from '../../shared/app/artifacts';
import { createToken, createUser, createWorkspace, generateTokenKey, grantRole } from '../../shared/app/admin';
import { authenticate } from '../../shared/app/auth';
import { schedule } from '../../shared/app/scheduler';
import { abortWorkRequest, createWorkRequest } from '../../shared/app/work-requests';
import { enableWorker, registerWorker, updateDynamicMetadata } from '../../shared/app/workers';
import type { Deps } from '../../shared/ports';
import { integrationDeps } from '../support/integration-deps';
import { AMD64_METADATA } from '../support/scheduling';

jest.setTimeout(120_000);

const depsOf = integrationDeps();
const suffix = Math.random().toString(36).slice(2, 8);

async function setUp(tag: string) {
  const deps = depsOf();
  const name = `offer-${suffix}-${tag}`;
  await createWorkspace(deps, 'test', { name });
  await createUser(deps, 'test', { username: name });
  await grantRole(deps, 'test', { workspace: name, username: name, role: 'contributor' });
  const user = await authenticate(deps, (await createToken(deps, 'test', { username: name, enabled: true })).key);
  // An architecture of this test's own: only its worker can run its requests, only its requests fit that worker.
  const tokenKey = generateTokenKey();
  const worker = await registerWorker(deps, { tokenKey, fqdn: `${name}.lan`, concurrency: 1 });
  await enableWorker(deps, 'test', worker.name);
  await updateDynamicMetadata(deps, await authenticate(deps, tokenKey), { ...AMD64_METADATA, 'system:architectures': [name], 'system:host_architecture': name });
  const input = await createArtifact(deps, user, { scope: 'debusine', workspace: name, category: 'debian:binary-package', data: {}, files: {} });
  const lintian = { scope: 'debusine', workspace: name, taskName: 'lintian', taskData: { input: { binary_artifacts: [input.artifact.id] }, host_architecture: name } };
  return { user, worker, lintian };
}

const offering = (): Deps => ({ ...depsOf(), offerOnCreate: true });

/** The requests holding the worker's slot, checked against its counter and its gsi2 listing. */
async function slotHolders(workerName: string, ids: number[]): Promise<number[]> {
  const deps = depsOf();
  const stored = await Promise.all(ids.map(async (id) => (await deps.workRequests.get(id))!));
  const holders = stored.filter((wr) => wr.worker !== null);
  expect(holders.every((wr) => wr.worker === workerName)).toBe(true);
  expect((await deps.workers.get(workerName))!.assigned).toBe(holders.length);
  expect((await deps.workRequests.activeForWorker(workerName)).map((wr) => wr.id)).toEqual(holders.map((wr) => wr.id));
  expect(stored.filter((wr) => wr.worker === null).every((wr) => wr.status === 'pending')).toBe(true);
  return holders.map((wr) => wr.id);
}

it('create-path offers racing scheduler passes for one free slot: one new request wins it', async () => {
  const deps = depsOf();
  const { user, worker, lintian } = await setUp('a');
  const racers = await Promise.all([
    createWorkRequest(offering(), user, lintian),
    schedule(deps),
    createWorkRequest(offering(), user, lintian),
    schedule(deps),
    createWorkRequest(offering(), user, lintian),
  ]);
  const created = racers.flatMap((r) => ('id' in r ? [r.id] : []));
  expect(await slotHolders(worker.name, created)).toHaveLength(1);
});

it('with an older request pending, every racer (offer or pass) gives the one slot to it', async () => {
  const deps = depsOf();
  const { user, worker, lintian } = await setUp('b');
  const older = await createWorkRequest(deps, user, lintian); // without the offer: pending
  const racers = await Promise.all([createWorkRequest(offering(), user, lintian), schedule(deps), createWorkRequest(offering(), user, lintian), schedule(deps)]);
  const created = racers.flatMap((r) => ('id' in r ? [r.id] : []));
  expect(await slotHolders(worker.name, [older.id, ...created])).toEqual([older.id]);
});

it('two creates (each creating its request already assigned) and a pass racing for one free slot, round after round: the slot has one holder, the request assigned to the worker', async () => {
  const deps = depsOf();
  const { user, worker, lintian } = await setUp('c');
  const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
  const ids: number[] = [];
  try {
    for (let round = 0; round < 3; round++) {
      const racers = await Promise.all([createWorkRequest(offering(), user, lintian), schedule(deps), createWorkRequest(offering(), user, lintian)]);
      ids.push(...racers.flatMap((r) => ('id' in r ? [r.id] : [])));
      const [holder] = await slotHolders(worker.name, ids);
      expect(holder).toBeDefined();
      // The worker item's own holders (the slot writes): exactly the one request that is assigned.
      const item = (await doc.send(new GetCommand({ TableName: process.env.CONVEYOR_TABLE_MAIN!, Key: keys.worker(worker.name), ConsistentRead: true }))).Item!;
      expect(Object.keys(item).filter((k) => k.startsWith('slot#'))).toEqual([slotHolderAttribute(holder!)]);
      await abortWorkRequest(deps, user, holder!); // frees the slot for the next round; the others stay pending
      ids.splice(ids.indexOf(holder!), 1);
    }
  } finally {
    doc.destroy();
  }
});
