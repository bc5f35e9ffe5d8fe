/**
 * DynamoArtifactRepository with a mocked document client: the exact keys, indexes and
 * conditions each important operation sends, and how failed conditions become domain errors.
 */
import 'aws-sdk-client-mock-jest';
import { createHash } from 'node:crypto';
import { ConditionalCheckFailedException, DynamoDBClient, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  BatchWriteCommand,
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { DynamoArtifactRepository } from '../../shared/adapters/dynamodb/artifact-repository';
import type { Artifact, ArtifactRelation } from '../../shared/domain/artifacts';
import { BlobNotClaimableError, ConflictError, NotFoundError, ValidationError } from '../../shared/domain/errors';
import type { StoredFile } from '../../shared/ports';

const ddb = mockClient(DynamoDBDocumentClient);
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } }));
const repo = new DynamoArtifactRepository(doc, 'main');

beforeEach(() => ddb.reset());

const SHA = 'a'.repeat(64);
const artifact: Artifact = {
  id: 42,
  scope: 'debusine',
  workspace: 'System',
  category: 'debian:source-package',
  data: { name: 'hello' },
  createdAt: '2026-11-22T10:00:00.000Z',
  updatedAt: '2026-11-22T10:00:00.000Z',
  createdBy: 'user:alice',
  expireAt: null,
  immutable: false,
  incompleteFiles: 1,
  version: 3,
};
const done: StoredFile = { path: 'hello.dsc', sha256: SHA, size: 12, complete: true, contentType: undefined };
const pending: StoredFile = { path: 'src/hello.c', sha256: SHA, size: 99, complete: false };

const conditionFailed = (Item?: Record<string, unknown>) =>
  new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {}, ...(Item ? { Item: Item as never } : {}) });
const cancelled = (...reasons: { Code: string; Item?: Record<string, unknown> }[]) =>
  new TransactionCanceledException({ message: 'Transaction cancelled', $metadata: {}, CancellationReasons: reasons as never });

describe('create', () => {
  it('is one transaction: the artifact conditioned on attribute_not_exists, then its file rows', async () => {
    ddb.on(TransactWriteCommand).resolves({});
    await repo.create(artifact, [done, pending]);
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
    const items = ddb.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems!;
    expect(items).toHaveLength(4);
    expect(items[0]).toEqual({
      Put: {
        TableName: 'main',
        ConditionExpression: 'attribute_not_exists(#pk)',
        ExpressionAttributeNames: { '#pk': 'pk' },
        Item: {
          pk: 'ART#42',
          sk: 'A',
          entity: 'artifact',
          id: 42,
          scope: 'debusine',
          workspace: 'System',
          category: 'debian:source-package',
          dataJson: '{"name":"hello"}',
          createdAt: '2026-11-22T10:00:00.000Z',
          updatedAt: '2026-11-22T10:00:00.000Z',
          createdBy: 'user:alice',
          expireAt: null,
          immutable: false,
          incompleteFiles: 1,
          version: 3,
          gsi1pk: 'WSART#debusine#System',
          gsi1sk: '2026-11-22T10:00:00.000Z#0000000000000042',
          gsi2pk: 'WSCAT#debusine#System#debian:source-package',
          gsi2sk: '2026-11-22T10:00:00.000Z#0000000000000042',
        },
      },
    });
    // a complete file row is in the workspace blob index; an incomplete one is not (yet)
    expect(items[1]).toEqual({
      Put: {
        TableName: 'main',
        Item: {
          pk: 'ART#42',
          sk: 'F#hello.dsc',
          entity: 'file',
          artifactId: 42,
          path: 'hello.dsc',
          sha256: SHA,
          size: 12,
          complete: true,
          wsBlobPk: `WSBLOB#debusine#System#${SHA}-12`,
          wsBlobSk: '0000000000000042',
          gsi1pk: `WSBLOB#debusine#System#${SHA}-12`,
          gsi1sk: '0000000000000042',
          // every file row, complete or not: which rows hold these bytes (expiry's blob sweep)
          gsi2pk: `BLOBREF#${SHA}-12`,
          gsi2sk: `0000000000000042#${createHash('sha256').update('hello.dsc').digest('hex')}`,
        },
      },
    });
    expect(items[2]!.Put!.Item).not.toHaveProperty('gsi1pk');
    expect(items[2]!.Put!.Item).toHaveProperty('gsi2pk', `BLOBREF#${SHA}-99`);
    expect(items[2]!.Put!.Item).toMatchObject({ sk: 'F#src/hello.c', complete: false, wsBlobPk: `WSBLOB#debusine#System#${SHA}-99` });
    // the complete file claims stored bytes: only while their blob row is `stored` (not condemned by expiry)
    expect(items[3]).toEqual({
      ConditionCheck: {
        TableName: 'main',
        Key: { pk: `BLOB#${SHA}-12`, sk: 'B' },
        ConditionExpression: '#state = :stored OR (attribute_exists(#pk) AND attribute_not_exists(#state))',
        ExpressionAttributeNames: { '#pk': 'pk', '#state': 'state' },
        ExpressionAttributeValues: { ':stored': 'stored' },
      },
    });
  });

  it('a condemned blob is a BlobNotClaimableError naming the file', async () => {
    ddb.on(TransactWriteCommand).rejects(cancelled({ Code: 'None' }, { Code: 'None' }, { Code: 'None' }, { Code: 'ConditionalCheckFailed' }));
    await expect(repo.create(artifact, [done, pending])).rejects.toBeInstanceOf(BlobNotClaimableError);
    await expect(repo.create(artifact, [done, pending])).rejects.toMatchObject({ path: 'hello.dsc' });
  });

  it('an expiring artifact is indexed in its expiry hour bucket (gsi3), after the bucket is listed', async () => {
    ddb.on(TransactWriteCommand).resolves({}).on(PutCommand).resolves({});
    await repo.create({ ...artifact, expireAt: '2099-01-01T05:30:00.000Z' }, [done, pending]);
    expect(ddb.commandCalls(PutCommand)[0]!.args[0].input.Item).toEqual({ pk: 'EXPBUCKETS', sk: '2099-01-01T05', entity: 'expiry-bucket' });
    const items = ddb.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems!;
    expect(items[0]!.Put!.Item).toMatchObject({ gsi3pk: 'EXP#2099-01-01T05', gsi3sk: '2099-01-01T05:30:00.000Z#0000000000000042' });
  });

  it('a taken id is a ConflictError', async () => {
    ddb.on(TransactWriteCommand).rejects(cancelled({ Code: 'ConditionalCheckFailed' }, { Code: 'None' }, { Code: 'None' }));
    await expect(repo.create(artifact, [done, pending])).rejects.toThrow(new ConflictError('Artifact exists', 'artifact 42 already exists'));
  });

  it('with 100 files or more writes rows in guarded transactions of 99, and the artifact item last', async () => {
    ddb.on(TransactWriteCommand).resolves({}).on(PutCommand).resolves({});
    const files = Array.from({ length: 250 }, (_, i) => ({ ...done, path: `f${i}` }));
    await repo.create({ ...artifact, incompleteFiles: 0 }, files);
    const calls = ddb.calls().map((c) => c.args[0]);
    expect(calls.map((c) => c.constructor.name)).toEqual(['TransactWriteCommand', 'TransactWriteCommand', 'TransactWriteCommand', 'TransactWriteCommand', 'PutCommand']);
    const [claims, ...txs] = ddb.commandCalls(TransactWriteCommand).map((c) => c.args[0].input.TransactItems!);
    // one check per distinct blob claimed (all 250 files hold the same bytes)
    expect(claims!.map((i) => i.ConditionCheck?.Key)).toEqual([{ pk: `BLOB#${SHA}-12`, sk: 'B' }]);
    expect(txs.map((t) => t.length)).toEqual([100, 100, 53]);
    for (const t of txs) {
      expect(t[0]).toEqual({
        ConditionCheck: { TableName: 'main', Key: { pk: 'ART#42', sk: 'A' }, ConditionExpression: 'attribute_not_exists(#pk)', ExpressionAttributeNames: { '#pk': 'pk' } },
      });
      expect(t.slice(1).every((i) => i.Put?.Item?.entity === 'file')).toBe(true);
    }
    expect(ddb.commandCalls(PutCommand)[0]!.args[0].input).toMatchObject({ ConditionExpression: 'attribute_not_exists(#pk)', Item: { pk: 'ART#42', sk: 'A' } });
  });

  it('refuses more than 10,000 files, duplicate paths and a wrong incomplete count before writing anything', async () => {
    const many = Array.from({ length: 10_001 }, (_, i) => ({ ...done, path: `f${i}` }));
    await expect(repo.create({ ...artifact, incompleteFiles: 0 }, many)).rejects.toMatchObject({ fieldErrors: { files: [expect.stringMatching(/10000/)] } });
    await expect(repo.create({ ...artifact, incompleteFiles: 0 }, [done, done])).rejects.toBeInstanceOf(ValidationError);
    await expect(repo.create({ ...artifact, incompleteFiles: 0 }, [pending])).rejects.toThrow(/incompleteFiles/);
    expect(ddb).not.toHaveReceivedAnyCommand();
  });
});

describe('get', () => {
  it('is one consistent Query of the partition below the relations, sorted by path', async () => {
    ddb.on(QueryCommand).resolves({
      Items: [
        { pk: 'ART#42', sk: 'A', entity: 'artifact', ...artifact, dataJson: '{"name":"hello"}', data: undefined },
        { pk: 'ART#42', sk: 'F#z', entity: 'file', path: 'z', sha256: SHA, size: 1, complete: false, upload: { key: 'k', verifying: true } },
        { pk: 'ART#42', sk: 'F#a', entity: 'file', path: 'a', sha256: SHA, size: 2, complete: true, gsi1pk: 'x', wsBlobPk: 'x' },
      ],
    });
    const got = await repo.get(42);
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
      TableName: 'main',
      KeyConditionExpression: '#pk = :pk AND #sk < :sk',
      ExpressionAttributeNames: { '#pk': 'pk', '#sk': 'sk' },
      ExpressionAttributeValues: { ':pk': 'ART#42', ':sk': 'R#' },
      ConsistentRead: true,
    });
    expect(got).toEqual({
      artifact,
      files: [
        { path: 'a', sha256: SHA, size: 2, complete: true },
        { path: 'z', sha256: SHA, size: 1, complete: false, upload: { key: 'k', verifying: true } },
      ],
    });
  });
});

describe('list', () => {
  const row = (id: number) => ({
    ...artifact,
    id,
    dataJson: '{}',
    pk: `ART#${id}`,
    sk: 'A',
    gsi2pk: 'WSCAT#debusine#System#debian:source-package',
    gsi2sk: `2026-11-22T10:00:00.000Z#${String(id).padStart(16, '0')}`,
  });

  it('by category queries gsi2 newest first, filters createdBy, and makes the cursor from the last item returned', async () => {
    ddb.on(QueryCommand).resolves({ Items: [row(9), row(8), row(7)], LastEvaluatedKey: { pk: 'ART#7', sk: 'A', gsi2pk: 'x', gsi2sk: 'y' } });
    const page = await repo.list({ scope: 'debusine', workspace: 'System', category: 'debian:source-package', createdBy: 'user:alice', limit: 2 });
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
      TableName: 'main',
      IndexName: 'gsi2',
      KeyConditionExpression: '#gsi2pk = :pk',
      FilterExpression: '#createdBy = :createdBy',
      ExpressionAttributeNames: { '#gsi2pk': 'gsi2pk', '#createdBy': 'createdBy' },
      ExpressionAttributeValues: { ':pk': 'WSCAT#debusine#System#debian:source-package', ':createdBy': 'user:alice' },
      ScanIndexForward: false,
    });
    expect(page.items.map((a) => a.id)).toEqual([9, 8]);
    expect(JSON.parse(Buffer.from(page.next!, 'base64url').toString())).toEqual({
      pk: 'ART#8',
      sk: 'A',
      gsi2pk: 'WSCAT#debusine#System#debian:source-package',
      gsi2sk: '2026-11-22T10:00:00.000Z#0000000000000008',
    });
  });

  it('with a filter, queries on from LastEvaluatedKey until the page is full', async () => {
    const lek = (id: number) => ({ pk: `ART#${id}`, sk: 'A', gsi1pk: 'WSART#debusine#System', gsi1sk: `s${id}` });
    ddb
      .on(QueryCommand)
      .resolvesOnce({ Items: [row(9)], LastEvaluatedKey: lek(5) })
      .resolvesOnce({ Items: [row(4)], LastEvaluatedKey: lek(2) })
      .resolvesOnce({ Items: [] });
    const page = await repo.list({ scope: 'debusine', workspace: 'System', createdBy: 'user:alice', limit: 3 });
    expect(page).toEqual({ items: [expect.objectContaining({ id: 9 }), expect.objectContaining({ id: 4 })] });
    expect(ddb).toHaveReceivedCommandTimes(QueryCommand, 3);
    expect(ddb).toHaveReceivedNthCommandWith(2, QueryCommand, { ExclusiveStartKey: lek(5), Limit: 100 });
    expect(ddb).toHaveReceivedNthCommandWith(3, QueryCommand, { ExclusiveStartKey: lek(2) });
  });

  it('stops after its query budget with a short page and a cursor where it stopped', async () => {
    const lek = { pk: 'ART#5', sk: 'A', gsi1pk: 'WSART#debusine#System', gsi1sk: 's5' };
    ddb.on(QueryCommand).resolves({ Items: [], LastEvaluatedKey: lek });
    const page = await repo.list({ scope: 'debusine', workspace: 'System', createdBy: 'user:nobody', limit: 3 });
    expect(page.items).toEqual([]);
    expect(JSON.parse(Buffer.from(page.next!, 'base64url').toString())).toEqual(lek);
    expect(ddb).toHaveReceivedCommandTimes(QueryCommand, 10);
  });

  it('passes a valid cursor on as ExclusiveStartKey of gsi1 and stops at the end', async () => {
    ddb.on(QueryCommand).resolves({ Items: [] });
    const start = { pk: 'ART#8', sk: 'A', gsi1pk: 'WSART#debusine#System', gsi1sk: '2026-11-22T10:00:00.000Z#0000000000000008' };
    const cursor = Buffer.from(JSON.stringify(start)).toString('base64url');
    expect(await repo.list({ scope: 'debusine', workspace: 'System', limit: 5, cursor })).toEqual({ items: [] });
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, { IndexName: 'gsi1', ExclusiveStartKey: start, Limit: 6 });
  });

  it.each([
    ['garbage', '!!!'],
    ['not JSON', Buffer.from('{').toString('base64url')],
    ['missing keys', Buffer.from('{"pk":"ART#1"}').toString('base64url')],
    ['extra keys', Buffer.from(JSON.stringify({ pk: 'ART#1', sk: 'A', gsi1pk: 'WSART#debusine#System', gsi1sk: 's', x: 'y' })).toString('base64url')],
    ['another workspace', Buffer.from(JSON.stringify({ pk: 'ART#1', sk: 'A', gsi1pk: 'WSART#debusine#Other', gsi1sk: 's' })).toString('base64url')],
  ])('a cursor with %s is a ValidationError on `cursor`, before any query', async (_, cursor) => {
    const err = await repo.list({ scope: 'debusine', workspace: 'System', limit: 5, cursor }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).fieldErrors).toEqual({ cursor: [expect.any(String)] });
    expect(ddb).not.toHaveReceivedAnyCommand();
  });
});

describe('update', () => {
  it('is conditioned on the version and on the stored artifact not being immutable', async () => {
    ddb.on(UpdateCommand).resolves({});
    await repo.update({ ...artifact, immutable: true, data: { x: 1 }, version: 4 }, 3);
    expect(ddb.commandCalls(UpdateCommand)[0]!.args[0].input).toEqual({
      TableName: 'main',
      Key: { pk: 'ART#42', sk: 'A' },
      // no expireAt: out of the expiry index
      UpdateExpression: 'SET #dataJson = :data, #immutable = :immutable, #expireAt = :expireAt, #updatedAt = :updatedAt, #version = :next REMOVE #gsi3pk, #gsi3sk',
      ConditionExpression: 'attribute_exists(#pk) AND #version = :expected AND #immutable = :false AND attribute_not_exists(#condemnedAt)',
      ExpressionAttributeNames: {
        '#pk': 'pk',
        '#version': 'version',
        '#immutable': 'immutable',
        '#condemnedAt': 'condemnedAt',
        '#dataJson': 'dataJson',
        '#expireAt': 'expireAt',
        '#updatedAt': 'updatedAt',
        '#gsi3pk': 'gsi3pk',
        '#gsi3sk': 'gsi3sk',
      },
      ExpressionAttributeValues: {
        ':data': '{"x":1}',
        ':immutable': true,
        ':expireAt': null,
        ':updatedAt': artifact.updatedAt,
        ':expected': 3,
        ':next': 4,
        ':false': false,
      },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    });
  });

  it.each([
    ['an immutable artifact', { version: { N: '3' }, immutable: { BOOL: true } }, ConflictError, /Artifact is immutable/],
    ['a moved version', { version: { N: '5' }, immutable: { BOOL: false } }, ConflictError, /expected version 3, found 5/],
    ['a missing artifact', undefined, NotFoundError, /Artifact not found/],
  ])('a failed condition on %s becomes a domain error', async (_, old, type, message) => {
    ddb.on(UpdateCommand).rejects(conditionFailed(old));
    const err = await repo.update(artifact, 3).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(type);
    expect(String(err)).toMatch(message);
  });

  it('does not turn other SDK errors into conflicts', async () => {
    const boom = Object.assign(new Error('Requested resource not found'), { name: 'ResourceNotFoundException' });
    ddb.on(UpdateCommand).rejects(boom);
    await expect(repo.update(artifact, 3)).rejects.toBe(boom);
  });
});

describe('attachFile / removeFile', () => {
  it('attach: the file row if its path is free, and the artifact version bump with +1 incomplete', async () => {
    ddb.on(TransactWriteCommand).resolves({});
    await repo.attachFile({ ...artifact, version: 4, updatedAt: '2026-11-23T00:00:00.000Z' }, 3, pending);
    const [row, bump] = ddb.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems!;
    expect(row!.Put).toMatchObject({ ConditionExpression: 'attribute_not_exists(#pk)', Item: { pk: 'ART#42', sk: 'F#src/hello.c' } });
    expect(bump!.Update).toEqual({
      TableName: 'main',
      Key: { pk: 'ART#42', sk: 'A' },
      UpdateExpression: 'SET #version = :next, #updatedAt = :updatedAt ADD #incompleteFiles :delta',
      ConditionExpression: 'attribute_exists(#pk) AND #version = :expected AND #immutable = :false AND attribute_not_exists(#condemnedAt)',
      ExpressionAttributeNames: { '#pk': 'pk', '#version': 'version', '#immutable': 'immutable', '#condemnedAt': 'condemnedAt', '#updatedAt': 'updatedAt', '#incompleteFiles': 'incompleteFiles' },
      ExpressionAttributeValues: { ':expected': 3, ':next': 4, ':false': false, ':updatedAt': '2026-11-23T00:00:00.000Z', ':delta': 1 },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    });
  });

  it('remove: deletes the row only if its completeness is unchanged, -1 incomplete', async () => {
    ddb.on(TransactWriteCommand).resolves({});
    await repo.removeFile(artifact, 3, pending);
    const [row, bump] = ddb.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems!;
    expect(row!.Delete).toMatchObject({
      Key: { pk: 'ART#42', sk: 'F#src/hello.c' },
      ConditionExpression: 'attribute_exists(#pk) AND #complete = :complete',
      ExpressionAttributeValues: { ':complete': false },
    });
    expect(bump!.Update!.ExpressionAttributeValues).toMatchObject({ ':delta': -1 });
  });

  it('an immutable artifact wins over a taken path in the error', async () => {
    ddb.on(TransactWriteCommand).rejects(cancelled({ Code: 'ConditionalCheckFailed', Item: {} }, { Code: 'ConditionalCheckFailed', Item: { immutable: { BOOL: true }, version: { N: '3' } } }));
    await expect(repo.attachFile(artifact, 3, done)).rejects.toThrow(/immutable/);
  });
});

describe('completeFile', () => {
  const asVerified = { sha256: SHA, size: 99, uploadKey: 'staging/k' };
  it('is one transaction: the file conditioned on being incomplete and the verified row, the artifact count -1 conditioned on existing, the bytes on being stored', async () => {
    ddb.on(TransactWriteCommand).resolves({});
    expect(await repo.completeFile(42, 'src/hello.c', '2026-11-22T11:00:00.000Z', asVerified)).toBe(true);
    expect(ddb.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems).toEqual([
      {
        Update: {
          TableName: 'main',
          Key: { pk: 'ART#42', sk: 'F#src/hello.c' },
          UpdateExpression: 'SET #complete = :true, #completedAt = :at, #gsi1pk = #wsBlobPk, #gsi1sk = #wsBlobSk REMOVE #upload',
          ConditionExpression: '#complete = :false AND #sha256 = :sha256 AND #size = :size AND #upload.#key = :uploadKey',
          ExpressionAttributeNames: {
            '#complete': 'complete',
            '#completedAt': 'completedAt',
            '#gsi1pk': 'gsi1pk',
            '#gsi1sk': 'gsi1sk',
            '#wsBlobPk': 'wsBlobPk',
            '#wsBlobSk': 'wsBlobSk',
            '#upload': 'upload',
            '#sha256': 'sha256',
            '#size': 'size',
            '#key': 'key',
          },
          ExpressionAttributeValues: {
            ':true': true,
            ':false': false,
            ':at': '2026-11-22T11:00:00.000Z',
            ':sha256': SHA,
            ':size': 99,
            ':uploadKey': 'staging/k',
          },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      },
      {
        Update: {
          TableName: 'main',
          Key: { pk: 'ART#42', sk: 'A' },
          UpdateExpression: 'ADD #incompleteFiles :minusOne',
          ConditionExpression: 'attribute_exists(#pk)',
          ExpressionAttributeNames: { '#pk': 'pk', '#incompleteFiles': 'incompleteFiles' },
          ExpressionAttributeValues: { ':minusOne': -1 },
        },
      },
      {
        ConditionCheck: {
          TableName: 'main',
          Key: { pk: `BLOB#${SHA}-99`, sk: 'B' },
          ConditionExpression: '#state = :stored OR (attribute_exists(#pk) AND attribute_not_exists(#state))',
          ExpressionAttributeNames: { '#pk': 'pk', '#state': 'state' },
          ExpressionAttributeValues: { ':stored': 'stored' },
        },
      },
    ]);
  });

  it('bytes no longer stored (a sweep condemned them) are a BlobNotClaimableError', async () => {
    ddb.on(TransactWriteCommand).rejects(cancelled({ Code: 'None' }, { Code: 'None' }, { Code: 'ConditionalCheckFailed' }));
    await expect(repo.completeFile(42, 'src/hello.c', '2026-11-22T11:00:00.000Z', asVerified)).rejects.toBeInstanceOf(BlobNotClaimableError);
  });

  it('returns false when the file was already complete', async () => {
    ddb.on(TransactWriteCommand).rejects(cancelled({ Code: 'ConditionalCheckFailed', Item: { complete: { BOOL: true } } }, { Code: 'None' }));
    expect(await repo.completeFile(42, 'src/hello.c', '2026-11-22T11:00:00.000Z', asVerified)).toBe(false);
  });

  it('a missing file or artifact is a NotFoundError', async () => {
    ddb
      .on(TransactWriteCommand)
      .rejectsOnce(cancelled({ Code: 'ConditionalCheckFailed' }, { Code: 'None' }))
      .rejectsOnce(cancelled({ Code: 'None' }, { Code: 'ConditionalCheckFailed' }));
    await expect(repo.completeFile(42, 'nope', 'x', asVerified)).rejects.toThrow(/File not found/);
    await expect(repo.completeFile(42, 'src/hello.c', 'x', asVerified)).rejects.toThrow(/Artifact not found/);
  });

  it('retries a transaction that collided with another one', async () => {
    ddb
      .on(TransactWriteCommand)
      .rejectsOnce(cancelled({ Code: 'TransactionConflict' }, { Code: 'None' }))
      .rejectsOnce(cancelled({ Code: 'None' }, { Code: 'TransactionConflict' }))
      .resolves({});
    expect(await repo.completeFile(42, 'src/hello.c', 'x', asVerified)).toBe(true);
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 3);
  });

  it('gives up on endless collisions with a ConflictError, not a raw SDK error', async () => {
    ddb.on(TransactWriteCommand).rejects(cancelled({ Code: 'TransactionConflict' }, { Code: 'None' }));
    await expect(repo.completeFile(42, 'src/hello.c', 'x', asVerified)).rejects.toBeInstanceOf(ConflictError);
  }, 10_000);
});

describe('setUploadState', () => {
  it('sets the state (without undefined values) or removes it, only while the file is incomplete', async () => {
    ddb.on(UpdateCommand).resolves({});
    await repo.setUploadState(42, 'a', { key: 'k', multipartUploadId: undefined, rangedChunks: ['c'] });
    await repo.setUploadState(42, 'a', undefined);
    const [set, remove] = ddb.commandCalls(UpdateCommand).map((c) => c.args[0].input);
    expect(set).toMatchObject({
      Key: { pk: 'ART#42', sk: 'F#a' },
      UpdateExpression: 'SET #upload = :upload',
      ConditionExpression: '#complete = :false',
      ExpressionAttributeValues: { ':upload': { key: 'k', rangedChunks: ['c'] }, ':false': false },
    });
    expect(Object.keys(set!.ExpressionAttributeValues![':upload'])).toEqual(['key', 'rangedChunks']);
    expect(remove).toMatchObject({ UpdateExpression: 'REMOVE #upload', ConditionExpression: '#complete = :false' });
  });

  it('on a complete file is a ConflictError, on a missing one a NotFoundError', async () => {
    ddb.on(UpdateCommand).rejectsOnce(conditionFailed({ complete: { BOOL: true } })).rejectsOnce(conditionFailed());
    await expect(repo.setUploadState(42, 'a', { key: 'k' })).rejects.toBeInstanceOf(ConflictError);
    await expect(repo.setUploadState(42, 'a', { key: 'k' })).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe('delete', () => {
  it('deletes the artifact item first (version, not immutable), then its rows and the relations to it', async () => {
    ddb.on(DeleteCommand).resolves({});
    ddb.on(QueryCommand, { IndexName: 'gsi1' }).resolves({ Items: [{ pk: 'ART#7', sk: 'R#0000000000000042#extends' }] });
    ddb.on(QueryCommand, { KeyConditionExpression: '#pk = :pk' }).resolves({ Items: [{ pk: 'ART#42', sk: 'F#a' }, { pk: 'ART#42', sk: 'R#0000000000000009#built-using' }] });
    ddb.on(BatchWriteCommand).resolves({});
    await repo.delete(artifact);
    const calls = ddb.calls().map((c) => c.args[0].constructor.name);
    expect(calls[0]).toBe('DeleteCommand');
    expect(calls[calls.length - 1]).toBe('BatchWriteCommand');
    expect(ddb.commandCalls(DeleteCommand)[0]!.args[0].input).toEqual({
      TableName: 'main',
      Key: { pk: 'ART#42', sk: 'A' },
      ConditionExpression: 'attribute_exists(#pk) AND #version = :expected AND #immutable = :false AND attribute_not_exists(#condemnedAt)',
      ExpressionAttributeNames: { '#pk': 'pk', '#version': 'version', '#immutable': 'immutable', '#condemnedAt': 'condemnedAt' },
      ExpressionAttributeValues: { ':expected': 3, ':false': false },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    });
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, { IndexName: 'gsi1', ExpressionAttributeValues: { ':pk': 'RELTO#42' } });
    expect(ddb.commandCalls(BatchWriteCommand)[0]!.args[0].input.RequestItems!.main!.map((r) => r.DeleteRequest!.Key)).toEqual([
      { pk: 'ART#42', sk: 'F#a' },
      { pk: 'ART#42', sk: 'R#0000000000000009#built-using' },
      { pk: 'ART#7', sk: 'R#0000000000000042#extends' },
    ]);
  });

  it('of an immutable artifact is a ConflictError and deletes nothing else', async () => {
    ddb.on(DeleteCommand).rejects(conditionFailed({ immutable: { BOOL: true }, version: { N: '3' } }));
    await expect(repo.delete(artifact)).rejects.toThrow(/immutable/);
    expect(ddb).not.toHaveReceivedCommand(QueryCommand);
    expect(ddb).not.toHaveReceivedCommand(BatchWriteCommand);
  });
});

describe('blobVisibleInWorkspace', () => {
  it('queries the sparse gsi1 index with Limit 1 and checks the owning artifact exists', async () => {
    ddb.on(QueryCommand).resolves({ Items: [{ pk: 'ART#5', sk: 'F#x' }] });
    ddb.on(GetCommand).resolves({ Item: { pk: 'ART#5' } });
    expect(await repo.blobVisibleInWorkspace('debusine', 'System', SHA, 12)).toBe(true);
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
      IndexName: 'gsi1',
      KeyConditionExpression: '#gsi1pk = :pk',
      ExpressionAttributeValues: { ':pk': `WSBLOB#debusine#System#${SHA}-12` },
      Limit: 1,
    });
    expect(ddb).toHaveReceivedCommandWith(GetCommand, { Key: { pk: 'ART#5', sk: 'A' }, ConsistentRead: true });
  });

  it('is false without a hit', async () => {
    ddb.on(QueryCommand).resolves({ Items: [] });
    expect(await repo.blobVisibleInWorkspace('debusine', 'System', SHA, 12)).toBe(false);
    expect(ddb).not.toHaveReceivedCommand(GetCommand);
  });
});

describe('createRelation', () => {
  const relation: ArtifactRelation = { id: 7, artifact: 42, target: 43, type: 'built-using', createdAt: '2026-11-22T10:00:00.000Z' };

  it('puts the relation keyed by the triple, if absent, and checks both artifacts exist', async () => {
    ddb.on(TransactWriteCommand).resolves({});
    expect(await repo.createRelation(relation)).toEqual({ relation, created: true });
    const items = ddb.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems!;
    expect(items[0]!.Put).toEqual({
      TableName: 'main',
      ConditionExpression: 'attribute_not_exists(#pk)',
      ExpressionAttributeNames: { '#pk': 'pk' },
      Item: {
        pk: 'ART#42',
        sk: 'R#0000000000000043#built-using',
        entity: 'relation',
        id: 7,
        artifact: 42,
        target: 43,
        type: 'built-using',
        createdAt: '2026-11-22T10:00:00.000Z',
        gsi1pk: 'RELTO#43',
        gsi1sk: '0000000000000042#built-using',
        gsi2pk: 'REL#7',
        gsi2sk: 'R',
      },
    });
    expect(items.slice(1).map((i) => [i.ConditionCheck!.Key, i.ConditionCheck!.ConditionExpression])).toEqual([
      [{ pk: 'ART#42', sk: 'A' }, 'attribute_exists(#pk)'],
      [{ pk: 'ART#43', sk: 'A' }, 'attribute_exists(#pk) AND attribute_not_exists(#condemnedAt)'],
    ]);
  });

  it('when the triple exists, reads and returns the stored relation with created=false', async () => {
    const stored = { ...relation, id: 3, createdAt: '2026-01-01T00:00:00.000Z' };
    ddb.on(TransactWriteCommand).rejects(cancelled({ Code: 'ConditionalCheckFailed' }, { Code: 'None' }, { Code: 'None' }));
    ddb.on(GetCommand).resolves({ Item: { pk: 'ART#42', sk: 'R#0000000000000043#built-using', entity: 'relation', gsi1pk: 'RELTO#43', ...stored } });
    expect(await repo.createRelation(relation)).toEqual({ relation: stored, created: false });
    expect(ddb).toHaveReceivedCommandWith(GetCommand, { Key: { pk: 'ART#42', sk: 'R#0000000000000043#built-using' }, ConsistentRead: true });
  });

  it('a missing target is a NotFoundError', async () => {
    ddb.on(TransactWriteCommand).rejects(cancelled({ Code: 'None' }, { Code: 'None' }, { Code: 'ConditionalCheckFailed' }));
    await expect(repo.createRelation(relation)).rejects.toThrow(/artifact 43 does not exist/);
  });
});
