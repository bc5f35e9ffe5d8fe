/**
 * Reading a sharded "due" index on gsi3: partitions `<prefix><shard>` with sort keys
 * `<ISO time>#<id>`. One Query per shard for the entries due at or before `upTo`, merged oldest
 * first and cut to `limit`: what is read is what is due, whatever else the index holds.
 */
import { type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { GSI3 } from './keys';
import { type Item, names } from './support';

export async function dueEntries(doc: DynamoDBDocumentClient, tableName: string, prefix: string, shards: number, upTo: string, limit: number): Promise<Item[]> {
  const rows: Item[] = [];
  for (let shard = 0; shard < shards; shard++) {
    const res = await doc.send(
      new QueryCommand({
        TableName: tableName,
        IndexName: GSI3,
        KeyConditionExpression: '#gsi3pk = :pk AND #gsi3sk <= :upTo',
        ExpressionAttributeNames: names('gsi3pk', 'gsi3sk'),
        // `<time>#<id>`: every entry of that time sorts below `<time>#~`.
        ExpressionAttributeValues: { ':pk': `${prefix}${shard}`, ':upTo': `${upTo}#~` },
        Limit: limit,
      }),
    );
    rows.push(...(res.Items ?? []));
  }
  return rows.sort((a, b) => (String(a.gsi3sk) < String(b.gsi3sk) ? -1 : 1)).slice(0, limit);
}
