/**
 * The workspace step of the expiry pass on DynamoDB Local (own tables, prefix `wsexp-it`): the
 * `WSEXP#` entry is written with a workspace that has an `expiration_delay` (and only then), the
 * commit of a finished root writes nothing to it, an early entry moves to last finish (read then) +
 * delay, a workspace goes with its work request, and a deleted one leaves nothing in its partition
 * (row, role grants, entry). With every kind of contents, a Scan (in the test only: the product reads known
 * keys) then finds no item naming the workspace, and the other workspace is untouched.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { createHash, randomBytes } from 'node:crypto';
import { provision } from '../../cli/dev/provision';
import { DynamoAccountsRepository } from '../../shared/adapters/dynamodb/accounts-repository';
import { DynamoArtifactRepository } from '../../shared/adapters/dynamodb/artifact-repository';
import { DynamoCollectionRepository } from '../../shared/adapters/dynamodb/collection-repository';
import { DynamoIdentityRepository } from '../../shared/adapters/dynamodb/identity-repository';
import { DynamoRecurringJobRepository } from '../../shared/adapters/dynamodb/recurring-job-repository';
import { DynamoWorkRequestRepository } from '../../shared/adapters/dynamodb/work-request-repository';
import { DynamoWorkflowTemplateRepository } from '../../shared/adapters/dynamodb/workflow-template-repository';
import { dynamoExpiryStore, type DynamoExpiryStore } from '../../shared/adapters/dynamodb/expiry-store';
import { keys } from '../../shared/adapters/dynamodb/keys';
import { createMemoryDeps, type MemoryDeps } from '../../shared/adapters/memory';
import { runExpiryPass, type ExpiryReport } from '../../shared/app/expiry';
import { createWorkspace, grantRole, updateWorkspace } from '../../shared/app/admin';
import type { Artifact } from '../../shared/domain/artifacts';
import { blobObjectKey } from '../../shared/domain/object-keys';
import { createRecurringJob } from '../../shared/domain/recurring-jobs';
import { newWorkRequest } from '../../shared/domain/work-requests';
import type { StoredFile } from '../../shared/ports';

let doc: DynamoDBDocumentClient;
let table: string;
let repo: DynamoArtifactRepository;
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
  repo = new DynamoArtifactRepository(doc, table);
  store = dynamoExpiryStore(repo);
  deps = createMemoryDeps();
  const identity = new DynamoIdentityRepository(doc, table);
  Object.assign(deps, {
    identity,
    artifacts: repo,
    collections: new DynamoCollectionRepository(doc, table),
    workRequests: new DynamoWorkRequestRepository(doc, table),
    templates: new DynamoWorkflowTemplateRepository(doc, table),
    recurringJobs: new DynamoRecurringJobRepository(doc, table),
    accounts: new DynamoAccountsRepository(doc, table),
  });
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

let nextArtifact = 1;

/** A complete artifact holding `content` in `workspace`, its bytes stored the way uploads store them; never expires by itself. */
async function artifactWith(content: string, workspace: string): Promise<Artifact> {
  const bytes = Buffer.from(content);
  const file: StoredFile = { path: 'f', sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length, complete: true };
  if ((await repo.claimBlobForUpload(file.sha256, file.size, now())) === 'claim') {
    await deps.files.put(blobObjectKey(file.sha256, file.size), bytes);
    await repo.markBlobStored(file.sha256, file.size, now());
  }
  const artifact: Artifact = { id: nextArtifact++, scope: 'debusine', workspace, category: 'testing', data: {}, createdAt: now(), updatedAt: now(), createdBy: 'user:alice', expireAt: null, immutable: false, incompleteFiles: 0, version: 1 };
  await repo.create(artifact, [file]);
  return artifact;
}

/** The keys of every item of the table. */
async function allKeys(): Promise<Set<string>> {
  const keys = new Set<string>();
  let start: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(new ScanCommand({ TableName: table, ConsistentRead: true, ExclusiveStartKey: start, ProjectionExpression: 'pk, sk' }));
    for (const item of page.Items ?? []) keys.add(`${item.pk} ${item.sk}`);
    start = page.LastEvaluatedKey;
  } while (start);
  return keys;
}

/** Every item of the table that names the workspace (its key parts, or its `workspace` attribute). */
async function itemsNaming(workspace: string): Promise<string[]> {
  const found: string[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(new ScanCommand({ TableName: table, ConsistentRead: true, ExclusiveStartKey: start }));
    for (const item of page.Items ?? []) {
      const keyText = ['pk', 'sk', 'gsi1pk', 'gsi1sk', 'gsi2pk', 'gsi2sk', 'gsi3pk', 'gsi3sk'].map((k) => String(item[k] ?? '')).join(' ');
      const job = item.job as { workspace?: string } | undefined;
      if (item.workspace === workspace || job?.workspace === workspace || new RegExp(`debusine[#/]${workspace}(#|/|$| )`).test(keyText)) found.push(`${item.pk} ${item.sk}`);
    }
    start = page.LastEvaluatedKey;
  } while (start);
  return found.sort();
}

it('a due workspace goes with every item naming it; the other workspace keeps its own', async () => {
  await createWorkspace(deps, 'test', { name: 'wsc', expirationDelay: DELAY });
  await createWorkspace(deps, 'test', { name: 'other' });
  for (const ws of ['wsc', 'other']) await grantRole(deps, 'test', { workspace: ws, username: 'alice', role: 'owner' });
  const beforeContents = await allKeys();

  const wr = newWorkRequest({ id: 7001, scope: 'debusine', workspace: 'wsc', createdBy: 'user:alice', taskType: 'Worker', taskName: 'noop', taskData: {}, createdAt: now() });
  await deps.workRequests.commit({ create: [{ ...wr, status: 'completed', result: 'success', completedAt: now() }] });
  const a = await artifactWith('wsc bytes', 'wsc');
  const b = await artifactWith('shared bytes', 'wsc');
  const kept = await artifactWith('shared bytes', 'other'); // the same bytes in another workspace
  await repo.createRelation({ id: 1, artifact: b.id, target: a.id, type: 'relates-to', createdAt: now() });
  await deps.collections.create({ id: 800, scope: 'debusine', workspace: 'wsc', name: 'suite', category: 'debian:suite', data: {}, retainsArtifacts: 'always', workflowId: null, createdAt: now(), version: 1 });
  await deps.collections.addItem({ id: 801, collectionId: 800, name: 'a', childType: 'artifact', category: 'testing', artifactId: a.id, collectionRef: null, data: {}, createdAt: now(), createdBy: 'workflow:7001', removedAt: null, removedBy: null }, { replace: false });
  await deps.templates.create({ id: 900, scope: 'debusine', workspace: 'wsc', name: 'nightly', taskName: 'noop', taskData: {}, priority: 0, createdAt: now(), version: 1 });
  await deps.templates.recordRun('debusine', 'wsc', 'nightly', { major: 1, minor: 0 }, 7001);
  const job = createRecurringJob({ id: 950, scope: 'debusine', workspace: 'wsc', owner: 'user:alice', kind: 'git-import', target: { url: 'file:///srv/r.git' } }, deps.clock.now());
  await deps.recurringJobs!.create(job.job, job.events);
  await deps.accounts.setLimit({ kind: 'workspace', scope: 'debusine', workspace: 'wsc' }, 'disk', 1_000_000);
  const before = await itemsNaming('wsc');
  expect(before.length).toBeGreaterThan(10);
  const otherBefore = await itemsNaming('other');

  tick(DELAY);
  const dry = await runExpiryPass(deps, store, { dryRun: true, recheckSeconds: 0 });
  expect(dry.workspaces.contents.filter((c) => c.workspace === 'wsc')).toEqual([expect.objectContaining({ workspace: 'wsc', workRequests: [7001], artifacts: [a.id, b.id], collections: [800], workflowTemplates: ['nightly'], recurringJobs: [950], usageRecords: true })]);
  expect(await itemsNaming('wsc')).toEqual(before);

  const reports: ExpiryReport[] = [];
  while ((await deps.identity.getWorkspace('debusine', 'wsc')) && reports.length < 5) reports.push(await runExpiryPass(deps, store, { recheckSeconds: 0, blobGraceSeconds: 0 }));
  expect(reports.map((r) => r.workspaces.waiting)).toEqual(reports.map(() => []));
  expect(reports.length).toBe(3);
  expect(reports.at(-1)!.workspaces.deleted).toContainEqual({ scope: 'debusine', workspace: 'wsc' });
  expect(await itemsNaming('wsc')).toEqual([]);
  expect(await itemsNaming('other')).toEqual(otherBefore);
  // Also what names it only by id (a job's events, a collection's items, a request's partition): only
  // the other workspace's artifact, blob bookkeeping (not per workspace) and the index marker are new.
  const added = [...(await allKeys())].filter((k) => !beforeContents.has(k) && !k.startsWith('WS#debusine#wsc '));
  expect(added.filter((k) => !/^(ART#0*3 |BLOB#|BLOBCAND|EXPB|SEQ#|META )/.test(k))).toEqual([]);
  expect(await repo.get(kept.id)).toBeDefined();
  // The bytes only the gone workspace held go through the blob sweep; the shared ones stay.
  await runExpiryPass(deps, store, { recheckSeconds: 0, blobGraceSeconds: 0 });
  await runExpiryPass(deps, store, { recheckSeconds: 0, blobGraceSeconds: 0 });
  expect(deps.files.objects.has(blobObjectKey(createHash('sha256').update('wsc bytes').digest('hex'), 9))).toBe(false);
  expect(deps.files.objects.has(blobObjectKey(createHash('sha256').update('shared bytes').digest('hex'), 12))).toBe(true);
}, 180_000);

it('a workspace with more requests than a pass reads: the scan rides on the entry, goes on, then it goes', async () => {
  const created = now();
  await createWorkspace(deps, 'test', { name: 'wsbig', expirationDelay: DELAY });
  for (let id = 9101; id <= 9105; id++) await runOne(id, 'wsbig');
  tick(DELAY);
  const slices = { recheckSeconds: 0, maxWorkspaceRequestsRead: 2 };
  const first = await runExpiryPass(deps, store, slices);
  expect(first.workspaces.waiting).toEqual([{ scope: 'debusine', workspace: 'wsbig', why: 'looked at 2 of its work requests so far, none unfinished: the next pass reads on' }]);
  expect((await entry('wsbig'))!.scan).toEqual(expect.objectContaining({ read: 2, complete: false, newest: expect.objectContaining({ id: 9105 }), cursor: expect.any(String) }));
  // Still due at creation + delay (its check time unchanged): the next pass reads on.
  expect((await entry('wsbig'))!.gsi3sk).toBe(`${new Date(Date.parse(created) + DELAY * 1000).toISOString()}#debusine/wsbig`);
  expect((await runExpiryPass(deps, store, slices)).workspaces.waiting.map((w) => w.why)).toEqual(['looked at 4 of its work requests so far, none unfinished: the next pass reads on']);
  const reports: ExpiryReport[] = [];
  while ((await deps.identity.getWorkspace('debusine', 'wsbig')) && reports.length < 8) reports.push(await runExpiryPass(deps, store, slices));
  expect(reports.flatMap((r) => r.workspaces.waiting)).toEqual([]);
  expect(reports.flatMap((r) => r.workspaces.contents.flatMap((c) => c.workRequests)).sort()).toEqual([9101, 9102, 9103, 9104, 9105]);
  expect(await partition('wsbig')).toEqual([]);
}, 120_000);
