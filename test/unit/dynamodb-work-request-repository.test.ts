/**
 * DynamoWorkRequestRepository with a mocked document client: the index keys derived from each
 * state, the exact transactions commit sends, and how cancellation reasons become ConflictErrors.
 */
import 'aws-sdk-client-mock-jest';
import { ConditionalCheckFailedException, DynamoDBClient, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import {
  DynamoWorkRequestRepository,
  priorityKey,
  workRequestIndexes,
  workRequestItem,
  toWorkRequest,
  type WorkRequestIndexAttributes,
} from '../../shared/adapters/dynamodb/work-request-repository';
import { ConflictError, ValidationError } from '../../shared/domain/errors';
import { newWorkRequest, type WorkRequest } from '../../shared/domain/work-requests';

const ddb = mockClient(DynamoDBDocumentClient);
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } }));
const repo = new DynamoWorkRequestRepository(doc, 'main');

beforeEach(() => ddb.reset());

const CREATED = '2026-11-22T10:00:00.000Z';

function wr(overrides: Partial<WorkRequest> = {}): WorkRequest {
  return newWorkRequest({
    id: 42,
    scope: 'debusine',
    workspace: 'System',
    createdBy: 'user:alice',
    taskType: 'Worker',
    taskName: 'noop',
    taskData: { result: true },
    hostArchitecture: 'amd64',
    createdAt: CREATED,
    priorityBase: 10,
    priorityAdjustment: 5,
    ...overrides,
  });
}

const cancelled = (...reasons: { Code: string; Item?: Record<string, unknown> }[]) =>
  new TransactionCanceledException({ message: 'Transaction cancelled', $metadata: {}, CancellationReasons: reasons as never });

const ID16 = '0000000000000042'; // 42 % 4 = shard 2
const LISTING = { gsi4pk: 'WRS#debusine', gsi4sk: `${CREATED}#${ID16}` };

describe('workRequestIndexes: index keys derived from the state', () => {
  const cases: [string, Partial<WorkRequest>, WorkRequestIndexAttributes][] = [
    ['blocked: listing only', { status: 'blocked' }, LISTING],
    [
      'pending unassigned Worker: its scheduling partition, by priority then age',
      {},
      { ...LISTING, gsi3pk: 'PENDING#Worker#amd64#2', gsi3sk: `0999999985#${CREATED}#${ID16}` },
    ],
    [
      'pending unassigned, no architecture, negative priority',
      { taskType: 'Server', hostArchitecture: null, priorityBase: -100, priorityAdjustment: 0 },
      { ...LISTING, gsi3pk: 'PENDING#Server#-#2', gsi3sk: `1000000100#${CREATED}#${ID16}` },
    ],
    ['pending Signing', { taskType: 'Signing', id: 7 }, expectFor(7, { gsi3pk: 'PENDING#Signing#amd64#3', gsi3sk: `0999999985#${CREATED}#0000000000000007` })],
    ['pending Internal', { taskType: 'Internal', id: 8, hostArchitecture: null }, expectFor(8, { gsi3pk: 'PENDING#Internal#-#0', gsi3sk: `0999999985#${CREATED}#0000000000000008` })],
    ['pending Wait', { taskType: 'Wait', id: 9, hostArchitecture: null }, expectFor(9, { gsi3pk: 'PENDING#Wait#-#1', gsi3sk: `0999999985#${CREATED}#0000000000000009` })],
    [
      'pending root Workflow: its partition, for the scheduler to start',
      { taskType: 'Workflow', hostArchitecture: null },
      { ...LISTING, gsi3pk: 'PENDING#Workflow#-#2', gsi3sk: `0999999985#${CREATED}#${ID16}` },
    ],
    ['pending sub-workflow: listing only (its parent orchestrates it inline)', { taskType: 'Workflow', hostArchitecture: null, parent: 30 }, LISTING],
    [
      'running Workflow: the running-workflows index, by start (for the reconcile sweep)',
      { taskType: 'Workflow', hostArchitecture: null, status: 'running', startedAt: '2026-11-22T10:05:00.000Z' },
      { ...LISTING, gsi3pk: 'WFRUNNING#2', gsi3sk: `2026-11-22T10:05:00.000Z#${ID16}` },
    ],
    [
      'pending assigned: out of the pending index, no per-worker entry (its worker\'s slot holder finds it)',
      { worker: 'bee', assignedAt: CREATED },
      LISTING,
    ],
    [
      'running Worker with a heartbeat: in RUNNING by heartbeat',
      { status: 'running', worker: 'bee', startedAt: '2026-11-22T10:01:00.000Z', heartbeatAt: '2026-11-22T10:05:00.000Z' },
      { ...LISTING, gsi3pk: 'RUNNING#2', gsi3sk: `2026-11-22T10:05:00.000Z#${ID16}` },
    ],
    [
      'running Worker without heartbeat: RUNNING by start',
      { status: 'running', worker: 'bee', startedAt: '2026-11-22T10:01:00.000Z' },
      { ...LISTING, gsi3pk: 'RUNNING#2', gsi3sk: `2026-11-22T10:01:00.000Z#${ID16}` },
    ],
    [
      'running Wait/delay: WAIT by normalised delay_until',
      { status: 'running', taskType: 'Wait', taskName: 'delay', taskData: { delay_until: '2026-11-22T12:00:00+01:00' }, startedAt: CREATED },
      { ...LISTING, gsi3pk: 'WAIT#2', gsi3sk: `2026-11-22T11:00:00.000Z#${ID16}` },
    ],
    ['running Wait without delay_until (externaldebsign)', { status: 'running', taskType: 'Wait', taskName: 'externaldebsign', taskData: {} }, LISTING],
    ['running Wait with a bad delay_until', { status: 'running', taskType: 'Wait', taskData: { delay_until: 'soon' } }, LISTING],
    ['running Server with a worker: listing only', { status: 'running', taskType: 'Server', worker: 'celery' }, LISTING],
    // A finished root carries its work-request expiry entry (first checked at its completion, else its creation).
    [
      'completed root (worker kept for the record): listing and expiry entry',
      { status: 'completed', result: 'success', worker: 'bee', completedAt: '2026-11-22T10:09:00.000Z' },
      { ...LISTING, gsi3pk: 'WREXP#2', gsi3sk: `2026-11-22T10:09:00.000Z#${ID16}` },
    ],
    ['aborted root: listing and expiry entry', { status: 'aborted', worker: 'bee' }, { ...LISTING, gsi3pk: 'WREXP#2', gsi3sk: `${CREATED}#${ID16}` }],
    ['completed child: listing only', { status: 'completed', result: 'success', parent: 7 }, LISTING],
  ];
  test.each(cases)('%s', (_name, state, expected) => {
    expect(workRequestIndexes(wr(state))).toEqual(expected);
  });

  function expectFor(id: number, gsi3: { gsi3pk: string; gsi3sk: string }): WorkRequestIndexAttributes {
    return { gsi4pk: 'WRS#debusine', gsi4sk: `${CREATED}#${String(id).padStart(16, '0')}`, ...gsi3 };
  }

  test('priority keys sort highest priority first', () => {
    const keys = [1_000_000, 5, 0, -3, -1_000_000, 2_000_000, -2_000_000].map((p) => [p, priorityKey(p)] as const);
    const sorted = [...keys].sort((a, b) => (a[1] < b[1] ? -1 : 1)).map(([p]) => p);
    expect(sorted).toEqual([2_000_000, 1_000_000, 5, 0, -3, -1_000_000, -2_000_000]);
    for (const [, k] of keys) expect(k).toHaveLength(10);
  });

  test('a priority that does not fit the key is refused', () => {
    expect(() => priorityKey(1_000_000_000)).toThrow(ValidationError);
    expect(() => priorityKey(1.5)).toThrow(ValidationError);
  });

  test('an architecture that would be ambiguous in the key is refused', () => {
    expect(() => workRequestIndexes(wr({ hostArchitecture: '-' }))).toThrow(ValidationError);
    expect(() => workRequestIndexes(wr({ hostArchitecture: 'a#b' }))).toThrow(ValidationError);
  });
});

describe('commit', () => {
  test('an assignment is one transaction: the request at version+1 conditioned on the version read, and slot +1 on the worker', async () => {
    ddb.on(TransactWriteCommand).resolves({});
    const assigned = wr({ worker: 'bee', assignedAt: '2026-11-22T10:02:00.000Z', version: 4 });
    await repo.commit({ update: [{ workRequest: assigned, expectedVersion: 3 }], slots: [{ worker: 'bee', delta: 1 }] });

    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
    const items = ddb.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems!;
    expect(items).toEqual([
      {
        Put: {
          TableName: 'main',
          Item: workRequestItem(assigned, 4),
          ConditionExpression: 'attribute_exists(#pk) AND #version = :expected',
          ExpressionAttributeNames: { '#pk': 'pk', '#version': 'version' },
          ExpressionAttributeValues: { ':expected': 3 },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      },
      {
        Update: {
          TableName: 'main',
          Key: { pk: 'WORKER#bee', sk: 'K' },
          UpdateExpression: 'SET #assigned = #assigned + :one',
          ConditionExpression: 'attribute_exists(#pk) AND #enabled = :true AND #assigned < #concurrency',
          ExpressionAttributeNames: { '#pk': 'pk', '#assigned': 'assigned', '#enabled': 'enabled', '#concurrency': 'concurrency' },
          ExpressionAttributeValues: { ':one': 1, ':true': true },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      },
    ]);
    // The whole item: out of the pending index (no gsi3 attributes), and no per-worker index entry (the slot's holder names it).
    const item = (items[0]!.Put!.Item ?? {}) as Record<string, unknown>;
    expect(item).toMatchObject({ pk: 'WR#42', sk: 'W', version: 4, worker: 'bee' });
    expect(item).not.toHaveProperty('gsi2pk');
    expect(item).not.toHaveProperty('gsi2sk');
    expect(item).not.toHaveProperty('gsi3pk');
    expect(item).not.toHaveProperty('gsi3sk');
  });

  test('the stored version is expected + 1, whatever the passed request says', async () => {
    ddb.on(PutCommand).resolves({});
    await repo.commit({ update: [{ workRequest: wr({ version: 99 }), expectedVersion: 3 }] });
    // One item: a plain conditional PutItem, at half the write units of a transaction.
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(0);
    const put = ddb.commandCalls(PutCommand)[0]!.args[0].input;
    expect(put.ConditionExpression).toBe('attribute_exists(#pk) AND #version = :expected');
    expect(put.Item!.version).toBe(4);
  });

  test('creates are conditioned on attribute_not_exists and store every field (JSON for free-form objects, nulls omitted)', async () => {
    ddb.on(TransactWriteCommand).resolves({});
    const created = wr({ taskData: { big: 12345678901234567890, nested: { a: [1, null] } }, dependencies: [40, 41], parent: 30 });
    await repo.commit({ create: [created] });
    const put = ddb.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems![0]!.Put!;
    expect(put.ConditionExpression).toBe('attribute_not_exists(#pk)');
    expect(put.ExpressionAttributeNames).toEqual({ '#pk': 'pk' });
    expect(put.Item).toEqual({
      pk: 'WR#42',
      sk: 'W',
      entity: 'workRequest',
      id: 42,
      scope: 'debusine',
      workspace: 'System',
      createdBy: 'user:alice',
      taskType: 'Worker',
      taskName: 'noop',
      taskDataJson: JSON.stringify(created.taskData),
      hostArchitecture: 'amd64',
      dynamicTaskDataJson: 'null',
      status: 'pending',
      result: '',
      createdAt: CREATED,
      priorityBase: 10,
      priorityAdjustment: 5,
      parent: 30,
      dependencies: [40, 41],
      unblockStrategy: 'deps',
      eventReactionsJson: '{}',
      workflowDataJson: '{}',
      outputDataJson: 'null',
      retryCount: 0,
      logtail: [],
      outputArtifacts: [],
      version: 1,
      gsi4pk: 'WRS#debusine',
      gsi4sk: `${CREATED}#${ID16}`,
      gsi3pk: 'PENDING#Worker#amd64#2',
      gsi3sk: `0999999985#${CREATED}#${ID16}`,
    });
  });

  test('slot -1 refuses to go below zero; reverse dependencies are Put and Delete in the dependency partition', async () => {
    ddb.on(TransactWriteCommand).resolves({});
    await repo.commit({
      slots: [{ worker: 'bee', delta: -1 }],
      addReverseDependencies: [{ dependency: 5, dependent: 42 }],
      removeReverseDependencies: [{ dependency: 6, dependent: 42 }],
    });
    const items = ddb.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems!;
    expect(items).toEqual([
      {
        Update: {
          TableName: 'main',
          Key: { pk: 'WORKER#bee', sk: 'K' },
          // A slot given back puts the worker (back) in the free-slot index.
          UpdateExpression: 'SET #assigned = #assigned - :one, #gsi3pk = :freePk, #gsi3sk = :freeSk',
          ConditionExpression: 'attribute_exists(#pk) AND #assigned > :zero',
          ExpressionAttributeNames: { '#pk': 'pk', '#assigned': 'assigned', '#gsi3pk': 'gsi3pk', '#gsi3sk': 'gsi3sk' },
          ExpressionAttributeValues: { ':one': 1, ':zero': 0, ':freePk': 'FREESLOTS#0', ':freeSk': 'bee' },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      },
      {
        Put: {
          TableName: 'main',
          Item: { pk: 'WR#5', sk: `RDEP#${ID16}`, entity: 'reverseDependency', dependency: 5, dependent: 42 },
        },
      },
      { Delete: { TableName: 'main', Key: { pk: 'WR#6', sk: `RDEP#${ID16}` } } },
    ]);
  });

  test('slot +1 that fills the last slot as read also leaves the free-slot index, on condition the worker is that full', async () => {
    ddb.on(TransactWriteCommand).resolves({});
    await repo.commit({ slots: [{ worker: 'bee', delta: 1, seen: { assigned: 1, concurrency: 2 } }, { worker: 'ant', delta: 1, seen: { assigned: 0, concurrency: 2 } }] });
    const [fills, leaves] = ddb.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems!;
    expect(fills!.Update).toMatchObject({
      UpdateExpression: 'SET #assigned = #assigned + :one REMOVE #gsi3pk, #gsi3sk',
      ConditionExpression: 'attribute_exists(#pk) AND #enabled = :true AND #assigned < #concurrency AND #assigned >= :seenAssigned AND #concurrency <= :seenConcurrency',
      ExpressionAttributeValues: { ':one': 1, ':true': true, ':seenAssigned': 1, ':seenConcurrency': 2 },
    });
    expect(leaves!.Update).toMatchObject({
      UpdateExpression: 'SET #assigned = #assigned + :one',
      ConditionExpression: 'attribute_exists(#pk) AND #enabled = :true AND #assigned < #concurrency',
    });
  });

  test('an empty change set sends nothing', async () => {
    await repo.commit({});
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 0);
  });

  test('more than 100 items is refused without writing (never split: it must stay atomic)', async () => {
    const creates = Array.from({ length: 101 }, (_, i) => wr({ id: 1000 + i }));
    await expect(repo.commit({ create: creates })).rejects.toThrow(/100/);
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 0);
    ddb.on(TransactWriteCommand).resolves({});
    await repo.commit({ create: creates.slice(0, 100) });
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
  });

  test('a created child gets its link in the parent partition, in the same transaction; a root gets none', async () => {
    ddb.on(TransactWriteCommand).resolves({});
    const child = wr({ id: 42, parent: 30, status: 'blocked' });
    const root = wr({ id: 30, taskType: 'Workflow', hostArchitecture: null });
    await repo.commit({ create: [root, child] });
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
    const items = ddb.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems!;
    expect(items).toHaveLength(4);
    expect(items.map((i) => (i.Put?.Item as { pk: string; sk: string }) && [i.Put!.Item!.pk, i.Put!.Item!.sk])).toEqual([
      ['WR#30', 'W'],
      ['WR#42', 'W'],
      ['WR#30', `CHILD#${ID16}`],
      undefined,
    ]);
    expect(items[2]).toEqual({
      Put: { TableName: 'main', Item: { pk: 'WR#30', sk: `CHILD#${ID16}`, entity: 'workflowChild', parent: 30, child: 42 } },
    });
    // The workflow's child progress counts the new child in the same transaction.
    expect(items[3]!.Update).toMatchObject({
      Key: { pk: 'WR#30', sk: 'PROGRESS' },
      UpdateExpression: 'SET #entity = :entity ADD #created :created, #finished :finished, #unsuccessful :unsuccessful',
      ExpressionAttributeValues: { ':entity': 'childProgress', ':created': 1, ':finished': 0, ':unsuccessful': 0 },
    });
    expect(items[3]!.Update!.ConditionExpression).toBeUndefined();
  });

  test("a child's finish counts in its workflow's progress (unsuccessful unless success or skipped); other updates do not", async () => {
    ddb.on(TransactWriteCommand).resolves({});
    await repo.commit({
      update: [
        { workRequest: wr({ id: 51, parent: 7, status: 'completed', result: 'success' }), expectedVersion: 1, finishes: true },
        { workRequest: wr({ id: 52, parent: 7, status: 'aborted', result: '' }), expectedVersion: 1, finishes: true },
        { workRequest: wr({ id: 53, parent: 7, status: 'completed', result: 'success' }), expectedVersion: 1 },
        { workRequest: wr({ id: 54, parent: 8, status: 'completed', result: 'failure' }), expectedVersion: 1, finishes: true },
      ],
    });
    const updates = ddb.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems!.flatMap((i) => (i.Update ? [i.Update] : []));
    expect(updates.map((u) => [u.Key, u.ExpressionAttributeValues])).toEqual([
      [{ pk: 'WR#7', sk: 'PROGRESS' }, { ':entity': 'childProgress', ':created': 0, ':finished': 2, ':unsuccessful': 1 }],
      [{ pk: 'WR#8', sk: 'PROGRESS' }, { ':entity': 'childProgress', ':created': 0, ':finished': 1, ':unsuccessful': 1 }],
    ]);
  });

  test('an update never writes a child link (the link is made once, at creation)', async () => {
    ddb.on(PutCommand).resolves({});
    await repo.commit({ update: [{ workRequest: wr({ parent: 30 }), expectedVersion: 1 }] });
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(0);
    expect(ddb.commandCalls(PutCommand)).toHaveLength(1);
  });

  test('child links and the progress count toward the 100 items: 49 children fit, 50 do not', async () => {
    ddb.on(TransactWriteCommand).resolves({});
    const children = Array.from({ length: 50 }, (_, i) => wr({ id: 1000 + i, parent: 7 }));
    await expect(repo.commit({ create: children })).rejects.toThrow(/101 items exceed/);
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 0);
    await repo.commit({ create: children.slice(0, 49) });
    expect(ddb.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems).toHaveLength(99);
  });

  test("a root workflow's run and internal collection are stored (as a map and a number) and read back", async () => {
    ddb.on(PutCommand).resolves({});
    const root = wr({ taskType: 'Workflow', hostArchitecture: null, run: { name: 'nightly', major: 3, minor: 2, status: 'running' }, internalCollection: 77 });
    await repo.commit({ create: [root] });
    const item = ddb.commandCalls(PutCommand)[0]!.args[0].input.Item!;
    expect(item.run).toEqual({ name: 'nightly', major: 3, minor: 2, status: 'running' });
    expect(item.internalCollection).toBe(77);
    ddb.on(GetCommand).resolves({ Item: item });
    expect(await repo.get(42)).toEqual(root);
  });

  test('null run and internal collection are not stored, and read back as null', () => {
    const item = workRequestItem(wr(), 1);
    expect(item).not.toHaveProperty('run');
    expect(item).not.toHaveProperty('internalCollection');
    expect(toWorkRequest(item)).toMatchObject({ run: null, internalCollection: null });
  });

  test('a stored run with an unknown status is refused rather than passed on', () => {
    const item = { ...workRequestItem(wr(), 1), run: { name: 'x', major: 1, minor: 0, status: 'exploded' } };
    expect(() => toWorkRequest(item)).toThrow(/unknown run status/);
  });

  test('the same item twice in one commit is refused before writing', async () => {
    await expect(repo.commit({ create: [wr()], update: [{ workRequest: wr(), expectedVersion: 1 }] })).rejects.toThrow(/twice/);
    await expect(
      repo.commit({
        slots: [
          { worker: 'bee', delta: 1 },
          { worker: 'bee', delta: -1 },
        ],
      }),
    ).rejects.toThrow(/twice/);
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 0);
  });

  describe('cancellation reasons become a ConflictError naming the failed item', () => {
    const assignment = () =>
      repo.commit({
        update: [{ workRequest: wr({ worker: 'bee' }), expectedVersion: 3 }],
        slots: [{ worker: 'bee', delta: 1 }],
      });

    test('the request moved', async () => {
      ddb.on(TransactWriteCommand).rejects(cancelled({ Code: 'ConditionalCheckFailed', Item: { version: { N: '5' } } }, { Code: 'None' }));
      const err = await assignment().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConflictError);
      expect((err as ConflictError).detail).toBe('work request 42: expected version 3, found 5; reload and try again');
    });

    test('the request does not exist', async () => {
      ddb.on(TransactWriteCommand).rejects(cancelled({ Code: 'ConditionalCheckFailed' }, { Code: 'None' }));
      await expect(assignment()).rejects.toThrow('work request 42 does not exist');
    });

    test('the worker is at capacity', async () => {
      ddb.on(TransactWriteCommand).rejects(
        cancelled(
          { Code: 'None' },
          { Code: 'ConditionalCheckFailed', Item: { enabled: { BOOL: true }, assigned: { N: '2' }, concurrency: { N: '2' } } },
        ),
      );
      const err = await assignment().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConflictError);
      expect((err as ConflictError).title).toBe('Worker at capacity');
      expect((err as ConflictError).detail).toBe('worker "bee" has no free slot (2 of 2 in use)');
    });

    test('the worker is disabled, or gone', async () => {
      ddb.on(TransactWriteCommand).rejects(
        cancelled({ Code: 'None' }, { Code: 'ConditionalCheckFailed', Item: { enabled: { BOOL: false }, assigned: { N: '0' }, concurrency: { N: '2' } } }),
      );
      await expect(assignment()).rejects.toThrow('worker "bee" is disabled');
      ddb.reset();
      ddb.on(TransactWriteCommand).rejects(cancelled({ Code: 'None' }, { Code: 'ConditionalCheckFailed' }));
      await expect(assignment()).rejects.toThrow('worker "bee" does not exist');
    });

    test('slot -1 on a worker holding none', async () => {
      ddb.on(TransactWriteCommand).rejects(cancelled({ Code: 'ConditionalCheckFailed', Item: { assigned: { N: '0' } } }));
      await expect(repo.commit({ slots: [{ worker: 'bee', delta: -1 }] })).rejects.toThrow('worker "bee" has no slot in use to give back');
    });

    test('a create whose id exists', async () => {
      ddb.on(PutCommand).rejects(new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} }));
      await expect(repo.commit({ create: [wr()] })).rejects.toThrow('work request 42 already exists');
    });

    test('a collision with another transaction is retried, then succeeds', async () => {
      ddb
        .on(TransactWriteCommand)
        .rejectsOnce(cancelled({ Code: 'TransactionConflict' }, { Code: 'None' }))
        .resolves({});
      await assignment();
      expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 2);
    });
  });
});

describe('applyHeartbeat', () => {
  test('sets heartbeat, logtail and RUNNING position, only if running on that worker and newer; no version bump', async () => {
    ddb.on(UpdateCommand).resolves({});
    const applied = await repo.applyHeartbeat({ workRequestId: 42, worker: 'bee', at: '2026-11-22T11:00:00+01:00', logtail: ['line 1', 'line 2'] });
    expect(applied).toBe(true);
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: 'main',
      Key: { pk: 'WR#42', sk: 'W' },
      UpdateExpression: 'SET #heartbeatAt = :at, #logtail = :logtail, #gsi3sk = :sk',
      ConditionExpression: '#status = :running AND #worker = :worker AND (attribute_not_exists(#heartbeatAt) OR #heartbeatAt < :at)',
      ExpressionAttributeNames: { '#heartbeatAt': 'heartbeatAt', '#logtail': 'logtail', '#gsi3sk': 'gsi3sk', '#status': 'status', '#worker': 'worker' },
      ExpressionAttributeValues: {
        ':at': '2026-11-22T10:00:00.000Z',
        ':logtail': ['line 1', 'line 2'],
        ':sk': `2026-11-22T10:00:00.000Z#${ID16}`,
        ':running': 'running',
        ':worker': 'bee',
      },
    });
    const input = ddb.commandCalls(UpdateCommand)[0]!.args[0].input;
    expect(input.UpdateExpression).not.toMatch(/version/);
  });

  test('a failed condition is "not applied"', async () => {
    ddb.on(UpdateCommand).rejects(new ConditionalCheckFailedException({ message: 'failed', $metadata: {} }));
    await expect(repo.applyHeartbeat({ workRequestId: 42, worker: 'bee', at: CREATED, logtail: [] })).resolves.toBe(false);
  });
});

describe('reads', () => {
  test('get is a consistent GetItem', async () => {
    ddb.on(GetCommand).resolves({ Item: workRequestItem(wr(), 1) });
    expect(await repo.get(42)).toEqual(wr());
    expect(ddb).toHaveReceivedCommandWith(GetCommand, { TableName: 'main', Key: { pk: 'WR#42', sk: 'W' }, ConsistentRead: true });
  });

  test('getMany retries unprocessed keys and answers in the order asked, skipping missing ones', async () => {
    ddb
      .on(BatchGetCommand)
      .resolvesOnce({
        Responses: { main: [workRequestItem(wr({ id: 3 }), 1)] },
        UnprocessedKeys: { main: { Keys: [{ pk: 'WR#1', sk: 'W' }] } },
      })
      .resolvesOnce({ Responses: { main: [workRequestItem(wr({ id: 1 }), 1)] } });
    const found = await repo.getMany([3, 2, 1]);
    expect(found.map((w) => w.id)).toEqual([3, 1]);
    const calls = ddb.commandCalls(BatchGetCommand);
    expect(calls).toHaveLength(2);
    expect(calls[0]!.args[0].input.RequestItems!.main).toEqual({
      Keys: [
        { pk: 'WR#3', sk: 'W' },
        { pk: 'WR#2', sk: 'W' },
        { pk: 'WR#1', sk: 'W' },
      ],
      ConsistentRead: true,
    });
    expect(calls[1]!.args[0].input.RequestItems!.main!.Keys).toEqual([{ pk: 'WR#1', sk: 'W' }]);
  });

  test("children: a consistent Query of the parent's CHILD# links (paged), then a consistent BatchGet, by id", async () => {
    ddb
      .on(QueryCommand)
      .resolvesOnce({
        Items: [{ pk: 'WR#30', sk: 'CHILD#0000000000000033', entity: 'workflowChild', parent: 30, child: 33 }],
        LastEvaluatedKey: { pk: 'WR#30', sk: 'CHILD#0000000000000033' },
      })
      .resolvesOnce({ Items: [{ pk: 'WR#30', sk: 'CHILD#0000000000000031', entity: 'workflowChild', parent: 30, child: 31 }] });
    ddb.on(BatchGetCommand).resolves({
      Responses: { main: [workRequestItem(wr({ id: 33, parent: 30, supersedes: 31 }), 1), workRequestItem(wr({ id: 31, parent: 30, supersededBy: 33 }), 1)] },
    });
    const found = await repo.children(30);
    expect(found.map((c) => c.id)).toEqual([31, 33]);
    const queries = ddb.commandCalls(QueryCommand).map((c) => c.args[0].input);
    expect(queries).toHaveLength(2);
    expect(queries[0]).toEqual({
      TableName: 'main',
      KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :sk)',
      ExpressionAttributeNames: { '#pk': 'pk', '#sk': 'sk' },
      ExpressionAttributeValues: { ':pk': 'WR#30', ':sk': 'CHILD#' },
      ConsistentRead: true,
    });
    expect(queries[1]!.ExclusiveStartKey).toEqual({ pk: 'WR#30', sk: 'CHILD#0000000000000033' });
    expect(ddb.commandCalls(BatchGetCommand)[0]!.args[0].input.RequestItems!.main).toEqual({
      Keys: [
        { pk: 'WR#31', sk: 'W' },
        { pk: 'WR#33', sk: 'W' },
      ],
      ConsistentRead: true,
    });
  });

  test('children of a request without any: one Query, no BatchGet', async () => {
    ddb.on(QueryCommand).resolves({ Items: [] });
    expect(await repo.children(5)).toEqual([]);
    expect(ddb).toHaveReceivedCommandTimes(BatchGetCommand, 0);
  });

  test('pendingCandidates queries the four shards and merges them by sort key', async () => {
    const byShard: Record<string, WorkRequest[]> = {
      'PENDING#Worker#amd64#0': [wr({ id: 8, priorityBase: 1 }), wr({ id: 4, priorityBase: 0 })],
      'PENDING#Worker#amd64#1': [wr({ id: 1, priorityBase: 5 })],
      'PENDING#Worker#amd64#2': [],
      'PENDING#Worker#amd64#3': [wr({ id: 3, priorityBase: 1, createdAt: '2026-11-22T09:00:00.000Z' })],
    };
    ddb.on(QueryCommand).callsFake((input: { ExpressionAttributeValues: { ':pk': string } }) => ({
      Items: (byShard[input.ExpressionAttributeValues[':pk']] ?? []).map((w) => workRequestItem({ ...w, priorityAdjustment: 0 }, 1)),
    }));
    const found = await repo.pendingCandidates('Worker', 'amd64', 3);
    expect(found.map((w) => w.id)).toEqual([1, 3, 8]);
    const calls = ddb.commandCalls(QueryCommand).map((c) => c.args[0].input);
    expect(calls).toHaveLength(4);
    for (const input of calls) expect(input).toMatchObject({ IndexName: 'gsi3', KeyConditionExpression: '#gsi3pk = :pk', Limit: 3, ScanIndexForward: true });
  });

  test('staleRunning and dueWaits bound the sort key', async () => {
    ddb.on(QueryCommand).resolves({ Items: [] });
    await repo.staleRunning('2026-11-22T10:00:00.000Z', 10);
    await repo.dueWaits('2026-11-22T10:00:00.000Z', 10);
    const calls = ddb.commandCalls(QueryCommand).map((c) => c.args[0].input);
    expect(calls[0]).toMatchObject({
      KeyConditionExpression: '#gsi3pk = :pk AND #gsi3sk < :bound',
      ExpressionAttributeValues: { ':pk': 'RUNNING#0', ':bound': '2026-11-22T10:00:00.000Z' },
    });
    expect(calls[4]).toMatchObject({
      KeyConditionExpression: '#gsi3pk = :pk AND #gsi3sk <= :bound',
      ExpressionAttributeValues: { ':pk': 'WAIT#0', ':bound': '2026-11-22T10:00:00.000Z~' },
    });
  });

  test('list queries gsi4 with workspace and task name as FilterExpressions (status is checked on the fetched items) and refuses foreign, legacy or malformed cursors', async () => {
    ddb.on(GetCommand).resolves({ Item: { pk: 'SCHEMA', sk: 'CURRENT', revision: '0004_work_request_listing_index' } });
    ddb.on(QueryCommand).resolves({ Items: [] });
    await repo.list({ scope: 'debusine', workspace: 'System', status: 'pending', taskName: 'noop', limit: 5 });
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
      IndexName: 'gsi4',
      KeyConditionExpression: '#gsi4pk = :pk',
      FilterExpression: '#workspace = :workspace AND #taskName = :taskName',
      ExpressionAttributeValues: { ':pk': 'WRS#debusine', ':workspace': 'System', ':taskName': 'noop' },
      ScanIndexForward: false,
    });
    // The schema is at 0004: no gsi1 query.
    expect(ddb.commandCalls(QueryCommand).map((c) => c.args[0].input.IndexName)).toEqual(['gsi4']);
    await expect(repo.list({ scope: 'debusine', limit: 5, cursor: 'not a cursor!' })).rejects.toThrow(ValidationError);
    const foreign = Buffer.from(JSON.stringify({ pk: 'WR#1', sk: 'W', gsi4pk: 'WRS#other', gsi4sk: 'x' })).toString('base64url');
    await expect(repo.list({ scope: 'debusine', limit: 5, cursor: foreign })).rejects.toThrow('does not belong to this listing');
    const legacy = Buffer.from(JSON.stringify({ pk: 'WR#1', sk: 'W', gsi1pk: 'WRS#debusine', gsi1sk: 'x' })).toString('base64url');
    await expect(repo.list({ scope: 'debusine', limit: 5, cursor: legacy })).rejects.toThrow('does not belong to this listing');
  });

  test('reverse dependencies: a consistent Query of the dependency partition unless asked not to (a guess confirmed later)', async () => {
    ddb.on(QueryCommand).resolves({ Items: [{ dependent: 7 }, { dependent: 9 }] });
    expect(await repo.reverseDependencies(42)).toEqual([7, 9]);
    expect(await repo.reverseDependencies(42, { consistent: false })).toEqual([7, 9]);
    const sent = ddb.commandCalls(QueryCommand).map((c) => c.args[0].input);
    expect(sent.map((q) => [q.ExpressionAttributeValues?.[':pk'], q.ExpressionAttributeValues?.[':sk'], q.ConsistentRead])).toEqual([
      ['WR#42', 'RDEP#', true],
      ['WR#42', 'RDEP#', false],
    ]);
  });
});
