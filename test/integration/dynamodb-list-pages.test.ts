/**
 * The paged lists of collections, collection items and workflow templates (security finding 6)
 * against DynamoDB Local and the memory adapter: the same order, the same pages, cursors that
 * survive an item added before the cursor's position.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { DynamoCollectionRepository } from '../../shared/adapters/dynamodb/collection-repository';
import { DynamoWorkflowTemplateRepository } from '../../shared/adapters/dynamodb/workflow-template-repository';
import { createMemoryDeps } from '../../shared/adapters/memory';
import type { Collection, CollectionItem } from '../../shared/domain/collections';
import type { WorkflowTemplate } from '../../shared/domain/workflows';
import type { CollectionRepository, Page, WorkflowTemplateRepository } from '../../shared/ports';

const table = process.env.CONVEYOR_TABLE_MAIN!;
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } });
afterAll(() => doc.destroy());
// The first queries wake DynamoDB Local up on a shared machine.
jest.setTimeout(30_000);

let nextId = Math.floor(Math.random() * 1e9) * 1000;
const newId = () => ++nextId;
const T0 = '2026-12-06T04:00:00.000Z';

const backends: [string, () => { collections: CollectionRepository; templates: WorkflowTemplateRepository }][] = [
  ['DynamoDB', () => ({ collections: new DynamoCollectionRepository(doc, table), templates: new DynamoWorkflowTemplateRepository(doc, table) })],
  ['memory', () => { const deps = createMemoryDeps(); return { collections: deps.collections, templates: deps.templates }; }],
];

async function all<T>(read: (cursor?: string) => Promise<Page<T>>, name: (t: T) => string): Promise<string[][]> {
  const pages: string[][] = [];
  let cursor: string | undefined;
  do {
    const page = await read(cursor);
    pages.push(page.items.map(name));
    cursor = page.next;
  } while (cursor !== undefined && pages.length < 10);
  return pages;
}

describe.each(backends)('%s', (_name, make) => {
  const { collections, templates } = make();
  const workspace = `ws-${randomUUID().slice(0, 8)}`;
  const collection = (name: string, category: string): Collection => ({
    id: newId(), scope: 'debusine', workspace, name, category, data: {}, retainsArtifacts: 'always', workflowId: null, createdAt: T0, version: 1,
  });

  it('pages collections by category then name, narrowed by category', async () => {
    for (const [n, c] of [['e', 'debian:suite'], ['a', 'debian:suite'], ['c', 'debian:environments'], ['b', 'debian:suite']] as const) await collections.create(collection(n, c));
    const name = (c: Collection) => `${c.name}@${c.category}`;
    expect(await all((cursor) => collections.listPage('debusine', workspace, { limit: 2, ...(cursor ? { cursor } : {}) }), name)).toEqual([
      ['c@debian:environments', 'a@debian:suite'],
      ['b@debian:suite', 'e@debian:suite'],
    ]);
    expect(await all((cursor) => collections.listPage('debusine', workspace, { limit: 2, category: 'debian:suite', ...(cursor ? { cursor } : {}) }), name)).toEqual([
      ['a@debian:suite', 'b@debian:suite'],
      ['e@debian:suite'],
    ]);
  });

  it('pages active items by name; an item added before the cursor does not shift the next page', async () => {
    const c = collection('qa', 'debian:suite');
    await collections.create(c);
    const item = (name: string): CollectionItem => ({
      id: newId(), collectionId: c.id, name, childType: 'bare', category: 'debian:qa-result', artifactId: null, collectionRef: null, data: {},
      createdAt: T0, createdBy: 'user:alice', removedAt: null, removedBy: null,
    });
    for (const n of ['n2', 'n4', 'n6']) await collections.addItem(item(n), { replace: false });
    const first = await collections.activeItemsPage(c.id, { limit: 2 });
    expect(first.items.map((i) => i.name)).toEqual(['n2', 'n4']);
    await collections.addItem(item('n1'), { replace: false });
    const second = await collections.activeItemsPage(c.id, { limit: 2, cursor: first.next! });
    expect(second.items.map((i) => i.name)).toEqual(['n6']);
    expect(second.next).toBeUndefined();
  });

  it('pages workflow templates by name', async () => {
    for (const n of ['t3', 't1', 't2']) {
      const t: WorkflowTemplate = { id: newId(), scope: 'debusine', workspace, name: n, taskName: 'noop', taskData: {}, priority: 0, createdAt: T0, version: 1 };
      await templates.create(t);
    }
    expect(await all((cursor) => templates.listPage('debusine', workspace, { limit: 2, ...(cursor ? { cursor } : {}) }), (t) => t.name)).toEqual([['t1', 't2'], ['t3']]);
  });
});
