/**
 * The work-request listing on its own index (gsi4, projecting `workspace` and `taskName` only) and
 * schema revision 0004 that moves legacy entries (gsi1 `WRS#`) there, on DynamoDB Local. Its own
 * tables (prefix `listing-it`): the listing reads gsi1 too while the table's schema revision is
 * before 0004, and the tests set that revision.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { randomBytes, randomUUID } from 'node:crypto';
import { provision } from '../../cli/dev/provision';
import { DynamoSchemaStore } from '../../shared/adapters/dynamodb/accounts-repository';
import { DynamoWorkRequestRepository, workRequestItem } from '../../shared/adapters/dynamodb/work-request-repository';
import { keys } from '../../shared/adapters/dynamodb/keys';
import { LISTING_INDEX_REVISION, STATUS_ROUNDS } from '../../shared/adapters/dynamodb/work-request-listing';
import { createMemoryDeps, type MemoryDeps } from '../../shared/adapters/memory';
import { currentRevision, MIGRATIONS, upgradeSchema } from '../../shared/app/migrations';
import { newWorkRequest, type WorkRequest, type WorkRequestStatus } from '../../shared/domain/work-requests';

let doc: DynamoDBDocumentClient;
let table: string;
let requests: DynamoWorkRequestRepository;
let deps: MemoryDeps;
let schema: DynamoSchemaStore;
let nextId = 1000;

beforeAll(async () => {
  const env = await provision(
    { dynamodb: process.env.AWS_ENDPOINT_URL_DYNAMODB!, s3: process.env.AWS_ENDPOINT_URL_S3!, sqs: process.env.AWS_ENDPOINT_URL_SQS! },
    { namePrefix: `listing-it-${randomBytes(3).toString('hex')}` },
  );
  table = env.CONVEYOR_TABLE_MAIN!;
  doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
  requests = new DynamoWorkRequestRepository(doc, table);
  deps = createMemoryDeps();
  schema = new DynamoSchemaStore(doc, table);
  Object.assign(deps, { workRequests: requests, schema });
}, 120_000);

afterAll(() => doc?.destroy());

const scope = `s-${randomUUID().slice(0, 8)}`;
const at = (m: number) => `2026-11-22T11:${String(m).padStart(2, '0')}:00.000Z`;

function wrOf(m: number, overrides: Partial<WorkRequest> = {}): WorkRequest {
  const fields = { scope, workspace: 'System', createdBy: 'user:alice', taskType: 'Worker' as const, taskName: 'noop', taskData: {}, hostArchitecture: 'amd64' };
  return newWorkRequest({ id: ++nextId, ...fields, createdAt: at(m), ...overrides });
}

async function raw(id: number) {
  return (await doc.send(new GetCommand({ TableName: table, Key: keys.workRequest(id), ConsistentRead: true }))).Item;
}

/** An item as code before revision 0004 wrote it: its listing entry on gsi1. */
async function legacy(wr: WorkRequest): Promise<void> {
  const { gsi4pk, gsi4sk, ...item } = workRequestItem(wr, wr.version);
  await doc.send(new PutCommand({ TableName: table, Item: { ...item, gsi1pk: gsi4pk, gsi1sk: gsi4sk } }));
}

async function allPages(filter: { workspace?: string; status?: WorkRequestStatus; taskName?: string }, limit: number) {
  const ids: number[] = [];
  const sizes: number[] = [];
  let cursor: string | undefined;
  do {
    const page = await requests.list({ scope, limit, ...filter, ...(cursor ? { cursor } : {}) });
    ids.push(...page.items.map((r) => r.id));
    sizes.push(page.items.length);
    cursor = page.next;
  } while (cursor);
  return { ids, sizes };
}

describe('the listing on gsi4, and revision 0004', () => {
  const rows: WorkRequest[] = [];
  const old: WorkRequest[] = [];

  test('a stored request carries gsi4 keys and no gsi1 listing keys, through a state change too', async () => {
    const wr = wrOf(0);
    await requests.commit({ create: [wr] });
    rows.push(wr);
    const item = await raw(wr.id);
    expect(item).toMatchObject({ gsi4pk: `WRS#${scope}`, gsi4sk: `${at(0)}#${String(wr.id).padStart(16, '0')}` });
    expect(item).not.toHaveProperty('gsi1pk');
    expect(item).not.toHaveProperty('gsi1sk');
    const started = { ...wr, status: 'running' as const, startedAt: at(1), version: wr.version + 1 };
    await requests.commit({ update: [{ workRequest: started, expectedVersion: wr.version }] });
    rows[0] = started;
    expect(await raw(wr.id)).toMatchObject({ gsi4pk: `WRS#${scope}`, gsi4sk: item!.gsi4sk, status: 'running' });
    expect(await raw(wr.id)).not.toHaveProperty('gsi1pk');
  });

  test('newest first with each filter, across pages; a status filter gives short pages with a cursor', async () => {
    for (let m = 1; m < 9; m++) {
      const wr = wrOf(m, { workspace: m % 3 === 0 ? 'other' : 'System', status: m === 8 ? 'pending' : 'blocked', taskName: m < 4 ? 'sbuild' : 'noop' });
      await requests.commit({ create: [wr] });
      rows.push(wr);
    }
    const newest = [...rows].reverse();
    const ids = (keep: (r: WorkRequest) => boolean) => newest.filter(keep).map((r) => r.id);
    expect(await allPages({}, 4)).toEqual({ ids: ids(() => true), sizes: [4, 4, 1] });
    expect((await allPages({ workspace: 'System' }, 2)).ids).toEqual(ids((r) => r.workspace === 'System'));
    expect((await allPages({ taskName: 'sbuild' }, 2)).ids).toEqual(ids((r) => r.taskName === 'sbuild'));
    // One pending request among 9 (the newest). A status-filtered call reads at most STATUS_ROUNDS rounds
    // of `limit` entries: with limit 1, the first page is full after one round, the second reads 5
    // entries and is empty but has a cursor, the third reads the last 3.
    const pending = await allPages({ status: 'pending' }, 1);
    expect(pending.ids).toEqual(ids((r) => r.status === 'pending'));
    expect(STATUS_ROUNDS).toBe(5);
    expect(pending.sizes).toEqual([1, 0, 0]);
    // A page ending on a match mid-round continues right after it.
    const blocked = await requests.list({ scope, status: 'blocked', limit: 3 });
    expect(blocked.items.map((r) => r.id)).toEqual(ids((r) => r.status === 'blocked').slice(0, 3));
    expect(blocked.next).toBeDefined();
    expect((await allPages({ status: 'blocked' }, 3)).ids).toEqual(ids((r) => r.status === 'blocked'));
    const running = await allPages({ status: 'running', workspace: 'System' }, 3);
    expect(running.ids).toEqual([rows[0]!.id]);
  });

  test('legacy items (gsi1 only) are listed before the migration, merged by creation time; the migration moves them once', async () => {
    expect(await currentRevision(deps)).toBe('base');
    old.push(wrOf(10), wrOf(4, { workspace: 'other', taskName: 'sbuild' })); // 4: between the new ones
    for (const wr of old) await legacy(wr);
    const expected = [...rows, ...old].sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : b.id - a.id)).map((r) => r.id);
    expect((await allPages({}, 3)).ids).toEqual(expected);
    expect((await allPages({ workspace: 'other' }, 1)).ids).toEqual(
      [...rows, ...old].filter((r) => r.workspace === 'other').sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1)).map((r) => r.id),
    );

    const steps = await upgradeSchema(deps, 'user:admin');
    expect(steps.map((s) => s.rev)).toEqual(MIGRATIONS.map((m) => m.rev));
    expect(steps.find((s) => s.rev === LISTING_INDEX_REVISION)?.items).toBe(2);
    for (const wr of old) {
      const item = await raw(wr.id);
      expect(item).toMatchObject({ gsi4pk: `WRS#${scope}`, version: wr.version });
      expect(item).not.toHaveProperty('gsi1pk');
    }
    expect((await allPages({}, 3)).ids).toEqual(expected);
    // Idempotent: nothing is left to move.
    expect(await schema.moveWorkRequestListing('upgrade')).toBe(0);
  });

  test('an item written by older code after the upgrade is moved by running it again; the downgrade moves entries back', async () => {
    const wr = wrOf(20);
    await legacy(wr);
    expect(await schema.moveWorkRequestListing('upgrade')).toBe(1);
    expect(await raw(wr.id)).toMatchObject({ gsi4pk: `WRS#${scope}`, version: wr.version });

    const back = await schema.moveWorkRequestListing('downgrade');
    expect(back).toBe(rows.length + old.length + 1);
    expect(await raw(wr.id)).toMatchObject({ gsi1pk: `WRS#${scope}` });
    expect(await raw(wr.id)).not.toHaveProperty('gsi4pk');
    expect(await schema.moveWorkRequestListing('downgrade')).toBe(0);
  });
});
