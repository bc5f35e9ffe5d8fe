/**
 * The worker listing (gsi1 `WORKERS` / `WORKERS#DISABLED`, by name) as an item of its own:
 * `WORKER#<name>` / `LIST`, holding only the name and the listing key. The worker item (`K`) is
 * written on every slot taken or given back (its `assigned` counter, its free-slot entry): while it
 * carried the listing key too, and gsi1 projects ALL, each of those writes rewrote its gsi1 entry
 * (3 write units instead of 2). The listing key changes only with `enabled`, so the listing item is
 * written with the worker's versioned updates (in the same transaction), and readers of the listing
 * read the worker items themselves (BatchGetItem, consistent): `assigned` and the slot holders are
 * then exact, where the index's copy lagged.
 *
 * Worker items written before (legacy: the listing key on `K`) are listed as they are; the next
 * versioned update of such a worker moves the key to its listing item (docs/decisions.md).
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { GSI1, indexKeys, keys } from './keys';
import { batchGet, type Item, queryAll } from './support';

export const WORKER_LISTING_SK = 'LIST';

export function workerListingKey(name: string): { pk: string; sk: string } {
  return { pk: keys.worker(name).pk, sk: WORKER_LISTING_SK };
}

/** The listing item of a worker: in `WORKERS` when enabled, `WORKERS#DISABLED` otherwise. */
export function workerListingItem(name: string, enabled: boolean): Item {
  return {
    ...workerListingKey(name),
    entity: 'workerListing',
    name,
    gsi1pk: enabled ? indexKeys.workers() : indexKeys.disabledWorkers(),
    gsi1sk: name,
  };
}

/**
 * The worker items (`K`) listed in one gsi1 partition, in its order (by name): a Query of the
 * partition, then one consistent BatchGetItem per 100 listing items (a legacy worker item in the
 * partition is taken as it is). A listing item whose worker item is missing (never, as both are
 * written in one transaction) is skipped.
 */
export async function listedWorkerItems(doc: DynamoDBDocumentClient, tableName: string, partition: string): Promise<Item[]> {
  const rows = await queryAll(doc, {
    TableName: tableName,
    IndexName: GSI1,
    KeyConditionExpression: 'gsi1pk = :pk',
    ExpressionAttributeValues: { ':pk': partition },
  });
  const listed = rows.filter((row) => row.sk === WORKER_LISTING_SK).map((row) => keys.worker(row.name));
  // No listing item, no request (batchGet sends nothing for no keys).
  const fetched = new Map((await batchGet(doc, tableName, listed, { consistent: true })).map((item) => [item.name, item]));
  return rows.map((row) => (row.sk === WORKER_LISTING_SK ? fetched.get(row.name) : row)).filter(Boolean) as Item[];
}
