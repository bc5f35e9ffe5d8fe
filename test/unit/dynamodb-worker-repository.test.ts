/**
 * DynamoWorkerRepository with a mocked document client: item layout, the version condition of
 * update (which never writes `assigned`), and touch's interval condition.
 */
import 'aws-sdk-client-mock-jest';
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { DynamoWorkerRepository } from '../../shared/adapters/dynamodb/worker-repository';
import { ConflictError, NotFoundError } from '../../shared/domain/errors';
import type { Worker } from '../../shared/domain/workers';

const ddb = mockClient(DynamoDBDocumentClient);
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } }));
const repo = new DynamoWorkerRepository(doc, 'main');

beforeEach(() => ddb.reset());

const worker: Worker = {
  name: 'bee',
  tokenHash: 'f'.repeat(64),
  workerType: 'external',
  enabled: true,
  registeredAt: '2026-11-22T10:00:00.000Z',
  connectedAt: null,
  lastSeenAt: '2026-11-22T10:01:00.000Z',
  staticMetadata: { 'system:architectures': ['amd64', 'i386'] },
  dynamicMetadata: { 'system:host_architecture': 'amd64', big: 12345678901234567890 },
  dynamicMetadataUpdatedAt: null,
  concurrency: 2,
  assigned: 1,
  queueUrl: 'http://sqs/q/bee',
  version: 3,
};

const conditionFailed = (Item?: Record<string, unknown>) =>
  new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {}, ...(Item ? { Item: Item as never } : {}) });

const storedItem = {
  pk: 'WORKER#bee',
  sk: 'K',
  entity: 'worker',
  name: 'bee',
  tokenHash: 'f'.repeat(64),
  workerType: 'external',
  enabled: true,
  registeredAt: '2026-11-22T10:00:00.000Z',
  lastSeenAt: '2026-11-22T10:01:00.000Z',
  staticMetadataJson: JSON.stringify(worker.staticMetadata),
  dynamicMetadataJson: JSON.stringify(worker.dynamicMetadata),
  concurrency: 2,
  queueUrl: 'http://sqs/q/bee',
  gsi1pk: 'WORKERS',
  gsi1sk: 'bee',
  assigned: 1,
  version: 3,
};

test('create puts the whole item, conditioned on attribute_not_exists; a taken name is a ConflictError', async () => {
  ddb.on(PutCommand).resolves({});
  await repo.create(worker);
  expect(ddb).toHaveReceivedCommandWith(PutCommand, {
    TableName: 'main',
    Item: storedItem,
    ConditionExpression: 'attribute_not_exists(#pk)',
    ExpressionAttributeNames: { '#pk': 'pk' },
  });
  ddb.reset();
  ddb.on(PutCommand).rejects(conditionFailed());
  await expect(repo.create(worker)).rejects.toThrow(ConflictError);
});

test('get reads consistently and round-trips; list reads the WORKERS index', async () => {
  ddb.on(GetCommand).resolves({ Item: storedItem });
  expect(await repo.get('bee')).toEqual(worker);
  expect(ddb).toHaveReceivedCommandWith(GetCommand, { Key: { pk: 'WORKER#bee', sk: 'K' }, ConsistentRead: true });
  ddb.on(QueryCommand).resolves({ Items: [storedItem] });
  expect(await repo.list()).toEqual([worker]);
  expect(ddb).toHaveReceivedCommandWith(QueryCommand, { IndexName: 'gsi1', ExpressionAttributeValues: { ':pk': 'WORKERS' } });
});

describe('update', () => {
  test('SETs every field but assigned, REMOVEs the null ones, bumps version, conditioned on the version read', async () => {
    ddb.on(UpdateCommand).resolves({});
    await repo.update({ ...worker, assigned: 99, connectedAt: '2026-11-22T10:05:00.000Z', queueUrl: null }, 3);
    const input = ddb.commandCalls(UpdateCommand)[0]!.args[0].input;
    expect(input.Key).toEqual({ pk: 'WORKER#bee', sk: 'K' });
    expect(input.ConditionExpression).toBe('attribute_exists(#pk) AND #version = :expected');
    expect(input.UpdateExpression).toBe(
      'SET #tokenHash = :tokenHash, #workerType = :workerType, #enabled = :enabled, #registeredAt = :registeredAt, ' +
        '#connectedAt = :connectedAt, #lastSeenAt = :lastSeenAt, #staticMetadataJson = :staticMetadataJson, ' +
        '#dynamicMetadataJson = :dynamicMetadataJson, #concurrency = :concurrency, #gsi1pk = :gsi1pk, #gsi1sk = :gsi1sk, ' +
        '#version = :next REMOVE #dynamicMetadataUpdatedAt, #queueUrl, #machineState, #offlineReason',
    );
    expect(input.ExpressionAttributeValues).toMatchObject({ ':expected': 3, ':next': 4, ':connectedAt': '2026-11-22T10:05:00.000Z' });
    expect(JSON.stringify(input)).not.toMatch(/assigned/);
  });

  test('a moved version is a ConflictError, a missing worker a NotFoundError', async () => {
    ddb.on(UpdateCommand).rejects(conditionFailed({ pk: { S: 'WORKER#bee' }, version: { N: '4' } }));
    await expect(repo.update(worker, 3)).rejects.toThrow(ConflictError);
    await expect(repo.update(worker, 3)).rejects.toThrow(/expected version 3, found 4/);
    ddb.reset();
    ddb.on(UpdateCommand).rejects(conditionFailed());
    await expect(repo.update(worker, 3)).rejects.toThrow(NotFoundError);
  });
});

test('touch sets lastSeenAt only when older than the interval, swallows the failed condition, and leaves version alone', async () => {
  ddb.on(UpdateCommand).rejects(conditionFailed());
  await expect(repo.touch('bee', new Date('2026-11-22T10:10:00.000Z'), 60_000)).resolves.toBeUndefined();
  expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
    Key: { pk: 'WORKER#bee', sk: 'K' },
    UpdateExpression: 'SET #lastSeenAt = :at',
    ConditionExpression: 'attribute_exists(#pk) AND (attribute_not_exists(#lastSeenAt) OR #lastSeenAt < :threshold)',
    ExpressionAttributeValues: { ':at': '2026-11-22T10:10:00.000Z', ':threshold': '2026-11-22T10:09:00.000Z' },
  });
});
