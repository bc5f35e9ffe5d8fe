/**
 * DynamoWorkerRepository with a mocked document client: item layout (the worker item and its listing
 * item), the version condition of update (which never writes `assigned`), and touch's interval condition.
 */
import 'aws-sdk-client-mock-jest';
import { ConditionalCheckFailedException, DynamoDBClient, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DynamoDBDocumentClient, GetCommand, QueryCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
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
  assigned: 1,
  version: 3,
};

const listingItem = { pk: 'WORKER#bee', sk: 'LIST', entity: 'workerListing', name: 'bee', gsi1pk: 'WORKERS', gsi1sk: 'bee' };

/** A cancelled transaction whose first item failed its condition (with the old item, when given). */
const cancelled = (Item?: Record<string, unknown>) =>
  new TransactionCanceledException({
    message: 'Transaction cancelled',
    $metadata: {},
    CancellationReasons: [{ Code: 'ConditionalCheckFailed', ...(Item ? { Item: Item as never } : {}) }, { Code: 'None' }],
  });

test('create puts the whole item (conditioned on attribute_not_exists) and its listing item in one transaction; a taken name is a ConflictError', async () => {
  ddb.on(TransactWriteCommand).resolves({});
  await repo.create(worker);
  expect(ddb).toHaveReceivedCommandWith(TransactWriteCommand, {
    TransactItems: [
      { Put: { TableName: 'main', Item: storedItem, ConditionExpression: 'attribute_not_exists(#pk)', ExpressionAttributeNames: { '#pk': 'pk' } } },
      { Put: { TableName: 'main', Item: listingItem } },
    ],
  });
  ddb.reset();
  ddb.on(TransactWriteCommand).rejects(cancelled());
  await expect(repo.create(worker)).rejects.toThrow(ConflictError);
});

test('get reads consistently and round-trips; list reads the WORKERS index, then the worker items (a legacy item as it is)', async () => {
  ddb.on(GetCommand).resolves({ Item: storedItem });
  expect(await repo.get('bee')).toEqual(worker);
  expect(ddb).toHaveReceivedCommandWith(GetCommand, { Key: { pk: 'WORKER#bee', sk: 'K' }, ConsistentRead: true });
  const legacy = { ...storedItem, pk: 'WORKER#ant', name: 'ant', gsi1pk: 'WORKERS', gsi1sk: 'ant' };
  ddb.on(QueryCommand).resolves({ Items: [legacy, listingItem] });
  ddb.on(BatchGetCommand).resolves({ Responses: { main: [storedItem] } });
  expect(await repo.list()).toEqual([{ ...worker, name: 'ant' }, worker]);
  expect(ddb).toHaveReceivedCommandWith(QueryCommand, { IndexName: 'gsi1', ExpressionAttributeValues: { ':pk': 'WORKERS' } });
  expect(ddb).toHaveReceivedCommandWith(BatchGetCommand, { RequestItems: { main: { Keys: [{ pk: 'WORKER#bee', sk: 'K' }], ConsistentRead: true } } });
});

describe('update', () => {
  test('SETs every field but assigned, REMOVEs the null ones and a legacy listing key, bumps version, conditioned on the version read; puts the listing item in the same transaction', async () => {
    ddb.on(TransactWriteCommand).resolves({});
    await repo.update({ ...worker, assigned: 99, connectedAt: '2026-11-22T10:05:00.000Z', queueUrl: null, enabled: false }, 3);
    const [update, listing] = ddb.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems!;
    const input = update!.Update!;
    expect(input.Key).toEqual({ pk: 'WORKER#bee', sk: 'K' });
    expect(input.ConditionExpression).toBe('attribute_exists(#pk) AND #version = :expected');
    expect(input.UpdateExpression).toBe(
      'SET #tokenHash = :tokenHash, #workerType = :workerType, #enabled = :enabled, #registeredAt = :registeredAt, ' +
        '#connectedAt = :connectedAt, #lastSeenAt = :lastSeenAt, #staticMetadataJson = :staticMetadataJson, ' +
        '#dynamicMetadataJson = :dynamicMetadataJson, #concurrency = :concurrency, ' +
        '#version = :next REMOVE #dynamicMetadataUpdatedAt, #queueUrl, #machineState, #offlineReason, #gsi1pk, #gsi1sk, #gsi3pk, #gsi3sk',
    );
    expect(input.ExpressionAttributeValues).toMatchObject({ ':expected': 3, ':next': 4, ':connectedAt': '2026-11-22T10:05:00.000Z' });
    expect(JSON.stringify(input)).not.toMatch(/assigned/);
    expect(listing).toEqual({ Put: { TableName: 'main', Item: { ...listingItem, gsi1pk: 'WORKERS#DISABLED' } } });
  });

  test('a moved version is a ConflictError, a missing worker a NotFoundError', async () => {
    ddb.on(TransactWriteCommand).rejects(cancelled({ pk: { S: 'WORKER#bee' }, version: { N: '4' } }));
    await expect(repo.update(worker, 3)).rejects.toThrow(ConflictError);
    await expect(repo.update(worker, 3)).rejects.toThrow(/expected version 3, found 4/);
    ddb.reset();
    ddb.on(TransactWriteCommand).rejects(cancelled());
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
