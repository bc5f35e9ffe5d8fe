/**
 * The expiry pass on DynamoDB Local, through DynamoExpiryStore and the real repositories (files in
 * a memory store). Its own tables (prefix `expiry-it`): a pass reads every due bucket, so it must
 * not see the other tests' artifacts.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { createHash, randomBytes } from 'node:crypto';
import { provision } from '../../cli/dev/provision';
import { DynamoArtifactRepository } from '../../shared/adapters/dynamodb/artifact-repository';
import { DynamoCollectionRepository } from '../../shared/adapters/dynamodb/collection-repository';
import { DynamoWorkRequestRepository } from '../../shared/adapters/dynamodb/work-request-repository';
import { DynamoIdentityRepository } from '../../shared/adapters/dynamodb/identity-repository';
import { createMemoryDeps, type MemoryDeps } from '../../shared/adapters/memory';
import { runExpiryPass } from '../../shared/app/expiry';
import { blobObjectKey } from '../../shared/domain/object-keys';
import type { Artifact } from '../../shared/domain/artifacts';
import { ConflictError } from '../../shared/domain/errors';
import { newWorkRequest } from '../../shared/domain/work-requests';
import type { StoredFile } from '../../shared/ports';
import { dynamoExpiryStore, type DynamoExpiryStore } from '../../shared/adapters/dynamodb/expiry-store';

let doc: DynamoDBDocumentClient;
let table: string;
let repo: DynamoArtifactRepository;
let store: DynamoExpiryStore;
let deps: MemoryDeps;
let nextId = 1;
const GRACE = 60;
const T0 = new Date('2031-03-01T10:00:00.000Z');

beforeAll(async () => {
  const env = await provision(
    { dynamodb: process.env.AWS_ENDPOINT_URL_DYNAMODB!, s3: process.env.AWS_ENDPOINT_URL_S3!, sqs: process.env.AWS_ENDPOINT_URL_SQS! },
    { namePrefix: `expiry-it-${randomBytes(3).toString('hex')}` },
  );
  table = env.CONVEYOR_TABLE_MAIN!;
  doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
  repo = new DynamoArtifactRepository(doc, table);
  store = dynamoExpiryStore(repo);
  deps = createMemoryDeps();
  Object.assign(deps, { artifacts: repo, collections: new DynamoCollectionRepository(doc, table), workRequests: new DynamoWorkRequestRepository(doc, table) });
  deps.clock.current = T0;
}, 60_000);

afterAll(() => doc?.destroy());

const pass = () => runExpiryPass(deps, store, { recheckSeconds: 0, blobGraceSeconds: GRACE });
const tick = (s: number) => deps.clock.advance(s * 1000);

/** A complete artifact holding `content`, its bytes stored the way uploads store them. */
async function artifactWith(content: string, expireInSeconds: number | null, workspace = 'System'): Promise<Artifact> {
  const bytes = Buffer.from(content);
  const file: StoredFile = { path: 'f', sha256: shaOf(content), size: bytes.length, complete: true };
  const at = deps.clock.now().toISOString();
  if ((await repo.claimBlobForUpload(file.sha256, file.size, at)) === 'claim') {
    await deps.files.put(blobObjectKey(file.sha256, file.size), bytes);
    await repo.markBlobStored(file.sha256, file.size, at);
  }
  const artifact: Artifact = {
    id: nextId++,
    scope: 'debusine',
    workspace,
    category: 'testing',
    data: {},
    createdAt: at,
    updatedAt: at,
    createdBy: 'user:alice',
    expireAt: expireInSeconds === null ? null : new Date(deps.clock.now().getTime() + expireInSeconds * 1000).toISOString(),
    immutable: false,
    incompleteFiles: 0,
    version: 1,
  };
  await repo.create(artifact, [file]);
  return artifact;
}

function shaOf(content: string): string {
  return createHash('sha256').update(content).digest('hex');
}
const blobKeyOf = (content: string) => blobObjectKey(shaOf(content), Buffer.byteLength(content));

test('the index is ready on a table where no artifact was created before expiry existed', async () => {
  expect(await store.indexReady()).toBe(true);
  expect((await doc.send(new GetCommand({ TableName: table, Key: { pk: 'META', sk: 'expiry-index' } }))).Item).toBeDefined();
});

test('a new table whose first artifact is created before any pass is ready; one whose artifacts predate expiry is not', async () => {
  const fresh = await provision(
    { dynamodb: process.env.AWS_ENDPOINT_URL_DYNAMODB!, s3: process.env.AWS_ENDPOINT_URL_S3!, sqs: process.env.AWS_ENDPOINT_URL_SQS! },
    { namePrefix: `expiry-first-${randomBytes(3).toString('hex')}` },
  );
  const freshRepo = new DynamoArtifactRepository(doc, fresh.CONVEYOR_TABLE_MAIN!);
  const at = T0.toISOString();
  const first: Artifact = { id: 1, scope: 'debusine', workspace: 'System', category: 'testing', data: {}, createdAt: at, updatedAt: at, createdBy: 'user:alice', expireAt: at, immutable: false, incompleteFiles: 0, version: 1 };
  await doc.send(new UpdateCommand({ TableName: fresh.CONVEYOR_TABLE_MAIN!, Key: { pk: 'SEQ#artifact', sk: 'N' }, UpdateExpression: 'ADD #v :one', ExpressionAttributeNames: { '#v': 'value' }, ExpressionAttributeValues: { ':one': 1 } }));
  await freshRepo.create(first, []);
  expect(await dynamoExpiryStore(freshRepo).indexReady()).toBe(true);

  // An older installation: artifacts exist (here artifact 7) and no pass or backfill marked the table.
  const old = await provision(
    { dynamodb: process.env.AWS_ENDPOINT_URL_DYNAMODB!, s3: process.env.AWS_ENDPOINT_URL_S3!, sqs: process.env.AWS_ENDPOINT_URL_SQS! },
    { namePrefix: `expiry-old-${randomBytes(3).toString('hex')}` },
  );
  const oldRepo = new DynamoArtifactRepository(doc, old.CONVEYOR_TABLE_MAIN!);
  await doc.send(new UpdateCommand({ TableName: old.CONVEYOR_TABLE_MAIN!, Key: { pk: 'SEQ#artifact', sk: 'N' }, UpdateExpression: 'ADD #v :seven', ExpressionAttributeNames: { '#v': 'value' }, ExpressionAttributeValues: { ':seven': 7 } }));
  await oldRepo.create({ ...first, id: 7 }, []);
  expect(await dynamoExpiryStore(oldRepo).indexReady()).toBe(false);
  await dynamoExpiryStore(oldRepo).backfill();
  expect(await dynamoExpiryStore(oldRepo).indexReady()).toBe(true);
}, 60_000);

test('expire, keep by relation, by collection and by work-request input; freeze; blobs shared across workspaces', async () => {
  const doomed = await artifactWith('doomed bytes', 1);
  const kept = await artifactWith('kept bytes', 1);
  const keeper = await artifactWith('keeper', null);
  const retained = await artifactWith('retained', 1);
  const input = await artifactWith('input', 1);
  const sharedA = await artifactWith('shared', 1, 'System');
  const sharedB = await artifactWith('shared', null, 'Other');
  await repo.createRelation({ id: 1, artifact: keeper.id, target: kept.id, type: 'relates-to', createdAt: T0.toISOString() });
  const collections = deps.collections;
  await collections.create({ id: 500, scope: 'debusine', workspace: 'System', name: 'keep', category: 'testing:things', data: {}, retainsArtifacts: 'always', workflowId: null, createdAt: T0.toISOString(), version: 1 });
  await collections.addItem(
    { id: 501, collectionId: 500, name: 'r', childType: 'artifact', category: 'testing', artifactId: retained.id, collectionRef: null, data: {}, createdAt: T0.toISOString(), createdBy: 'user:alice', removedAt: null, removedBy: null },
    { replace: false },
  );
  const wr = newWorkRequest({ id: 900, scope: 'debusine', workspace: 'System', createdBy: 'user:alice', taskType: 'Worker', taskName: 'lintian', taskData: { input: { source_artifact: input.id, binary_artifacts: [] } }, createdAt: T0.toISOString() });
  await deps.workRequests.commit({ create: [wr] });

  tick(5);
  const first = await pass();
  expect(first.condemned.sort()).toEqual([doomed.id, sharedA.id].sort());
  expect(new Map(first.kept.map((k) => [k.id, k.reason.kind]))).toEqual(
    new Map([
      [kept.id, 'related-from'],
      [retained.id, 'retained-by-collection'],
      [input.id, 'work-request-input'],
    ]),
  );
  // frozen: no change, no relation to it, no collection item for it
  await expect(repo.update({ ...doomed, data: { x: 1 }, version: 2 }, 1)).rejects.toThrow(/expiring/);
  await expect(repo.createRelation({ id: 2, artifact: keeper.id, target: doomed.id, type: 'relates-to', createdAt: T0.toISOString() })).rejects.toBeInstanceOf(ConflictError);
  await expect(
    collections.addItem(
      { id: 502, collectionId: 500, name: 'd', childType: 'artifact', category: 'testing', artifactId: doomed.id, collectionRef: null, data: {}, createdAt: T0.toISOString(), createdBy: 'user:alice', removedAt: null, removedBy: null },
      { replace: false },
    ),
  ).rejects.toThrow(/expiring/);

  const second = await pass();
  expect(second.deleted.sort()).toEqual([doomed.id, sharedA.id].sort());
  expect(await repo.get(doomed.id)).toBeUndefined();
  expect(await repo.get(kept.id)).toBeDefined();
  // the blob of the doomed artifact is condemned, then deleted after the grace; the shared one stays
  await pass();
  tick(GRACE + 1);
  const third = await pass();
  expect(third.blobs.deleted.map((b) => b.size)).toEqual([Buffer.byteLength('doomed bytes')]);
  expect(deps.files.objects.has(blobKeyOf('doomed bytes'))).toBe(false);
  expect(deps.files.objects.has(blobKeyOf('shared'))).toBe(true);
  expect(await repo.get(sharedB.id)).toBeDefined();
  expect(await repo.isBlobStored(shaOf('shared'), Buffer.byteLength('shared'))).toBe(true);
  expect(await repo.blobRow(shaOf('kept bytes'), Buffer.byteLength('kept bytes'))).toEqual({ state: 'stored' });

  // finishing the work request lets its input go (kept ones were postponed only with recheck > 0)
  const running = (await deps.workRequests.get(900))!;
  await deps.workRequests.commit({ update: [{ workRequest: { ...running, status: 'completed', result: 'success', version: running.version + 1 }, expectedVersion: running.version }] });
  expect((await pass()).condemned).toEqual([input.id]);
  expect((await pass()).deleted).toEqual([input.id]);
  // the pins went with the artifact's partition
  const left = await doc.send(new QueryCommand({ TableName: table, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': `ART#${input.id}` } }));
  expect(left.Items).toEqual([]);
}, 60_000);

test('removed collection items: the retention index is written at removal; the pass drops the link, then the row', async () => {
  const collections = deps.collections;
  const linked = await artifactWith('item-linked', 1);
  await collections.create({ id: 600, scope: 'debusine', workspace: 'System', name: 'ret', category: 'testing:things', data: {}, retainsArtifacts: 'always', workflowId: null, fullHistoryRetentionPeriod: 10, metadataOnlyRetentionPeriod: 10, createdAt: T0.toISOString(), version: 1 });
  expect(await collections.get(600)).toMatchObject({ fullHistoryRetentionPeriod: 10, metadataOnlyRetentionPeriod: 10 });
  const at = deps.clock.now().toISOString();
  await collections.addItem({ id: 601, collectionId: 600, name: 'x', childType: 'artifact', category: 'testing', artifactId: linked.id, collectionRef: null, data: {}, createdAt: at, createdBy: 'user:alice', removedAt: null, removedBy: null }, { replace: false });
  // An active item is not in the retention index.
  expect(await store.items.removedItemsDue('9999', 10)).toEqual([]);
  await collections.removeItem(600, 'x', at, 'user:alice');
  const row = async () => (await doc.send(new GetCommand({ TableName: table, Key: { pk: 'COL#600', sk: 'I#0000000000000601' } }))).Item;
  expect((await row())!.gsi3pk).toBe('ITEMRET#0');

  tick(5);
  const early = await pass();
  expect(early.items.kept.map((k) => k.item)).toEqual([601]);
  expect(early.kept.map((k) => k.id)).toContain(linked.id); // the removed item still retains its artifact
  tick(6);
  expect((await pass()).items.linkDropped).toEqual([{ collection: 600, item: 601, name: 'x', artifact: linked.id }]);
  expect(await row()).toMatchObject({ removedAt: at, name: 'x' });
  expect((await row())!.artifactId).toBeUndefined();
  expect(await store.retainingLinks(linked.id)).toEqual([]);
  tick(10);
  expect((await pass()).items.deleted).toEqual([{ collection: 600, item: 601, name: 'x' }]);
  expect(await row()).toBeUndefined();
}, 60_000);

test('tokens past their expiry date: found through the token expiry index, deleted conditionally', async () => {
  const identity = new DynamoIdentityRepository(doc, table);
  const at = deps.clock.now();
  const base = { username: 'alice', purpose: 'task' as const, status: 'active' as const, enabled: true, comment: '', createdAt: at.toISOString(), version: 1 };
  const soon = { ...base, id: 'tok-soon', hash: 'a'.repeat(64), expireAt: new Date(at.getTime() + 5_000).toISOString() };
  const later = { ...base, id: 'tok-later', hash: 'b'.repeat(64), expireAt: new Date(at.getTime() + 3_600_000).toISOString() };
  await identity.createToken(soon);
  await identity.createToken(later);
  await identity.createToken({ ...base, id: 'tok-never', hash: 'c'.repeat(64) });
  tick(10);
  expect((await store.tokens.expiredTokens(deps.clock.now().toISOString(), 10)).map((t) => t.id)).toEqual(['tok-soon']);
  expect(await store.tokens.deleteExpiredToken({ ...soon, version: 2 })).toBe(false);
  expect((await pass()).tokens.deleted.map((t) => t.id)).toEqual(['tok-soon']);
  expect(await identity.getTokenByHash(soon.hash)).toBeUndefined();
  expect(await identity.getTokenByHash(later.hash)).toBeDefined();
  expect(await identity.getTokenByHash('c'.repeat(64))).toBeDefined();
}, 60_000);
