/**
 * Provisioning an older local data directory: a main table created before the manifest gained
 * gsi3 (the work-request scheduling index) gets the missing index, ACTIVE, and keeps its items.
 * Runs on emulators of its own (in-memory DynamoDB Local): on the shared one, whose JVM serves every
 * integration test at once, building the index once stayed CREATING past 3 minutes in a full CI run
 * while it takes about a second alone.
 */
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startEmulators, type RunningEmulators } from '../../cli/dev/emulators';
import { physicalTableName, provision } from '../../cli/dev/provision';
import { TABLES } from '../../shared/manifest';

const dataDir = mkdtempSync(join(tmpdir(), 'conveyor-provision-'));
let emulators: RunningEmulators;
let client: DynamoDBClient;
beforeAll(async () => {
  emulators = await startEmulators({ dataDir, inMemoryDynamoDb: true });
  client = new DynamoDBClient({ region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, endpoint: emulators.endpoints.dynamodb });
}, 120_000);
afterAll(async () => {
  client?.destroy();
  await emulators?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

test('a table missing an index of the manifest gets it added (ACTIVE) and keeps its data', async () => {
  const prefix = `upgrade-${randomUUID().slice(0, 8)}`;
  const tableName = physicalTableName(TABLES.main, prefix);
  const old = TABLES.main.indexes.filter((i) => i.name === 'gsi1');
  expect(TABLES.main.indexes.map((i) => i.name)).toContain('gsi3');
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: ['pk', 'sk', 'gsi1pk', 'gsi1sk'].map((name) => ({ AttributeName: name, AttributeType: 'S' })),
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: old.map((i) => ({
        IndexName: i.name,
        KeySchema: [
          { AttributeName: i.partitionKey, KeyType: 'HASH' },
          { AttributeName: i.sortKey, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      })),
    }),
  );
  const doc = DynamoDBDocumentClient.from(client);
  await doc.send(new PutCommand({ TableName: tableName, Item: { pk: 'KEEP', sk: 'ME', gsi3pk: 'P', gsi3sk: 'S' } }));

  await provision(
    emulators.endpoints,
    { namePrefix: prefix },
  );

  const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
  const indexes = Table!.GlobalSecondaryIndexes ?? [];
  expect(indexes.map((i) => i.IndexName).sort()).toEqual(TABLES.main.indexes.map((i) => i.name).sort());
  for (const index of indexes) {
    expect(index.IndexStatus ?? 'ACTIVE').toBe('ACTIVE');
    // As the manifest says: ALL, or INCLUDE of the listed attributes (gsi4, the work-request listing).
    const spec = TABLES.main.indexes.find((i) => i.name === index.IndexName)!;
    expect(index.Projection?.ProjectionType).toBe(spec.projection ? 'INCLUDE' : 'ALL');
    expect([...(index.Projection?.NonKeyAttributes ?? [])].sort()).toEqual([...(spec.projection?.include ?? [])].sort());
  }
  expect(indexes.find((i) => i.IndexName === 'gsi4')?.Projection).toMatchObject({ ProjectionType: 'INCLUDE' });
  const kept = await doc.send(new GetCommand({ TableName: tableName, Key: { pk: 'KEEP', sk: 'ME' }, ConsistentRead: true }));
  expect(kept.Item).toMatchObject({ gsi3pk: 'P' });
  // The new index was backfilled with the existing items.
  const backfilled = await doc.send(
    new QueryCommand({
      TableName: tableName,
      IndexName: 'gsi3',
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': 'gsi3pk' },
      ExpressionAttributeValues: { ':pk': 'P' },
    }),
  );
  expect(backfilled.Items?.map((i) => i.pk)).toEqual(['KEEP']);

  // Provisioning again changes nothing (and does not fail).
  await provision(
    emulators.endpoints,
    { namePrefix: prefix },
  );
}, 240_000);
