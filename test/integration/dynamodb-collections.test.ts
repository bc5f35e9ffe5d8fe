/**
 * DynamoCollectionRepository against DynamoDB Local (test/integration/global-setup.ts provisions the
 * tables): round trips, unique names, one active item per name under concurrent adds, soft-removal
 * history. The table is shared: every test uses its own ids and workspace.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { DynamoCollectionRepository } from '../../shared/adapters/dynamodb/collection-repository';
import type { Collection, CollectionItem } from '../../shared/domain/collections';
import { ConflictError } from '../../shared/domain/errors';

const table = process.env.CONVEYOR_TABLE_MAIN!;
// Default marshalling (no removeUndefinedValues): the adapter must strip undefined itself.
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
const repo = new DynamoCollectionRepository(doc, table);

afterAll(() => doc.destroy());

let nextId = Math.floor(Math.random() * 1e9) * 1000;
const newId = () => ++nextId;
const newWorkspace = () => `ws-${randomUUID().slice(0, 8)}`;
const T0 = '2026-11-22T10:00:00.000Z';

function collectionOf(overrides: Partial<Collection> = {}): Collection {
  return {
    id: newId(),
    scope: 'debusine',
    workspace: newWorkspace(),
    name: 'bookworm',
    category: 'debian:suite',
    data: { codename: 'bookworm', big: 12345678901234567890, deep: { list: [1, 'two', null, { x: true }] }, empty: '' },
    retainsArtifacts: 'always',
    workflowId: null,
    createdAt: T0,
    version: 1,
    ...overrides,
  };
}

function itemOf(collection: Collection, overrides: Partial<CollectionItem> = {}): CollectionItem {
  return {
    id: newId(),
    collectionId: collection.id,
    name: 'hello_1.0',
    childType: 'bare',
    category: 'debian:qa-result',
    artifactId: null,
    collectionRef: null,
    data: { result: 'pass', nested: { n: 1 } },
    createdAt: T0,
    createdBy: 'user:alice',
    removedAt: null,
    removedBy: null,
    ...overrides,
  };
}

describe('collections', () => {
  test('round-trip by id, by name and in the workspace listing', async () => {
    const c = collectionOf();
    await repo.create(c);
    expect(await repo.get(c.id)).toEqual(c);
    expect(await repo.getByName(c.scope, c.workspace, c.name, c.category)).toEqual(c);
    expect(await repo.getByName(c.scope, c.workspace, c.name, 'debian:environments')).toBeUndefined();
    const internal = collectionOf({ workspace: c.workspace, name: 'workflow-9', category: 'debusine:workflow-internal', retainsArtifacts: 'workflow', workflowId: 9 });
    await repo.create(internal);
    expect(await repo.list(c.scope, c.workspace)).toEqual([c, internal]);
    expect(await repo.list(c.scope, newWorkspace())).toEqual([]);
  });

  test('names are unique per (workspace, name, category), also under a race', async () => {
    const workspace = newWorkspace();
    const racers = Array.from({ length: 6 }, () => collectionOf({ workspace }));
    const outcomes = await Promise.allSettled(racers.map((c) => repo.create(c)));
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    for (const o of outcomes) if (o.status === 'rejected') expect(o.reason).toBeInstanceOf(ConflictError);
    const winner = racers[outcomes.findIndex((o) => o.status === 'fulfilled')]!;
    // The losers left nothing behind.
    for (const c of racers) if (c !== winner) expect(await repo.get(c.id)).toBeUndefined();
    await repo.create(collectionOf({ workspace, category: 'debian:environments' }));
    expect(await repo.list('debusine', workspace)).toHaveLength(2);
  });
});

describe('items', () => {
  test('round-trip of every kind; active items by id', async () => {
    const c = collectionOf();
    await repo.create(c);
    const artifact = itemOf(c, { name: 'b', childType: 'artifact', category: 'debian:source-package', artifactId: 77 });
    const bare = itemOf(c, { name: 'a|x y' });
    const child = itemOf(c, { name: 'c', childType: 'collection', category: 'debian:suite', collectionRef: 5 });
    for (const i of [artifact, bare, child]) await repo.addItem(i, { replace: false });
    expect(await repo.activeItem(c.id, 'b')).toEqual(artifact);
    expect(await repo.activeItem(c.id, 'a|x y')).toEqual(bare);
    expect(await repo.activeItem(c.id, 'missing')).toBeUndefined();
    expect(await repo.activeItems(c.id)).toEqual([artifact, bare, child]);
  });

  test('adding a taken name without replace fails and writes nothing', async () => {
    const c = collectionOf();
    await repo.create(c);
    const first = itemOf(c);
    await repo.addItem(first, { replace: false });
    const second = itemOf(c);
    await expect(repo.addItem(second, { replace: false })).rejects.toThrow(ConflictError);
    expect(await repo.history(c.id)).toEqual([first]);
  });

  test('two racing adds of one name without replace: exactly one wins', async () => {
    const c = collectionOf();
    await repo.create(c);
    const racers = Array.from({ length: 8 }, () => itemOf(c));
    const outcomes = await Promise.allSettled(racers.map((i) => repo.addItem(i, { replace: false })));
    const won = racers.filter((_, n) => outcomes[n]!.status === 'fulfilled');
    expect(won).toHaveLength(1);
    for (const o of outcomes) if (o.status === 'rejected') expect(o.reason).toBeInstanceOf(ConflictError);
    expect(await repo.activeItems(c.id)).toEqual(won);
    expect(await repo.history(c.id)).toEqual(won);
  });

  test('racing replaces all land, one after the other: one active item, every other one removed', async () => {
    const c = collectionOf();
    await repo.create(c);
    const racers = Array.from({ length: 5 }, (_, n) => itemOf(c, { createdBy: `workflow:${n}`, createdAt: `2026-11-22T10:00:0${n}.000Z` }));
    await Promise.all(racers.map((i) => repo.addItem(i, { replace: true })));
    const active = await repo.activeItems(c.id);
    expect(active).toHaveLength(1);
    const history = await repo.history(c.id);
    expect(history.map((i) => i.id).sort()).toEqual(racers.map((i) => i.id).sort());
    const removed = history.filter((i) => i.removedAt !== null);
    expect(removed).toHaveLength(4);
    expect(history.find((i) => i.removedAt === null)!.id).toBe(active[0]!.id);
    // Each removal is signed by the item that replaced it: the removers are the other racers.
    for (const r of removed) expect(racers.map((i) => i.createdBy)).toContain(r.removedBy);
  });

  test('the artifact replaces its promise; soft removal keeps the history', async () => {
    const c = collectionOf({ name: 'workflow-3', category: 'debusine:workflow-internal', retainsArtifacts: 'workflow', workflowId: 3 });
    await repo.create(c);
    const promise = itemOf(c, { name: 'build-amd64', category: 'debusine:promise', data: { promise_work_request_id: 4 }, createdBy: 'workflow:3' });
    await repo.addItem(promise, { replace: false });
    const artifact = itemOf(c, { name: 'build-amd64', childType: 'artifact', category: 'debian:upload', artifactId: 99, createdAt: '2026-11-22T10:05:00.000Z', createdBy: 'workflow:3' });
    await repo.addItem(artifact, { replace: true });
    expect(await repo.activeItem(c.id, 'build-amd64')).toEqual(artifact);

    const removed = await repo.removeItem(c.id, 'build-amd64', '2026-11-22T11:00:00.000Z', 'user:bob');
    expect(removed).toEqual({ ...artifact, removedAt: '2026-11-22T11:00:00.000Z', removedBy: 'user:bob' });
    expect(await repo.removeItem(c.id, 'build-amd64', '2026-11-22T12:00:00.000Z', 'user:bob')).toBeUndefined();
    expect(await repo.activeItems(c.id)).toEqual([]);
    expect(await repo.history(c.id)).toEqual([
      { ...promise, removedAt: '2026-11-22T10:05:00.000Z', removedBy: 'workflow:3' },
      { ...artifact, removedAt: '2026-11-22T11:00:00.000Z', removedBy: 'user:bob' },
    ]);
    // The name is free again.
    const again = itemOf(c, { name: 'build-amd64' });
    await repo.addItem(again, { replace: false });
    expect(await repo.activeItems(c.id)).toEqual([again]);
  });

  test('racing removals: one removes, the others find nothing', async () => {
    const c = collectionOf();
    await repo.create(c);
    await repo.addItem(itemOf(c), { replace: false });
    const outcomes = await Promise.all(Array.from({ length: 5 }, (_, n) => repo.removeItem(c.id, 'hello_1.0', T0, `user:u${n}`)));
    expect(outcomes.filter((o) => o !== undefined)).toHaveLength(1);
    const [row] = await repo.history(c.id);
    expect(row!.removedBy).toBe(outcomes.find((o) => o !== undefined)!.removedBy);
  });
});
