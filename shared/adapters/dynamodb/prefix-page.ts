import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { checkLimit, decodeCursor, type Item, names, queryPage } from './support';

/**
 * One consistent page of a partition's rows whose sort key starts with `prefix`, in sort-key order;
 * the cursor is the last row's key (pk, sk), so rows added before it do not shift the next page.
 */
export async function queryPrefixPage(
  doc: DynamoDBDocumentClient,
  tableName: string,
  pk: string,
  prefix: string,
  opts: { limit: number; cursor?: string },
): Promise<{ items: Item[]; next?: string }> {
  checkLimit(opts.limit);
  const keyNames = ['pk', 'sk'] as const;
  return queryPage(
    doc,
    {
      TableName: tableName,
      KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
      ExpressionAttributeNames: names('pk', 'sk'),
      ExpressionAttributeValues: { ':pk': pk, ':prefix': prefix },
      ConsistentRead: true,
    },
    { limit: opts.limit, keyNames, filtered: false, ...(opts.cursor ? { start: decodeCursor(opts.cursor, keyNames) } : {}) },
  );
}
