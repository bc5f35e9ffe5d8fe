/** Hi/lo ids (BlockSequences over DynamoSequences) against DynamoDB Local: two "function instances" on one counter item. */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { BlockSequences } from '../../shared/adapters/dynamodb/id-blocks';
import { DynamoSequences } from '../../shared/adapters/dynamodb/sequences';
import { keys } from '../../shared/adapters/dynamodb/keys';

const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
const table = process.env.CONVEYOR_TABLE_MAIN!;
afterAll(() => doc.destroy());

test('concurrent instances get unique ids, increasing per instance, with one counter write per block', async () => {
  const name = `rate:id-blocks-${randomUUID()}` as const;
  const counter = new DynamoSequences(doc, table);
  let writes = 0;
  const counting = { reserve: (n: typeof name, count: number) => (writes++, counter.reserve(n, count)) };
  const instances = [0, 1, 2].map(() => new BlockSequences(counting, { [name]: 20 }));
  const perInstance = await Promise.all(
    instances.map(async (seq) => {
      const ids: number[] = [];
      for (let i = 0; i < 30; i++) ids.push(await seq.next(name));
      return ids;
    }),
  );
  const all = perInstance.flat();
  expect(new Set(all).size).toBe(90);
  for (const ids of perInstance) expect(ids).toEqual([...ids].sort((a, b) => a - b));
  expect(writes).toBe(6); // 2 blocks of 20 for each instance's 30 ids
  const stored = await doc.send(new GetCommand({ TableName: table, Key: keys.sequence(name), ConsistentRead: true }));
  expect(stored.Item?.value).toBe(120); // the highest id reserved
  expect(Math.max(...all)).toBeLessThanOrEqual(120);
});
