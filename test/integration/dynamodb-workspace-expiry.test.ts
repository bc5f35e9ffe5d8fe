/**
 * The workspace step of the expiry pass on DynamoDB Local (own tables, prefix `wsexp-it`): the
 * `WSEXP#` entry is written with a workspace that has an `expiration_delay` (and only then), the
 * commit of a finished root writes nothing to it, an early entry moves to last finish (read then) +
 * delay, a workspace goes with its work request, and a deleted one leaves nothing in its partition
 * (row, role grants, entry). With every kind of contents: dynamodb-workspace-contents-expiry.test.ts.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { randomBytes } from 'node:crypto';
import { provision } from '../../cli/dev/provision';
import { DynamoArtifactRepository } from '../../shared/adapters/dynamodb/artifact-repository';
import { DynamoCollectionRepository } from '../../shared/adapters/dynamodb/collection-repository';
import { DynamoIdentityRepository } from '../../shared/adapters/dynamodb/identity-repository';
import { DynamoWorkRequestRepository } from '../../shared/adapters/dynamodb/work-request-repository';
import { dynamoExpiryStore, type DynamoExpiryStore } from '../../shared/adapters/dynamodb/expiry-store';
import { keys } from '../../shared/adapters/dynamodb/keys';
import { createMemoryDeps, type MemoryDeps } from '../../shared/adapters/memory';
import { runExpiryPass } from '../../shared/app/expiry';
import { createWorkspace, grantRole, updateWorkspace } from '../../shared/app/admin';
import { newWorkRequest } from '../../shared/domain/work-requests';

let doc: DynamoDBDocumentClient;
let table: string;
let store: DynamoExpiryStore;
let deps: MemoryDeps;
const T0 = new Date('2031-06-01T10:00:00.000Z');
const DELAY = 3600;

beforeAll(async () => {
  const env = await provision(
    { dynamodb: process.env.AWS_ENDPOINT_URL_DYNAMODB!, s3: process.env.AWS_ENDPOINT_URL_S3!, sqs: process.env.AWS_ENDPOINT_URL_SQS! },
    { namePrefix: `wsexp-it-${randomBytes(3).toString('hex')}` },
  );
  table = env.CONVEYOR_TABLE_MAIN!;
  doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
  const repo = new DynamoArtifactRepository(doc, table);
  store = dynamoExpiryStore(repo);
  deps = createMemoryDeps();
  const identity = new DynamoIdentityRepository(doc, table);
  Object.assign(deps, { identity, artifacts: repo, collections: new DynamoCollectionRepository(doc, table), workRequests: new DynamoWorkRequestRepository(doc, table) });
  deps.clock.current = T0;
  await identity.createScopeIfAbsent({ name: 'debusine', label: 'Debusine', createdAt: T0.toISOString() });
  await identity.createUser({ username: 'alice', isAdmin: false, createdAt: T0.toISOString() });
}, 60_000);

afterAll(() => doc?.destroy());

const now = () => deps.clock.now().toISOString();
const tick = (s: number) => deps.clock.advance(s * 1000);
const pass = () => runExpiryPass(deps, store, { recheckSeconds: 0 });
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000).toISOString();

async function partition(workspace: string): Promise<string[]> {
  const pk = keys.workspace('debusine', workspace).pk;
  const res = await doc.send(new QueryCommand({ TableName: table, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': pk }, ConsistentRead: true }));
  return (res.Items ?? []).map((i) => String(i.sk)).sort();
}

async function entry(workspace: string) {
  const res = await doc.send(new GetCommand({ TableName: table, Key: { pk: keys.workspace('debusine', workspace).pk, sk: 'EXPIRY' }, ConsistentRead: true }));
  return res.Item;
}

/** A root request in `workspace`, created running, then stored finished. */
async function runOne(id: number, workspace: string): Promise<void> {
  const wr = newWorkRequest({ id, scope: 'debusine', workspace, createdBy: 'user:alice', taskType: 'Worker', taskName: 'noop', taskData: {}, createdAt: now() });
  await deps.workRequests.commit({ create: [{ ...wr, status: 'running' }] });
  const stored = (await deps.workRequests.get(id))!;
  await deps.workRequests.commit({ update: [{ workRequest: { ...stored, status: 'completed', result: 'success', completedAt: now(), version: stored.version + 1 }, expectedVersion: stored.version }] });
}

it('a workspace with an expiration delay is indexed, moved by its last finish, then goes with its request leaving no row', async () => {
  await createWorkspace(deps, 'test', { name: 'wsexp', expirationDelay: DELAY });
  await grantRole(deps, 'test', { workspace: 'wsexp', username: 'alice', role: 'owner' });
  await createWorkspace(deps, 'test', { name: 'kept' });
  expect((await entry('wsexp'))!.gsi3sk).toBe(`${at(DELAY)}#debusine/wsexp`);
  expect(await entry('kept')).toBeUndefined();

  tick(100);
  await runOne(9001, 'wsexp');
  await runOne(9002, 'kept');
  // Finishing writes nothing to the entry (workspaces without a delay pay nothing): the pass reads the finish times.
  expect((await entry('wsexp'))!.gsi3sk).toBe(`${at(DELAY)}#debusine/wsexp`);
  expect(await entry('kept')).toBeUndefined();

  tick(DELAY - 100); // creation + delay: the entry is read, and moves to last finish + delay
  expect((await pass()).workspaces).toEqual({ deleted: [], waiting: [], contents: [], finished: true });
  expect((await entry('wsexp'))!.gsi3sk).toBe(`${at(DELAY + 100)}#debusine/wsexp`);

  tick(100); // due: its finished request goes with it
  const report = await pass();
  expect(report.workspaces.contents).toEqual([expect.objectContaining({ workspace: 'wsexp', workRequests: [9001] })]);
  expect(report.workspaces.deleted).toEqual([{ scope: 'debusine', workspace: 'wsexp' }]);
  expect(await deps.workRequests.get(9001)).toBeUndefined();
  expect(await deps.workRequests.get(9002)).toBeDefined();
  expect(await partition('wsexp')).toEqual([]);
  expect(await deps.identity.getWorkspace('debusine', 'wsexp')).toBeUndefined();
  expect(await deps.identity.getWorkspace('debusine', 'kept')).toBeDefined();
}, 120_000);

it('removing the delay removes the entry; setting it again writes it back', async () => {
  await createWorkspace(deps, 'test', { name: 'toggle', expirationDelay: DELAY });
  await updateWorkspace(deps, 'test', { name: 'toggle', expirationDelay: 0 });
  expect(await entry('toggle')).toBeUndefined();
  await updateWorkspace(deps, 'test', { name: 'toggle', expirationDelay: 60 });
  expect((await entry('toggle'))!.gsi3sk).toMatch(/#debusine\/toggle$/);
  expect((await deps.identity.getWorkspace('debusine', 'toggle'))!.expirationDelay).toBe(60);
}, 60_000);
