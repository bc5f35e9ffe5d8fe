/**
 * The work-request step of the expiry pass on DynamoDB Local (own tables, prefix `wrexp-it`): a
 * finished root enters the index when it finishes, an item outside the internal collection keeps
 * its tree (ITEMREF# markers), and a deleted tree leaves no row behind: requests, child links,
 * child progress, reverse-dependency links, input pins, markers, index entry, internal collection
 * (items, active rows, name claim).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { randomBytes } from 'node:crypto';
import { provision } from '../../cli/dev/provision';
import { DynamoArtifactRepository } from '../../shared/adapters/dynamodb/artifact-repository';
import { DynamoCollectionRepository } from '../../shared/adapters/dynamodb/collection-repository';
import { DynamoWorkRequestRepository } from '../../shared/adapters/dynamodb/work-request-repository';
import { dynamoExpiryStore, type DynamoExpiryStore } from '../../shared/adapters/dynamodb/expiry-store';
import { keys } from '../../shared/adapters/dynamodb/keys';
import { rootExpiryEntry, rootExpiryKey } from '../../shared/adapters/dynamodb/work-request-expiry-keys';
import { createMemoryDeps, type MemoryDeps } from '../../shared/adapters/memory';
import { runExpiryPass } from '../../shared/app/expiry';
import { WORKFLOW_INTERNAL, type CollectionItem } from '../../shared/domain/collections';
import { newWorkRequest, type WorkRequest } from '../../shared/domain/work-requests';

let doc: DynamoDBDocumentClient;
let table: string;
let store: DynamoExpiryStore;
let deps: MemoryDeps;
const T0 = new Date('2031-05-01T10:00:00.000Z');
const DELAY = 3600;

beforeAll(async () => {
  const env = await provision(
    { dynamodb: process.env.AWS_ENDPOINT_URL_DYNAMODB!, s3: process.env.AWS_ENDPOINT_URL_S3!, sqs: process.env.AWS_ENDPOINT_URL_SQS! },
    { namePrefix: `wrexp-it-${randomBytes(3).toString('hex')}` },
  );
  table = env.CONVEYOR_TABLE_MAIN!;
  doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
  const repo = new DynamoArtifactRepository(doc, table);
  store = dynamoExpiryStore(repo);
  deps = createMemoryDeps();
  Object.assign(deps, { artifacts: repo, collections: new DynamoCollectionRepository(doc, table), workRequests: new DynamoWorkRequestRepository(doc, table) });
  deps.clock.current = T0;
  await deps.identity.createWorkspace({ scope: 'debusine', name: 'wrexp', public: false, defaultExpirationDelay: DELAY, defaultFileStore: 'default', otherFileStores: [], createdAt: T0.toISOString(), version: 1 });
}, 60_000);

afterAll(() => doc?.destroy());

const now = () => deps.clock.now().toISOString();
const tick = (s: number) => deps.clock.advance(s * 1000);
const pass = () => runExpiryPass(deps, store, { recheckSeconds: 0 });

function request(id: number, fields: Partial<WorkRequest>): WorkRequest {
  return newWorkRequest({ id, scope: 'debusine', workspace: 'wrexp', createdBy: 'user:alice', taskType: 'Worker', taskName: 'noop', taskData: {}, createdAt: now(), ...fields });
}

function item(id: number, collectionId: number, createdBy: string): CollectionItem {
  return { id, collectionId, name: `item-${id}`, childType: 'bare', category: 'testing', artifactId: null, collectionRef: null, data: {}, createdAt: now(), createdBy, removedAt: null, removedBy: null };
}

async function finish(id: number): Promise<void> {
  const wr = (await deps.workRequests.get(id))!;
  const done = { ...wr, status: 'completed' as const, result: 'success' as const, completedAt: now(), version: wr.version + 1 };
  await deps.workRequests.commit({ update: [{ workRequest: done, expectedVersion: wr.version, finishes: wr.parent !== null }] });
}

/** As a row written before the entry moved onto the request item: no expiry key on it. */
async function withoutOwnEntry(id: number): Promise<void> {
  await doc.send(new UpdateCommand({ TableName: table, Key: keys.workRequest(id), UpdateExpression: 'REMOVE gsi3pk, gsi3sk' }));
}

async function gsi3sk(key: { pk: string; sk: string }): Promise<unknown> {
  return (await doc.send(new GetCommand({ TableName: table, Key: key, ConsistentRead: true }))).Item?.gsi3sk;
}

async function partition(pk: string): Promise<string[]> {
  const res = await doc.send(new QueryCommand({ TableName: table, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': pk }, ConsistentRead: true }));
  return (res.Items ?? []).map((i) => String(i.sk)).sort();
}

it('a finished workflow tree goes as a whole once nothing keeps it, leaving no row behind', async () => {
  // Root 101 (internal collection 700), children 102 → 103 (103 depends on 102 and reads artifact 42).
  await deps.workRequests.commit({ create: [request(101, { taskType: 'Workflow', taskName: 'noop-workflow', status: 'running', internalCollection: 700 })] });
  await deps.workRequests.commit({
    create: [
      request(102, { parent: 101, status: 'pending' }),
      request(103, { parent: 101, status: 'blocked', dependencies: [102], taskName: 'lintian', taskData: { input: { source_artifact: 42, binary_artifacts: [] } } }),
    ],
    addReverseDependencies: [{ dependency: 102, dependent: 103 }],
  });
  await deps.collections.create({ id: 700, scope: 'debusine', workspace: 'wrexp', name: 'workflow-101', category: WORKFLOW_INTERNAL, data: {}, retainsArtifacts: 'workflow', workflowId: 101, createdAt: now(), version: 1 });
  await deps.collections.addItem(item(7001, 700, 'workflow:102'), { replace: false });
  await deps.collections.create({ id: 701, scope: 'debusine', workspace: 'wrexp', name: 'outside', category: 'testing', data: {}, retainsArtifacts: 'never', workflowId: null, createdAt: now(), version: 1 });
  await deps.collections.addItem(item(7011, 701, 'user:alice'), { replace: false });
  await deps.collections.removeItem(701, 'item-7011', now(), 'workflow:103');
  expect(await partition(keys.artifact(42).pk)).toEqual(['W#0000000000000103']); // the input pin

  for (const id of [102, 103, 101]) await finish(id);
  expect(await store.workRequests.dueRoots('9999', 10)).toEqual([101]); // only the root is indexed

  tick(DELAY);
  const kept = await pass();
  expect(kept.workRequests.kept).toEqual([{ root: 101, requests: 3, why: expect.stringContaining('work request 103 of the tree: a collection item outside') }]);
  expect(kept.workRequests.deleted).toEqual([]);

  // The outside item's row goes (its collection's metadata retention): nothing names the tree any more.
  await doc.send(new DeleteCommand({ TableName: table, Key: keys.collectionItem(701, 7011) }));
  const gone = await pass();
  expect(gone.workRequests.deleted.map((d) => d.id)).toEqual([103, 102, 101]);
  expect(gone.workRequests.collections).toEqual([700]);
  for (const id of [101, 102, 103]) expect(await partition(keys.workRequest(id).pk)).toEqual([]);
  expect(await partition(keys.collection(700).pk)).toEqual([]);
  expect(await deps.collections.getByName('debusine', 'wrexp', 'workflow-101', WORKFLOW_INTERNAL)).toBeUndefined();
  expect(await partition(keys.artifact(42).pk)).toEqual([]);
  expect(await store.workRequests.dueRoots('9999', 10)).toEqual([]);
  expect((await deps.collections.get(701))?.name).toBe('outside'); // another collection is left alone
}, 60_000);

it('a root in a workspace without a delay leaves the index after one look', async () => {
  await deps.identity.createWorkspace({ scope: 'debusine', name: 'forever', public: false, defaultExpirationDelay: null, defaultFileStore: 'default', otherFileStores: [], createdAt: now(), version: 1 });
  await deps.workRequests.commit({ create: [{ ...request(201, { status: 'running' }), workspace: 'forever' }] });
  await finish(201);
  tick(10 * DELAY);
  expect((await pass()).workRequests.kept).toEqual([{ root: 201, requests: 1, why: expect.stringMatching(/^never expires/) }]);
  expect(await store.workRequests.dueRoots('9999', 10)).toEqual([]);
  expect(await deps.workRequests.get(201)).toBeDefined();
}, 60_000);

it('the backfill indexes finished roots and workflows\' items written before work-request expiry existed', async () => {
  await deps.workRequests.commit({ create: [request(301, { status: 'running', taskType: 'Workflow', taskName: 'noop-workflow' })] });
  await finish(301);
  await deps.collections.create({ id: 710, scope: 'debusine', workspace: 'wrexp', name: 'elsewhere', category: 'testing', data: {}, retainsArtifacts: 'never', workflowId: null, createdAt: now(), version: 1 });
  await deps.collections.addItem(item(7101, 710, 'workflow:301'), { replace: false });
  // As an older installation left them: no index entry, no marker.
  await withoutOwnEntry(301);
  await doc.send(new DeleteCommand({ TableName: table, Key: { pk: keys.workRequest(301).pk, sk: 'ITEMREF#0000000000000710#0000000000007101' } }));
  expect(await partition(keys.workRequest(301).pk)).toEqual(['W']);
  await store.backfill();
  expect(await partition(keys.workRequest(301).pk)).toEqual(['EXPIRY', 'ITEMREF#0000000000000710#0000000000007101', 'W']);
  tick(DELAY);
  // (Root 201 of the test before is indexed again too: the backfill cannot tell it was looked at.)
  expect((await pass()).workRequests.kept.filter((k) => k.root === 301)).toEqual([{ root: 301, requests: 1, why: expect.stringMatching(/collection item outside/) }]);
}, 60_000);

it("a root's entry is part of its own item (no item of its own); a legacy entry item is still read, moved and removed", async () => {
  for (const id of [401, 402]) {
    await deps.workRequests.commit({ create: [request(id, { status: 'running' })] });
    await finish(id);
  }
  const completedAt = now();
  // The completion wrote the entry on the request item: nothing else in its partition.
  expect(await partition(keys.workRequest(401).pk)).toEqual(['W']);
  expect(await gsi3sk(keys.workRequest(401))).toBe(`${completedAt}#0000000000000401`);
  // 402 as an older table holds it: an `EXPIRY` item, and no key on the row.
  await withoutOwnEntry(402);
  await doc.send(new PutCommand({ TableName: table, Item: rootExpiryEntry(402, completedAt) }));
  const due = await store.workRequests.dueRoots('9999', 100);
  expect(due.filter((id) => id === 401 || id === 402).sort()).toEqual([401, 402]);

  // Not expired yet: each entry is moved where it is, to the tree's expiry time.
  tick(DELAY / 2);
  const kept = (await pass()).workRequests.kept.filter((k) => k.root >= 401);
  expect(kept.map((k) => k.root).sort()).toEqual([401, 402]);
  const expiresAt = new Date(Date.parse(completedAt) + DELAY * 1000).toISOString();
  expect(await gsi3sk(keys.workRequest(401))).toBe(`${expiresAt}#0000000000000401`);
  expect(await gsi3sk(rootExpiryKey(402))).toBe(`${expiresAt}#0000000000000402`);
  expect(await gsi3sk(keys.workRequest(402))).toBeUndefined();

  tick(DELAY);
  const gone = await pass();
  expect(gone.workRequests.deleted.map((d) => d.id).filter((id) => id >= 401).sort()).toEqual([401, 402]);
  for (const id of [401, 402]) expect(await partition(keys.workRequest(id).pk)).toEqual([]);
}, 60_000);
