/**
 * DynamoCollectionRepository with a mocked document client: the exact conditional writes that keep
 * collection names unique and one active item per name, and how failed conditions become errors.
 */
import 'aws-sdk-client-mock-jest';
import { DynamoDBClient, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, QueryCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import {
  DynamoCollectionRepository,
  collectionAttributes,
  itemAttributes,
  toCollection,
  toItem,
} from '../../shared/adapters/dynamodb/collection-repository';
import { keys } from '../../shared/adapters/dynamodb/keys';
import type { Collection, CollectionItem } from '../../shared/domain/collections';
import { ConflictError, ValidationError } from '../../shared/domain/errors';

const ddb = mockClient(DynamoDBDocumentClient);
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } }));
const repo = new DynamoCollectionRepository(doc, 'main');

beforeEach(() => ddb.reset());

const AT = '2026-11-22T10:00:00.000Z';

const collection = (overrides: Partial<Collection> = {}): Collection => ({
  id: 7,
  scope: 'debusine',
  workspace: 'priv',
  name: 'bookworm',
  category: 'debian:suite',
  data: { big: 12345678901234567890, nested: { list: [1, null] } },
  retainsArtifacts: 'always',
  workflowId: null,
  createdAt: AT,
  version: 1,
  ...overrides,
});

const item = (overrides: Partial<CollectionItem> = {}): CollectionItem => ({
  id: 42,
  collectionId: 7,
  name: 'hello_1.0',
  childType: 'artifact',
  category: 'debian:source-package',
  artifactId: 3,
  collectionRef: null,
  data: { version: '1.0' },
  createdAt: AT,
  createdBy: 'user:alice',
  removedAt: null,
  removedBy: null,
  ...overrides,
});

const cancelled = (...codes: string[]) =>
  new TransactionCanceledException({ message: 'Transaction cancelled', $metadata: {}, CancellationReasons: codes.map((Code) => ({ Code })) as never });

const transactItems = (call = 0) => ddb.commandCalls(TransactWriteCommand)[call]!.args[0].input.TransactItems!;

describe('collections', () => {
  it('creates the collection and its name claim in one transaction, both conditioned on absence', async () => {
    ddb.on(TransactWriteCommand).resolves({});
    await repo.create(collection());
    const [main, claim] = transactItems();
    expect(main!.Put).toMatchObject({
      TableName: 'main',
      Item: { pk: 'COL#7', sk: 'C', entity: 'collection', name: 'bookworm', dataJson: JSON.stringify(collection().data), retainsArtifacts: 'always' },
      ConditionExpression: 'attribute_not_exists(#pk)',
    });
    expect(main!.Put!.Item).not.toHaveProperty('workflowId');
    expect(claim!.Put).toMatchObject({
      Item: { pk: 'WS#debusine#priv', sk: 'COL#debian:suite#bookworm', entity: 'collection-name', id: 7 },
      ConditionExpression: 'attribute_not_exists(#pk)',
    });
  });

  it('turns a taken name into a ConflictError naming it', async () => {
    ddb.on(TransactWriteCommand).rejects(cancelled('None', 'ConditionalCheckFailed'));
    await expect(repo.create(collection())).rejects.toThrow(/already has a collection "bookworm@debian:suite"/);
    ddb.on(TransactWriteCommand).rejects(cancelled('ConditionalCheckFailed', 'None'));
    await expect(repo.create(collection())).rejects.toThrow(/collection 7 already exists/);
  });

  it('refuses names that would make an ambiguous key', async () => {
    await expect(repo.create(collection({ name: 'a#b' }))).rejects.toThrow(ValidationError);
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 0);
  });

  it('reads by name with one consistent GetItem of the claim, and lists the claims', async () => {
    ddb.on(GetCommand).resolves({ Item: { ...keys.collectionName('debusine', 'priv', 'debian:suite', 'bookworm'), ...collectionAttributes(collection()) } });
    expect(await repo.getByName('debusine', 'priv', 'bookworm', 'debian:suite')).toEqual(collection());
    expect(ddb.commandCalls(GetCommand)[0]!.args[0].input).toEqual({
      TableName: 'main',
      Key: { pk: 'WS#debusine#priv', sk: 'COL#debian:suite#bookworm' },
      ConsistentRead: true,
    });
    ddb.on(QueryCommand).resolves({ Items: [collectionAttributes(collection({ id: 9, name: 'sid' })), collectionAttributes(collection())] });
    expect((await repo.list('debusine', 'priv')).map((c) => c.name)).toEqual(['bookworm', 'sid']);
    expect(ddb.commandCalls(QueryCommand)[0]!.args[0].input).toMatchObject({
      KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :sk)',
      ExpressionAttributeValues: { ':pk': 'WS#debusine#priv', ':sk': 'COL#' },
      ConsistentRead: true,
    });
  });

  it('round-trips every field, a workflow id included', () => {
    const internal = collection({ category: 'debusine:workflow-internal', name: 'workflow-5', retainsArtifacts: 'workflow', workflowId: 5 });
    expect(toCollection(collectionAttributes(internal))).toEqual(internal);
    expect(toCollection(collectionAttributes(collection()))).toEqual(collection());
  });
});

describe('addItem', () => {
  it('without replace: the history row and the active row, both conditioned on absence, no read', async () => {
    ddb.on(TransactWriteCommand).resolves({});
    await repo.addItem(item(), { replace: false });
    expect(ddb).toHaveReceivedCommandTimes(GetCommand, 0);
    const writes = transactItems();
    expect(writes).toHaveLength(3);
    // the history row is findable by artifact (expiry), and the artifact must not be condemned
    expect(writes[0]!.Put!.Item).toMatchObject({ gsi1pk: 'ARTLINKS#3', gsi1sk: '0000000000000007#0000000000000042' });
    expect(writes[2]).toEqual({
      ConditionCheck: { TableName: 'main', Key: { pk: 'ART#3', sk: 'A' }, ConditionExpression: 'attribute_not_exists(#condemnedAt)', ExpressionAttributeNames: { '#condemnedAt': 'condemnedAt' } },
    });
    expect(writes[0]!.Put).toMatchObject({ Item: { pk: 'COL#7', sk: 'I#0000000000000042', entity: 'collection-item', artifactId: 3 }, ConditionExpression: 'attribute_not_exists(#pk)' });
    expect(writes[0]!.Put!.Item).not.toHaveProperty('removedAt');
    expect(writes[0]!.Put!.Item).not.toHaveProperty('collectionRef');
    expect(writes[1]!.Put).toMatchObject({ Item: { pk: 'COL#7', sk: 'N#hello_1.0', entity: 'collection-active', id: 42 }, ConditionExpression: 'attribute_not_exists(#pk)' });
  });

  it('without replace: an active item of that name is a ConflictError, with no retry', async () => {
    ddb.on(TransactWriteCommand).rejects(cancelled('None', 'ConditionalCheckFailed'));
    await expect(repo.addItem(item(), { replace: false })).rejects.toThrow(/already has an active item named "hello_1.0"/);
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
  });

  it('with replace: conditions the active row on the item read and soft-removes its history row', async () => {
    const old = item({ id: 40, childType: 'bare', category: 'debusine:promise', artifactId: null });
    ddb.on(GetCommand).resolves({ Item: { ...keys.activeItem(7, 'hello_1.0'), ...itemAttributes(old) } });
    ddb.on(TransactWriteCommand).resolves({});
    await repo.addItem(item({ createdBy: 'workflow:5' }), { replace: true });
    expect(ddb.commandCalls(GetCommand)[0]!.args[0].input).toMatchObject({ Key: { pk: 'COL#7', sk: 'N#hello_1.0' }, ConsistentRead: true });
    const [history, active, removal] = transactItems();
    expect(history!.Put!.Item).toMatchObject({ sk: 'I#0000000000000042' });
    expect(active!.Put).toMatchObject({ Item: { sk: 'N#hello_1.0', id: 42 }, ConditionExpression: '#id = :old', ExpressionAttributeValues: { ':old': 40 } });
    expect(removal!.Update).toMatchObject({
      Key: { pk: 'COL#7', sk: 'I#0000000000000040' },
      // The removed row also enters the retention index, which the expiry pass reads when it is due.
      UpdateExpression: 'SET #removedAt = :at, #removedBy = :by, #gsi3pk = :retentionPk, #gsi3sk = :retentionSk',
      ConditionExpression: 'attribute_exists(#pk) AND attribute_not_exists(#removedAt)',
      ExpressionAttributeValues: { ':at': AT, ':by': 'workflow:5', ':retentionPk': expect.any(String), ':retentionSk': expect.any(String) },
    });
  });

  it('with replace and nothing active: conditioned on absence, like a plain add', async () => {
    ddb.on(GetCommand).resolves({});
    ddb.on(TransactWriteCommand).resolves({});
    await repo.addItem(item(), { replace: true });
    expect(transactItems()).toHaveLength(3);
    expect(transactItems()[1]!.Put!.ConditionExpression).toBe('attribute_not_exists(#pk)');
  });

  it('with replace: a lost race reads the active item again and retries', async () => {
    ddb
      .on(GetCommand)
      .resolvesOnce({})
      .resolves({ Item: itemAttributes(item({ id: 41 })) });
    ddb.on(TransactWriteCommand).rejectsOnce(cancelled('None', 'ConditionalCheckFailed')).resolves({});
    await repo.addItem(item(), { replace: true });
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 2);
    expect(transactItems(1)[1]!.Put!.ExpressionAttributeValues).toEqual({ ':old': 41 });
  });

  it('with replace: gives up with a ConflictError when it keeps losing', async () => {
    ddb.on(GetCommand).resolves({});
    ddb.on(TransactWriteCommand).rejects(cancelled('None', 'ConditionalCheckFailed'));
    await expect(repo.addItem(item(), { replace: true })).rejects.toThrow(ConflictError);
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 8);
  });

  it('an existing item id is a ConflictError', async () => {
    ddb.on(TransactWriteCommand).rejects(cancelled('ConditionalCheckFailed', 'None'));
    await expect(repo.addItem(item(), { replace: false })).rejects.toThrow(/collection item 42 already exists/);
  });
});

describe('removeItem and reads', () => {
  it('deletes the active row conditioned on its id and marks the history row removed', async () => {
    ddb.on(GetCommand).resolves({ Item: itemAttributes(item()) });
    ddb.on(TransactWriteCommand).resolves({});
    const removed = await repo.removeItem(7, 'hello_1.0', AT, 'user:bob');
    expect(removed).toEqual(item({ removedAt: AT, removedBy: 'user:bob' }));
    const [del, update] = transactItems();
    expect(del!.Delete).toMatchObject({ Key: { pk: 'COL#7', sk: 'N#hello_1.0' }, ConditionExpression: '#id = :id', ExpressionAttributeValues: { ':id': 42 } });
    expect(update!.Update).toMatchObject({ Key: { pk: 'COL#7', sk: 'I#0000000000000042' }, ExpressionAttributeValues: { ':at': AT, ':by': 'user:bob' } });
  });

  it('answers undefined, writing nothing, when no item is active', async () => {
    ddb.on(GetCommand).resolves({});
    expect(await repo.removeItem(7, 'x', AT, 'user:bob')).toBeUndefined();
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 0);
  });

  it('retries when the active item changed between the read and the delete', async () => {
    ddb
      .on(GetCommand)
      .resolvesOnce({ Item: itemAttributes(item()) })
      .resolves({ Item: itemAttributes(item({ id: 43 })) });
    ddb.on(TransactWriteCommand).rejectsOnce(cancelled('ConditionalCheckFailed', 'None')).resolves({});
    expect((await repo.removeItem(7, 'hello_1.0', AT, 'user:bob'))!.id).toBe(43);
  });

  it('lists active rows by item id', async () => {
    ddb.on(QueryCommand).resolves({ Items: [itemAttributes(item({ id: 50, name: 'a' })), itemAttributes(item({ id: 42, name: 'b' }))] });
    expect((await repo.activeItems(7)).map((i) => i.id)).toEqual([42, 50]);
    expect(ddb.commandCalls(QueryCommand)[0]!.args[0].input.ExpressionAttributeValues).toEqual({ ':pk': 'COL#7', ':sk': 'N#' });
  });

  it('round-trips items of every kind', () => {
    const cases = [item(), item({ childType: 'bare', artifactId: null, category: 'debusine:promise' }), item({ childType: 'collection', artifactId: null, collectionRef: 9, removedAt: AT, removedBy: 'workflow:1' })];
    for (const i of cases) expect(toItem(itemAttributes(i))).toEqual(i);
  });

  it('refuses item names too long for a key', async () => {
    await expect(repo.addItem(item({ name: '\u{1F600}'.repeat(300) }), { replace: false })).rejects.toThrow(ValidationError);
  });
});
