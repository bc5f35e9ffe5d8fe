/**
 * Workflow templates, the run index, notification channels and workflow child links against
 * DynamoDB Local: uniqueness under races, renames, run order, consistent children.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { DynamoNotificationChannelRepository } from '../../shared/adapters/dynamodb/notification-channel-repository';
import { DynamoWorkRequestRepository } from '../../shared/adapters/dynamodb/work-request-repository';
import { DynamoWorkflowTemplateRepository } from '../../shared/adapters/dynamodb/workflow-template-repository';
import { ConflictError } from '../../shared/domain/errors';
import { newWorkRequest, type WorkRequest } from '../../shared/domain/work-requests';
import type { WorkflowTemplate } from '../../shared/domain/workflows';

const table = process.env.CONVEYOR_TABLE_MAIN!;
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } });
const templates = new DynamoWorkflowTemplateRepository(doc, table);
const channels = new DynamoNotificationChannelRepository(doc, table);
const requests = new DynamoWorkRequestRepository(doc, table);

afterAll(() => doc.destroy());

let nextId = Math.floor(Math.random() * 1e9) * 1000;
const newId = () => ++nextId;
const unique = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

function templateOf(workspace: string, overrides: Partial<WorkflowTemplate> = {}): WorkflowTemplate {
  return {
    id: newId(),
    scope: 'debusine',
    workspace,
    name: unique('wf'),
    taskName: 'noop',
    taskData: { nested: { list: [1, null, 'x'] } },
    priority: 0,
    createdAt: '2026-11-22T10:00:00.000Z',
    version: 1,
    ...overrides,
  };
}

function wrOf(overrides: Partial<WorkRequest> = {}): WorkRequest {
  return newWorkRequest({
    id: newId(),
    scope: 'debusine',
    workspace: 'System',
    createdBy: 'user:alice',
    taskType: 'Worker',
    taskName: 'noop',
    taskData: {},
    status: 'blocked',
    createdAt: '2026-11-22T10:00:00.000Z',
    ...overrides,
  });
}

describe('workflow templates on DynamoDB Local', () => {
  it('creates, reads back by id and by name, lists by name, and keeps names unique per workspace', async () => {
    const ws = unique('ws');
    const b = templateOf(ws, { name: 'b-template' });
    const a = templateOf(ws, { name: 'a-template' });
    await templates.create(b);
    await templates.create(a);
    expect(await templates.get(b.id)).toEqual(b);
    expect(await templates.getByName('debusine', ws, 'a-template')).toEqual(a);
    expect((await templates.list('debusine', ws)).map((t) => t.name)).toEqual(['a-template', 'b-template']);
    await expect(templates.create(templateOf(ws, { name: 'a-template' }))).rejects.toThrow(ConflictError);
    // Another workspace may use the name.
    await templates.create(templateOf(unique('ws'), { name: 'a-template' }));
    expect(await templates.list('debusine', ws)).toHaveLength(2);
  });

  it('lets exactly one of many concurrent creates of a name win', async () => {
    const ws = unique('ws');
    const outcomes = await Promise.allSettled(Array.from({ length: 8 }, () => templates.create(templateOf(ws, { name: 'race' }))));
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    for (const o of outcomes.filter((r): r is PromiseRejectedResult => r.status === 'rejected')) expect(o.reason).toBeInstanceOf(ConflictError);
    expect(await templates.list('debusine', ws)).toHaveLength(1);
  });

  it('a rename frees the old name and takes the new one atomically; a stale version changes nothing', async () => {
    const ws = unique('ws');
    const t = templateOf(ws, { name: 'old' });
    const other = templateOf(ws, { name: 'other' });
    await templates.create(t);
    await templates.create(other);
    await expect(templates.update({ ...t, name: 'other', version: 2 }, 1)).rejects.toThrow(ConflictError);
    expect(await templates.getByName('debusine', ws, 'old')).toEqual(t);
    await templates.update({ ...t, name: 'new', priority: -3, version: 2 }, 1);
    expect(await templates.getByName('debusine', ws, 'old')).toBeUndefined();
    expect(await templates.getByName('debusine', ws, 'new')).toMatchObject({ id: t.id, priority: -3, version: 2 });
    await expect(templates.update({ ...t, name: 'newer', version: 2 }, 1)).rejects.toThrow(/expected version 1, found 2/);
    expect(await templates.getByName('debusine', ws, 'newer')).toBeUndefined();
    await templates.create(templateOf(ws, { name: 'old' }));
    expect((await templates.list('debusine', ws)).map((x) => x.name)).toEqual(['new', 'old', 'other']);
  });

  it('delete frees the name', async () => {
    const ws = unique('ws');
    const t = templateOf(ws, { name: 'gone' });
    await templates.create(t);
    await templates.delete(t);
    expect(await templates.get(t.id)).toBeUndefined();
    expect(await templates.getByName('debusine', ws, 'gone')).toBeUndefined();
    await templates.create(templateOf(ws, { name: 'gone' }));
  });
});

describe('the run index on DynamoDB Local', () => {
  it('finds a given run, and the latest by numeric order (10 after 9, minor after major)', async () => {
    const ws = unique('ws');
    const runs: [number, number][] = [
      [1, 0],
      [1, 1],
      [9, 0],
      [9, 2],
      [10, 0],
      [2, 0],
    ];
    for (const [major, minor] of runs) await templates.recordRun('debusine', ws, 'nightly', { major, minor }, major * 100 + minor);
    expect(await templates.findRun('debusine', ws, 'nightly')).toEqual({ run: { major: 10, minor: 0 }, workRequestId: 1000 });
    expect(await templates.findRun('debusine', ws, 'nightly', { major: 9, minor: 2 })).toEqual({ run: { major: 9, minor: 2 }, workRequestId: 902 });
    expect(await templates.findRun('debusine', ws, 'nightly', { major: 3, minor: 0 })).toBeUndefined();
    expect(await templates.findRun('debusine', ws, 'other')).toBeUndefined();
    // Recording the same run again is harmless; giving it to another request is not.
    await templates.recordRun('debusine', ws, 'nightly', { major: 1, minor: 1 }, 101);
    await expect(templates.recordRun('debusine', ws, 'nightly', { major: 1, minor: 1 }, 555)).rejects.toThrow(/is work request 101/);
  });
});

describe('notification channels on DynamoDB Local', () => {
  it('puts (create or replace), gets and lists', async () => {
    const name = unique('ch');
    await channels.put({ name, method: 'email', data: { to: ['a@example.org'] } });
    await channels.put({ name, method: 'email', data: { to: ['b@example.org'], cc: ['c@example.org'], from: 'ci@example.org' } });
    expect(await channels.get(name)).toEqual({ name, method: 'email', data: { to: ['b@example.org'], cc: ['c@example.org'], from: 'ci@example.org' } });
    expect((await channels.list()).filter((c) => c.name === name)).toHaveLength(1);
    expect(await channels.get(unique('absent'))).toBeUndefined();
  });
});

describe('workflow children on DynamoDB Local', () => {
  it('links children at creation, in the same transaction, and reads them back consistently by id', async () => {
    const root = wrOf({ taskType: 'Workflow', status: 'running', run: { name: 'nightly', major: 4, minor: 1, status: 'running' }, internalCollection: 99 });
    await requests.commit({ create: [root] });
    expect(await requests.get(root.id)).toEqual(root);
    const first = wrOf({ parent: root.id });
    const second = wrOf({ parent: root.id });
    const sub = wrOf({ parent: root.id, taskType: 'Workflow', status: 'pending' });
    await requests.commit({ create: [second, first] });
    await requests.commit({ create: [sub] });
    const grandchild = wrOf({ parent: sub.id });
    await requests.commit({ create: [grandchild] });
    expect((await requests.children(root.id)).map((c) => c.id)).toEqual([first.id, second.id, sub.id]);
    expect((await requests.children(sub.id)).map((c) => c.id)).toEqual([grandchild.id]);
    expect(await requests.children(first.id)).toEqual([]);
    // The link is made with the child: a failed create leaves no link behind.
    const orphan = wrOf({ parent: root.id });
    await expect(requests.commit({ create: [orphan, { ...first }] })).rejects.toThrow(ConflictError);
    expect(await requests.get(orphan.id)).toBeUndefined();
    expect((await requests.children(root.id)).map((c) => c.id)).toEqual([first.id, second.id, sub.id]);
  });

  it('keeps superseded children (a retry is a second child)', async () => {
    const root = wrOf({ taskType: 'Workflow', status: 'running' });
    const failed = wrOf({ parent: root.id, status: 'completed', result: 'failure' });
    await requests.commit({ create: [root, failed] });
    const retry = wrOf({ parent: root.id, supersedes: failed.id });
    await requests.commit({ create: [retry], update: [{ workRequest: { ...failed, supersededBy: retry.id }, expectedVersion: 1 }] });
    const children = await requests.children(root.id);
    expect(children.map((c) => [c.id, c.supersededBy])).toEqual([
      [failed.id, retry.id],
      [retry.id, null],
    ]);
  });
});
