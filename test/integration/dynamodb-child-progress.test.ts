/** A workflow's child progress on DynamoDB Local: counted in the children's own transactions, read in one GetItem. */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoWorkRequestRepository } from '../../shared/adapters/dynamodb/work-request-repository';
import { bump, newWorkRequest } from '../../shared/domain/work-requests';

const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
const repo = new DynamoWorkRequestRepository(doc, process.env.CONVEYOR_TABLE_MAIN!);
afterAll(() => doc.destroy());

test('creates and finishes of children move the counts; a lost race moves nothing; other updates do not count', async () => {
  const base = Math.floor(Math.random() * 1e9) * 10 + 5_000_000_000;
  const fields = { scope: 'debusine', workspace: 'System', createdBy: 'user:alice', createdAt: '2026-12-06T04:00:00.000Z', taskData: {} };
  const root = newWorkRequest({ ...fields, id: base, taskType: 'Workflow', taskName: 'noop', status: 'running' });
  await repo.commit({ create: [root] });
  expect(await repo.childProgress(root.id)).toBeUndefined();
  const kids = [1, 2, 3].map((i) => newWorkRequest({ ...fields, id: base + i, taskType: 'Internal', taskName: 'noop', parent: root.id, status: 'running' }));
  await repo.commit({ create: [kids[0]!] });
  await repo.commit({ create: [kids[1]!, kids[2]!] });
  expect(await repo.childProgress(root.id)).toEqual({ created: 3, finished: 0, unsuccessful: 0 });

  const done = bump(kids[0]!, { status: 'completed', result: 'success' });
  await repo.commit({ update: [{ workRequest: done, expectedVersion: kids[0]!.version, finishes: true }] });
  // The same finish again loses on the version: the counts stay.
  await expect(repo.commit({ update: [{ workRequest: done, expectedVersion: kids[0]!.version, finishes: true }] })).rejects.toThrow(/changed concurrently/);
  await repo.commit({ update: [{ workRequest: bump(kids[1]!, { status: 'aborted' }), expectedVersion: kids[1]!.version, finishes: true }] });
  await repo.commit({ update: [{ workRequest: bump(done, { outputArtifacts: [1] }), expectedVersion: done.version }] });
  expect(await repo.childProgress(root.id)).toEqual({ created: 3, finished: 2, unsuccessful: 1 });
  // The link query still finds exactly the children (the progress item sits in the same partition).
  expect((await repo.children(root.id)).map((c) => c.id)).toEqual(kids.map((k) => k.id));
});

test('children created uncounted (a populate) are counted by one raise, which never lowers the count nor drops a finish', async () => {
  const base = Math.floor(Math.random() * 1e9) * 10 + 5_000_000_000;
  const fields = { scope: 'debusine', workspace: 'System', createdBy: 'user:alice', createdAt: '2026-12-06T04:00:00.000Z', taskData: {} };
  const root = newWorkRequest({ ...fields, id: base, taskType: 'Workflow', taskName: 'noop', status: 'running' });
  await repo.commit({ create: [root] });
  const kids = [1, 2, 3].map((i) => newWorkRequest({ ...fields, id: base + i, taskType: 'Internal', taskName: 'noop', parent: root.id, status: 'running' }));
  for (const kid of kids) await repo.commit({ create: [kid], uncountedChildren: true });
  expect(await repo.childProgress(root.id)).toBeUndefined();
  // A child may finish before the count is raised: its finish is kept.
  await repo.commit({ update: [{ workRequest: bump(kids[0]!, { status: 'completed', result: 'success' }), expectedVersion: kids[0]!.version, finishes: true }] });
  await repo.raiseChildrenCreated(root.id, 3);
  expect(await repo.childProgress(root.id)).toEqual({ created: 3, finished: 1, unsuccessful: 0 });
  await repo.raiseChildrenCreated(root.id, 2); // a raise read before a create counted meanwhile: no effect
  await repo.raiseChildrenCreated(root.id, 3); // a replay: no effect
  expect(await repo.childProgress(root.id)).toEqual({ created: 3, finished: 1, unsuccessful: 0 });
  expect((await repo.children(root.id)).map((c) => c.id)).toEqual(kids.map((k) => k.id));
});
