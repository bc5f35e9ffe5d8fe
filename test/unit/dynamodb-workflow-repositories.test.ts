/**
 * DynamoWorkflowTemplateRepository and DynamoNotificationChannelRepository with a mocked document
 * client: the exact requests, and how failed conditions become domain errors.
 */
import 'aws-sdk-client-mock-jest';
import { ConditionalCheckFailedException, DynamoDBClient, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { DynamoNotificationChannelRepository, channelItem } from '../../shared/adapters/dynamodb/notification-channel-repository';
import { DynamoWorkflowTemplateRepository, templateItem, templateKeys } from '../../shared/adapters/dynamodb/workflow-template-repository';
import { ConflictError, NotFoundError, ValidationError } from '../../shared/domain/errors';
import type { WorkflowTemplate } from '../../shared/domain/workflows';

const ddb = mockClient(DynamoDBDocumentClient);
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } }));
const repo = new DynamoWorkflowTemplateRepository(doc, 'main');
const channels = new DynamoNotificationChannelRepository(doc, 'main');

beforeEach(() => ddb.reset());

function template(overrides: Partial<WorkflowTemplate> = {}): WorkflowTemplate {
  return {
    id: 7,
    scope: 'debusine',
    workspace: 'System',
    name: 'nightly',
    taskName: 'noop',
    taskData: { architectures: ['amd64'], big: 12345678901234567890 },
    priority: -5,
    createdAt: '2026-11-22T10:00:00.000Z',
    version: 1,
    ...overrides,
  };
}

const cancelled = (...codes: string[]) =>
  new TransactionCanceledException({ message: 'cancelled', $metadata: {}, CancellationReasons: codes.map((Code) => ({ Code })) as never });

const transactItems = (n = 0) => ddb.commandCalls(TransactWriteCommand)[n]!.args[0].input.TransactItems!;

describe('workflow templates: writes', () => {
  test('create is one transaction: the template and its name item, both conditioned on not existing', async () => {
    ddb.on(TransactWriteCommand).resolves({});
    await repo.create(template());
    expect(transactItems()).toEqual([
      {
        Put: {
          TableName: 'main',
          Item: {
            pk: 'WFT#7',
            sk: 'T',
            entity: 'workflowTemplate',
            id: 7,
            scope: 'debusine',
            workspace: 'System',
            name: 'nightly',
            taskName: 'noop',
            taskDataJson: JSON.stringify(template().taskData),
            priority: -5,
            createdAt: '2026-11-22T10:00:00.000Z',
            version: 1,
          },
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { '#pk': 'pk' },
        },
      },
      {
        Put: {
          TableName: 'main',
          Item: { pk: 'WS#debusine#System', sk: 'WFTNAME#nightly', entity: 'workflowTemplateName', templateId: 7 },
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { '#pk': 'pk' },
        },
      },
    ]);
  });

  test('a taken name is a ConflictError naming the workspace and the name', async () => {
    ddb.on(TransactWriteCommand).rejects(cancelled('None', 'ConditionalCheckFailed'));
    const err = await repo.create(template()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect((err as ConflictError).message).toMatch(/workspace "System" already has a workflow template named "nightly"/);
  });

  test('a name that cannot be part of a key is refused before writing', async () => {
    await expect(repo.create(template({ name: 'a#b' }))).rejects.toThrow(ValidationError);
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 0);
  });

  test('update without a rename: one Put of the whole template at version + 1, conditioned on the version', async () => {
    ddb.on(GetCommand).resolves({ Item: templateItem(template({ version: 3 }), 3) });
    ddb.on(TransactWriteCommand).resolves({});
    await repo.update(template({ priority: 0, version: 99 }), 3);
    expect(transactItems()).toEqual([
      {
        Put: {
          TableName: 'main',
          Item: templateItem(template({ priority: 0 }), 4),
          ConditionExpression: 'attribute_exists(#pk) AND #version = :expected',
          ExpressionAttributeNames: { '#pk': 'pk', '#version': 'version' },
          ExpressionAttributeValues: { ':expected': 3 },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      },
    ]);
  });

  test('a rename moves the name item in the same transaction: release the old (if still ours), claim the new', async () => {
    ddb.on(GetCommand).resolves({ Item: templateItem(template(), 1) });
    ddb.on(TransactWriteCommand).resolves({});
    await repo.update(template({ name: 'weekly', version: 2 }), 1);
    const items = transactItems();
    expect(items).toHaveLength(3);
    expect(items[1]).toEqual({
      Delete: {
        TableName: 'main',
        Key: { pk: 'WS#debusine#System', sk: 'WFTNAME#nightly' },
        ConditionExpression: 'attribute_not_exists(#pk) OR #templateId = :id',
        ExpressionAttributeNames: { '#pk': 'pk', '#templateId': 'templateId' },
        ExpressionAttributeValues: { ':id': 7 },
      },
    });
    expect(items[2]!.Put).toMatchObject({ Item: { pk: 'WS#debusine#System', sk: 'WFTNAME#weekly', templateId: 7 }, ConditionExpression: 'attribute_not_exists(#pk)' });
  });

  test('update: a moved version is a ConflictError with both versions', async () => {
    ddb.on(GetCommand).resolves({ Item: templateItem(template(), 5) });
    ddb.on(TransactWriteCommand).rejects(
      new TransactionCanceledException({
        message: 'cancelled',
        $metadata: {},
        CancellationReasons: [{ Code: 'ConditionalCheckFailed', Item: { version: { N: '5' } } }] as never,
      }),
    );
    await expect(repo.update(template(), 4)).rejects.toThrow(/expected version 4, found 5/);
  });

  test('update: a new name that is taken is a ConflictError naming it', async () => {
    ddb.on(GetCommand).resolves({ Item: templateItem(template(), 5) });
    ddb.on(TransactWriteCommand).rejects(cancelled('None', 'None', 'ConditionalCheckFailed'));
    await expect(repo.update(template({ name: 'taken' }), 5)).rejects.toThrow(/already has a workflow template named "taken"/);
  });

  test('update: a vanished template is NotFound, a move to another workspace a ValidationError; nothing is written', async () => {
    ddb.on(GetCommand).resolves({ Item: templateItem(template(), 5) });
    await expect(repo.update(template({ workspace: 'Other' }), 5)).rejects.toThrow(ValidationError);
    ddb.on(GetCommand).resolves({});
    await expect(repo.update(template(), 5)).rejects.toThrow(NotFoundError);
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 0);
  });

  test('delete removes the template and its name item together', async () => {
    ddb.on(TransactWriteCommand).resolves({});
    await repo.delete(template());
    const items = transactItems();
    expect(items[0]).toEqual({ Delete: { TableName: 'main', Key: { pk: 'WFT#7', sk: 'T' } } });
    expect(items[1]!.Delete!.Key).toEqual({ pk: 'WS#debusine#System', sk: 'WFTNAME#nightly' });
  });
});

describe('workflow templates: reads', () => {
  test('get is a consistent GetItem and reads the template back exactly', async () => {
    ddb.on(GetCommand).resolves({ Item: templateItem(template(), 1) });
    expect(await repo.get(7)).toEqual(template());
    expect(ddb).toHaveReceivedCommandWith(GetCommand, { TableName: 'main', Key: { pk: 'WFT#7', sk: 'T' }, ConsistentRead: true });
  });

  test('getByName reads the name item, then the template (both consistent)', async () => {
    ddb.on(GetCommand).resolves({});
    ddb
      .on(GetCommand, { Key: { pk: 'WS#debusine#System', sk: 'WFTNAME#nightly' } })
      .resolves({ Item: { pk: 'WS#debusine#System', sk: 'WFTNAME#nightly', templateId: 7 } });
    ddb.on(GetCommand, { Key: { pk: 'WFT#7', sk: 'T' } }).resolves({ Item: templateItem(template(), 1) });
    expect(await repo.getByName('debusine', 'System', 'nightly')).toEqual(template());
    for (const call of ddb.commandCalls(GetCommand)) expect(call.args[0].input.ConsistentRead).toBe(true);
    expect(await repo.getByName('debusine', 'System', 'absent')).toBeUndefined();
  });

  test('list: a consistent Query of the name items of the workspace, then a consistent BatchGet; by name', async () => {
    ddb.on(QueryCommand).resolves({
      Items: [
        { pk: 'WS#debusine#System', sk: 'WFTNAME#b', templateId: 2 },
        { pk: 'WS#debusine#System', sk: 'WFTNAME#a', templateId: 9 },
      ],
    });
    ddb.on(BatchGetCommand).resolves({ Responses: { main: [templateItem(template({ id: 2, name: 'b' }), 1), templateItem(template({ id: 9, name: 'a' }), 1)] } });
    expect((await repo.list('debusine', 'System')).map((t) => t.name)).toEqual(['a', 'b']);
    expect(ddb.commandCalls(QueryCommand)[0]!.args[0].input).toEqual({
      TableName: 'main',
      KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :sk)',
      ExpressionAttributeNames: { '#pk': 'pk', '#sk': 'sk' },
      ExpressionAttributeValues: { ':pk': 'WS#debusine#System', ':sk': 'WFTNAME#' },
      ConsistentRead: true,
    });
    expect(ddb.commandCalls(BatchGetCommand)[0]!.args[0].input.RequestItems!.main).toEqual({
      Keys: [
        { pk: 'WFT#2', sk: 'T' },
        { pk: 'WFT#9', sk: 'T' },
      ],
      ConsistentRead: true,
    });
  });

  test('an empty workspace lists without a BatchGet', async () => {
    ddb.on(QueryCommand).resolves({ Items: [] });
    expect(await repo.list('debusine', 'Empty')).toEqual([]);
    expect(ddb).toHaveReceivedCommandTimes(BatchGetCommand, 0);
  });
});

describe('workflow runs', () => {
  test('run sort keys are zero-padded so that text order is numeric order', () => {
    const sk = (major: number, minor: number) => templateKeys.run('s', 'w', 'n', { major, minor }).sk;
    expect(sk(1, 2)).toBe('0000000001.0000000002');
    const order = [
      [1, 0],
      [1, 1],
      [1, 10],
      [2, 0],
      [10, 0],
    ].map(([a, b]) => sk(a!, b!));
    expect([...order].sort()).toEqual(order);
    expect(() => sk(-1, 0)).toThrow(ValidationError);
  });

  test('recordRun: a Put conditioned on the run being new or already this request', async () => {
    ddb.on(PutCommand).resolves({});
    await repo.recordRun('debusine', 'System', 'nightly', { major: 3, minor: 1 }, 42);
    expect(ddb.commandCalls(PutCommand)[0]!.args[0].input).toEqual({
      TableName: 'main',
      Item: {
        pk: 'RUN#debusine#System#nightly',
        sk: '0000000003.0000000001',
        entity: 'workflowRun',
        scope: 'debusine',
        workspace: 'System',
        name: 'nightly',
        major: 3,
        minor: 1,
        workRequestId: 42,
      },
      ConditionExpression: 'attribute_not_exists(#pk) OR #workRequestId = :id',
      ExpressionAttributeNames: { '#pk': 'pk', '#workRequestId': 'workRequestId' },
      ExpressionAttributeValues: { ':id': 42 },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    });
  });

  test('recordRun of a run that belongs to another request is a ConflictError naming it', async () => {
    ddb.on(PutCommand).rejects(new ConditionalCheckFailedException({ message: 'failed', $metadata: {}, Item: { workRequestId: { N: '41' } } }));
    await expect(repo.recordRun('debusine', 'System', 'nightly', { major: 3, minor: 0 }, 42)).rejects.toThrow(/run 3.0 of workflow "nightly" is work request 41/);
  });

  test('findRun of a given run is a consistent GetItem; of the latest, a descending consistent Query of one item', async () => {
    ddb.on(GetCommand).resolves({ Item: { major: 2, minor: 1, workRequestId: 50 } });
    ddb.on(QueryCommand).resolves({ Items: [{ major: 10, minor: 0, workRequestId: 90 }] });
    expect(await repo.findRun('debusine', 'System', 'nightly', { major: 2, minor: 1 })).toEqual({ run: { major: 2, minor: 1 }, workRequestId: 50 });
    expect(ddb).toHaveReceivedCommandWith(GetCommand, { Key: { pk: 'RUN#debusine#System#nightly', sk: '0000000002.0000000001' }, ConsistentRead: true });
    expect(await repo.findRun('debusine', 'System', 'nightly')).toEqual({ run: { major: 10, minor: 0 }, workRequestId: 90 });
    expect(ddb.commandCalls(QueryCommand)[0]!.args[0].input).toMatchObject({
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeValues: { ':pk': 'RUN#debusine#System#nightly' },
      ScanIndexForward: false,
      Limit: 1,
      ConsistentRead: true,
    });
    ddb.on(QueryCommand).resolves({ Items: [] });
    expect(await repo.findRun('debusine', 'System', 'never')).toBeUndefined();
  });
});

describe('notification channels', () => {
  const channel = { name: 'ops', method: 'email' as const, data: { to: ['ops@example.org'], cc: ['lead@example.org'], from: 'ci@example.org' } };

  test('put is an unconditional Put in the CHANNELS partition; get a consistent GetItem', async () => {
    ddb.on(PutCommand).resolves({});
    await channels.put(channel);
    expect(ddb.commandCalls(PutCommand)[0]!.args[0].input).toEqual({
      TableName: 'main',
      Item: { pk: 'CHANNELS', sk: 'C#ops', entity: 'notificationChannel', name: 'ops', method: 'email', dataJson: JSON.stringify(channel.data) },
    });
    ddb.on(GetCommand).resolves({ Item: channelItem(channel) });
    expect(await channels.get('ops')).toEqual(channel);
    expect(ddb).toHaveReceivedCommandWith(GetCommand, { Key: { pk: 'CHANNELS', sk: 'C#ops' }, ConsistentRead: true });
  });

  test('list is a consistent Query of the partition', async () => {
    ddb.on(QueryCommand).resolves({ Items: [channelItem(channel), channelItem({ ...channel, name: 'qa', data: { to: ['qa@example.org'] } })] });
    expect((await channels.list()).map((c) => c.name)).toEqual(['ops', 'qa']);
    expect(ddb.commandCalls(QueryCommand)[0]!.args[0].input).toMatchObject({
      ExpressionAttributeValues: { ':pk': 'CHANNELS', ':sk': 'C#' },
      ConsistentRead: true,
    });
  });

  test('an empty name is refused', async () => {
    await expect(channels.get('')).rejects.toThrow(ValidationError);
  });
});
