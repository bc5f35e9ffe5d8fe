/** DynamoIdentityRepository with a mocked document client: keys, indexes and conditions. */
import 'aws-sdk-client-mock-jest';
import { ConditionalCheckFailedException, DynamoDBClient, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { DynamoIdentityRepository } from '../../shared/adapters/dynamodb/identity-repository';
import { ConflictError, NotFoundError, ValidationError } from '../../shared/domain/errors';
import type { Token, Workspace } from '../../shared/domain/tenancy';

const ddb = mockClient(DynamoDBDocumentClient);
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } }));
const repo = new DynamoIdentityRepository(doc, 'main');

beforeEach(() => ddb.reset());

const conditionFailed = (Item?: Record<string, unknown>) =>
  new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {}, ...(Item ? { Item: Item as never } : {}) });

const token: Token = {
  id: 'tok1',
  hash: 'f'.repeat(64),
  username: 'alice',
  purpose: 'api',
  status: 'active',
  enabled: true,
  comment: 'ci',
  createdAt: '2026-11-22T10:00:00.000Z',
  expireAt: undefined,
  version: 2,
};

describe('touchToken', () => {
  it('writes lastSeenAt only if unset or older than the interval, and never creates an item', async () => {
    ddb.on(UpdateCommand).resolves({});
    await repo.touchToken(token.hash, new Date('2026-11-22T12:00:00.000Z'), 60_000);
    expect(ddb.commandCalls(UpdateCommand)[0]!.args[0].input).toEqual({
      TableName: 'main',
      Key: { pk: `TOKEN#${token.hash}`, sk: 'T' },
      UpdateExpression: 'SET #lastSeenAt = :at',
      ConditionExpression: 'attribute_exists(#pk) AND (attribute_not_exists(#lastSeenAt) OR #lastSeenAt < :threshold)',
      ExpressionAttributeNames: { '#pk': 'pk', '#lastSeenAt': 'lastSeenAt' },
      ExpressionAttributeValues: { ':at': '2026-11-22T12:00:00.000Z', ':threshold': '2026-11-22T11:59:00.000Z' },
    });
  });

  it('swallows the failed condition (that is the saved write)', async () => {
    ddb.on(UpdateCommand).rejects(conditionFailed());
    await expect(repo.touchToken(token.hash, new Date(), 60_000)).resolves.toBeUndefined();
  });

  it('does not swallow other errors', async () => {
    ddb.on(UpdateCommand).rejects(Object.assign(new Error('slow down'), { name: 'InternalServerError' }));
    await expect(repo.touchToken(token.hash, new Date(), 60_000)).rejects.toThrow('slow down');
  });
});

describe('tokens', () => {
  it('are stored by hash, indexed by owner then creation (gsi1) and by id (gsi2), without undefined values', async () => {
    ddb.on(PutCommand).resolves({});
    await repo.createToken(token);
    const input = ddb.commandCalls(PutCommand)[0]!.args[0].input;
    expect(input).toEqual({
      TableName: 'main',
      ConditionExpression: 'attribute_not_exists(#pk)',
      ExpressionAttributeNames: { '#pk': 'pk' },
      Item: {
        pk: `TOKEN#${token.hash}`,
        sk: 'T',
        entity: 'token',
        id: 'tok1',
        hash: token.hash,
        username: 'alice',
        purpose: 'api',
        status: 'active',
        enabled: true,
        comment: 'ci',
        createdAt: '2026-11-22T10:00:00.000Z',
        version: 2,
        gsi1pk: 'TOKENS',
        gsi1sk: 'alice#2026-11-22T10:00:00.000Z#tok1',
        gsi2pk: 'TOKENID#tok1',
        gsi2sk: 'T',
      },
    });
    expect(Object.values(input.Item!)).not.toContain(undefined);
  });

  it('update is conditioned on the version, removes cleared fields and leaves lastSeenAt alone', async () => {
    ddb.on(UpdateCommand).resolves({});
    await repo.updateToken({ ...token, lastSeenAt: '2020-01-01T00:00:00.000Z', version: 3 }, 2);
    const input = ddb.commandCalls(UpdateCommand)[0]!.args[0].input;
    expect(input.ConditionExpression).toBe('attribute_exists(#pk) AND #version = :expected');
    expect(input.UpdateExpression).toBe(
      'SET #username = :username, #purpose = :purpose, #status = :status, #enabled = :enabled, #comment = :comment, #gsi1pk = :gsi1pk, #gsi1sk = :gsi1sk, #version = :next REMOVE #workerName, #expireAt',
    );
    expect(input.ExpressionAttributeValues).toMatchObject({ ':expected': 2, ':next': 3 });
    expect(JSON.stringify(input)).not.toContain('lastSeenAt');
  });

  it('update with a moved version is a ConflictError', async () => {
    ddb.on(UpdateCommand).rejects(conditionFailed({ version: { N: '4' } }));
    await expect(repo.updateToken(token, 2)).rejects.toThrow(new ConflictError('Token was changed concurrently', 'expected version 2, found 4; reload and try again'));
  });

  it("listTokens(user) is a begins_with on the user's prefix of the TOKENS partition", async () => {
    ddb.on(QueryCommand).resolves({ Items: [] });
    await repo.listTokens('alice');
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
      IndexName: 'gsi1',
      KeyConditionExpression: '#gsi1pk = :pk AND begins_with(#gsi1sk, :prefix)',
      ExpressionAttributeValues: { ':pk': 'TOKENS', ':prefix': 'alice#' },
    });
  });

  it('getTokenById queries gsi2', async () => {
    ddb.on(QueryCommand).resolves({ Items: [{ ...token, pk: 'x', sk: 'T', gsi1pk: 'TOKENS' }] });
    expect(await repo.getTokenById('tok1')).toEqual({ ...token, expireAt: undefined });
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, { IndexName: 'gsi2', ExpressionAttributeValues: { ':pk': 'TOKENID#tok1' } });
  });
});

describe('workspaces', () => {
  const ws: Workspace = {
    scope: 'debusine',
    name: 'System',
    public: true,
    defaultExpirationDelay: null,
    defaultFileStore: 'Default',
    otherFileStores: [],
    createdAt: '2026-11-22T10:00:00.000Z',
    version: 1,
  };

  it('create is conditioned on the name being free; a clash is a ConflictError', async () => {
    ddb.on(PutCommand).rejects(conditionFailed());
    await expect(repo.createWorkspace(ws)).rejects.toBeInstanceOf(ConflictError);
    expect(ddb).toHaveReceivedCommandWith(PutCommand, {
      ConditionExpression: 'attribute_not_exists(#pk)',
      Item: expect.objectContaining({ pk: 'WS#debusine#System', sk: 'W', gsi1pk: 'WORKSPACES#debusine', gsi1sk: 'System' }),
    });
  });

  it('update replaces the item with version + 1, conditioned on the expected version, and drops the expiry entry of a workspace without a delay', async () => {
    ddb.on(TransactWriteCommand).resolves({});
    await repo.updateWorkspace({ ...ws, public: false, version: 2 }, 1);
    expect(ddb).toHaveReceivedCommandWith(TransactWriteCommand, {
      TransactItems: [
        {
          Put: expect.objectContaining({
            ConditionExpression: 'attribute_exists(#pk) AND #version = :expected',
            ExpressionAttributeValues: { ':expected': 1 },
            Item: expect.objectContaining({ public: false, version: 2 }),
          }),
        },
        { Delete: { TableName: 'main', Key: { pk: 'WS#debusine#System', sk: 'EXPIRY' } } },
      ],
    });
  });

  it('update of a missing workspace is a NotFoundError', async () => {
    ddb.on(TransactWriteCommand).rejects(
      new TransactionCanceledException({ message: 'cancelled', $metadata: {}, CancellationReasons: [{ Code: 'ConditionalCheckFailed' }, { Code: 'None' }] }),
    );
    await expect(repo.updateWorkspace(ws, 1)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('names with the key separator are refused before any request', async () => {
    await expect(repo.getWorkspace('debusine', 'a#b')).rejects.toBeInstanceOf(ValidationError);
    expect(ddb).not.toHaveReceivedAnyCommand();
  });
});

describe('roles', () => {
  it('a grant is one transaction checking the workspace and user exist', async () => {
    ddb.on(TransactWriteCommand).resolves({});
    await repo.putRole({ scope: 'debusine', workspace: 'System', username: 'alice', role: 'owner', grantedAt: '2026-11-22T10:00:00.000Z' });
    const items = ddb.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems!;
    expect(items.map((i) => i.ConditionCheck?.Key)).toEqual([{ pk: 'WS#debusine#System', sk: 'W' }, { pk: 'USER#alice', sk: 'U' }, undefined]);
    expect(items[2]!.Put!.Item).toEqual({
      pk: 'WS#debusine#System',
      sk: 'ROLE#alice',
      entity: 'role',
      scope: 'debusine',
      workspace: 'System',
      username: 'alice',
      role: 'owner',
      grantedAt: '2026-11-22T10:00:00.000Z',
      gsi1pk: 'USERROLES#alice',
      gsi1sk: 'debusine#System',
    });
  });

  it('a grant for an unknown user is a NotFoundError', async () => {
    ddb.on(TransactWriteCommand).rejects(
      new TransactionCanceledException({
        message: 'cancelled',
        $metadata: {},
        CancellationReasons: [{ Code: 'None' }, { Code: 'ConditionalCheckFailed' }, { Code: 'None' }],
      }),
    );
    await expect(
      repo.putRole({ scope: 'debusine', workspace: 'System', username: 'ghost', role: 'owner', grantedAt: '2026-11-22T10:00:00.000Z' }),
    ).rejects.toThrow(/User not found/);
  });
});

describe('scopes and users', () => {
  it('createScopeIfAbsent answers false when the condition fails', async () => {
    ddb.on(PutCommand).rejects(conditionFailed());
    expect(await repo.createScopeIfAbsent({ name: 'debusine', label: 'Debusine', createdAt: 'x' })).toBe(false);
  });

  it('getUser is a consistent GetItem on USER#<name>', async () => {
    ddb.on(GetCommand).resolves({ Item: { pk: 'USER#bob', sk: 'U', username: 'bob', isAdmin: false, createdAt: 'x', gsi1pk: 'USERS' } });
    expect(await repo.getUser('bob')).toEqual({ username: 'bob', isAdmin: false, createdAt: 'x' });
    expect(ddb).toHaveReceivedCommandWith(GetCommand, { TableName: 'main', Key: { pk: 'USER#bob', sk: 'U' }, ConsistentRead: true });
  });

  it('listUsers queries the USERS partition of gsi1, page after page (no Scan)', async () => {
    ddb
      .on(QueryCommand)
      .resolvesOnce({ Items: [{ username: 'a', isAdmin: false, createdAt: 'x' }], LastEvaluatedKey: { pk: 'USER#a' } })
      .resolvesOnce({ Items: [{ username: 'b', isAdmin: true, createdAt: 'y' }] });
    expect((await repo.listUsers()).map((u) => u.username)).toEqual(['a', 'b']);
    expect(ddb).toHaveReceivedCommandTimes(QueryCommand, 2);
    expect(ddb).toHaveReceivedNthCommandWith(2, QueryCommand, { IndexName: 'gsi1', ExclusiveStartKey: { pk: 'USER#a' }, ExpressionAttributeValues: { ':pk': 'USERS' } });
  });
});
