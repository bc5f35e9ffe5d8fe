/**
 * Schema revision 0004 on DynamoDB (shared/app/listing-index-migration.ts): work requests' listing
 * entries move between gsi1 (before it) and gsi4 (the listing's own index, work-request-listing.ts).
 * Kept apart from the listing: only the schema store, which migrations use, needs it.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { names, scanPages, updateIf } from './support';

/**
 * Moves every listing entry of one index to the other (`gsi1` → `gsi4` to upgrade, back to downgrade):
 * a Scan for items whose `<from>pk` starts with `WRS#`, then per item an UpdateItem that sets the
 * `<to>` keys and removes the `<from>` ones, conditional on the item's version and on the entry still
 * being there (a request rewritten meanwhile already has the shape its writer gives it). Returns how
 * many items moved; running it again moves nothing more.
 */
export async function moveListingEntries(doc: DynamoDBDocumentClient, tableName: string, from: 'gsi1' | 'gsi4', to: 'gsi1' | 'gsi4'): Promise<number> {
  let moved = 0;
  const fromNames = { '#version': 'version', '#fpk': `${from}pk`, '#fsk': `${from}sk` };
  const pages = scanPages(doc, {
    TableName: tableName,
    FilterExpression: 'begins_with(#fpk, :prefix) AND #sk = :w',
    ProjectionExpression: '#pk, #sk, #fpk, #fsk, #version',
    ExpressionAttributeNames: { ...fromNames, ...names('pk', 'sk') },
    ExpressionAttributeValues: { ':prefix': 'WRS#', ':w': 'W' },
  });
  for await (const items of pages) {
    for (const item of items) {
      const outcome = await updateIf(doc, {
        TableName: tableName,
        Key: { pk: item.pk, sk: item.sk },
        UpdateExpression: 'SET #tpk = :pk, #tsk = :sk REMOVE #fpk, #fsk',
        ConditionExpression: '#version = :version AND #fpk = :pk AND #fsk = :sk',
        ExpressionAttributeNames: { ...fromNames, '#tpk': `${to}pk`, '#tsk': `${to}sk` },
        ExpressionAttributeValues: { ':pk': item[`${from}pk`], ':sk': item[`${from}sk`], ':version': item.version },
      });
      if (outcome.ok) moved++;
    }
  }
  return moved;
}
