/**
 * The work-request listing: gsi4 `WRS#<scope>` / `<createdAt>#<id16>`, projecting only `workspace` and
 * `taskName` (they never change after create), so starting or finishing a request does not rewrite
 * its entry (docs/decisions.md, "work-request listing on its own index"). A page is one Query of the
 * index (workspace and task name as FilterExpressions) and one BatchGetItem of its items; the status
 * is filtered after the fetch (it changes, so the index does not carry it).
 *
 * Items written before schema revision 0004 carry their entry on gsi1 (same keys); until that
 * revision is recorded, a page also reads gsi1 from the same position and merges both by sort key.
 */
import { GetCommand, type DynamoDBDocumentClient, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { ValidationError } from '../../domain/errors';
import type { Page, WorkRequestListFilter } from '../../ports';
import { GSI1, GSI4, indexKeys, workRequestPk } from './keys';
import { batchGet, checkLimit, decodeCursor, encodeCursor, type Item, names, queryPage } from './support';

/** The schema revision that moves legacy entries from gsi1 to gsi4 (shared/app/listing-index-migration.ts). */
export const LISTING_INDEX_REVISION = '0004_work_request_listing_index';

/** Tables known to be at or after LISTING_INDEX_REVISION: a revision never goes back while this code serves. */
const migratedTables = new Set<string>();

/** The cursor continuing after the entry with sort key `<createdAt>#<id16>` of a scope's listing. */
function position(partition: string, sortKey: string): string {
  const id = Number(sortKey.slice(sortKey.lastIndexOf('#') + 1));
  return encodeCursor({ pk: workRequestPk(id), sk: 'W', gsi4pk: partition, gsi4sk: sortKey });
}

export function listingCursorAfter(scope: string, sortKey: string): string {
  return position(indexKeys.scopeWorkRequests(scope), sortKey);
}

/** The sort key a page stopped at (a `next` of queryPage on gsi4 or gsi1), or undefined. */
function stoppedAt(next: string | undefined, index: string): string | undefined {
  return next === undefined ? undefined : decodeCursor(next, ['pk', 'sk', `${index}pk`, `${index}sk`])[`${index}sk`];
}

/** Rounds (Query + BatchGetItem of `limit` entries each) one status-filtered call may read before it returns a short page. */
export const STATUS_ROUNDS = 5;

/**
 * One page. With a status filter (checked on the fetched items), reads on from where a round stopped,
 * for at most STATUS_ROUNDS rounds, until `limit` requests match: about as many entries as the
 * FilterExpression on status read before (10 queries), so a caller reading one page (the balanced
 * policy's count of active workflows) sees as much as it did.
 */
export async function listWorkRequestItems(doc: DynamoDBDocumentClient, tableName: string, filter: WorkRequestListFilter): Promise<Page<Item>> {
  if (filter.status === undefined) return listRound(doc, tableName, filter);
  const found: Item[] = [];
  let cursor = filter.cursor;
  for (let round = 0; round < STATUS_ROUNDS; round++) {
    const page = await listRound(doc, tableName, { ...filter, ...(cursor !== undefined ? { cursor } : {}) });
    for (const [i, item] of page.items.entries()) {
      found.push(item);
      if (found.length < filter.limit) continue;
      const last = i === page.items.length - 1;
      if (last && page.next === undefined) return { items: found };
      return { items: found, next: last && page.next !== undefined ? page.next : listingCursorAfter(filter.scope, String(item.gsi4sk ?? item.gsi1sk)) };
    }
    if (page.next === undefined) return { items: found };
    cursor = page.next;
  }
  return { items: found, next: cursor! };
}

async function listRound(doc: DynamoDBDocumentClient, tableName: string, filter: WorkRequestListFilter): Promise<Page<Item>> {
  checkLimit(filter.limit);
  const partition = indexKeys.scopeWorkRequests(filter.scope);
  let after: string | undefined;
  if (filter.cursor !== undefined) {
    const start = decodeCursor(filter.cursor, ['pk', 'sk'], ['gsi4pk', 'gsi4sk', 'gsi1pk', 'gsi1sk']);
    if (start.gsi4pk !== partition || start.gsi4sk === undefined || start.sk !== 'W' || !start.pk?.startsWith('WR#')) {
      throw ValidationError.field('cursor', 'does not belong to this listing (scope and filters must stay the same)');
    }
    after = start.gsi4sk;
  }
  const conditions: string[] = [];
  const attributeNames: Record<string, string> = {};
  const values: Item = { ':pk': partition };
  for (const [field, value] of [
    ['workspace', filter.workspace],
    ['taskName', filter.taskName],
  ] as const) {
    if (value === undefined) continue;
    conditions.push(`#${field} = :${field}`);
    attributeNames[`#${field}`] = field;
    values[`:${field}`] = value;
  }
  const filtered = conditions.length > 0;
  const query = (index: string, bounded: boolean): QueryCommandInput => ({
    TableName: tableName,
    IndexName: index,
    KeyConditionExpression: bounded ? `#${index}pk = :pk AND #${index}sk < :after` : `#${index}pk = :pk`,
    ExpressionAttributeNames: { ...attributeNames, ...names(`${index}pk`, ...(bounded ? [`${index}sk`] : [])) },
    ExpressionAttributeValues: bounded ? { ...values, ':after': after } : values,
    ScanIndexForward: false,
    ...(filtered ? { FilterExpression: conditions.join(' AND ') } : {}),
  });
  const keyNames = (index: string) => ['pk', 'sk', `${index}pk`, `${index}sk`];
  const [current, legacy] = await Promise.all([
    queryPage(doc, query(GSI4, after !== undefined), { limit: filter.limit, keyNames: keyNames(GSI4), filtered }),
    legacyEntriesMayExist(doc, tableName).then((may) =>
      may ? queryPage(doc, query(GSI1, after !== undefined), { limit: filter.limit, keyNames: keyNames(GSI1), filtered }) : undefined,
    ),
  ]);

  // Each page covers its index from the start down to where it stopped (that entry included): keep
  // what both covered, and continue after the higher stop.
  const stops = [stoppedAt(current.next, GSI4), stoppedAt(legacy?.next, GSI1)].filter((s): s is string => s !== undefined);
  const boundary = stops.length > 0 ? stops.reduce((a, b) => (a > b ? a : b)) : undefined;
  const entries = new Map<string, string>(); // pk -> sort key (an entry moved mid-listing is in both)
  for (const i of current.items) entries.set(String(i.pk), String(i.gsi4sk));
  for (const i of legacy?.items ?? []) entries.set(String(i.pk), String(i.gsi1sk));
  const ordered = [...entries].filter(([, sk]) => boundary === undefined || sk >= boundary).sort((a, b) => (a[1] < b[1] ? 1 : a[1] > b[1] ? -1 : 0));
  const kept = ordered.slice(0, filter.limit);
  const next = ordered.length > filter.limit ? kept[kept.length - 1]![1] : boundary;

  const items = await batchGet(doc, tableName, kept.map(([pk]) => ({ pk, sk: 'W' })));
  const byPk = new Map(items.map((i) => [String(i.pk), i]));
  const page = kept.flatMap(([pk]) => {
    const item = byPk.get(pk);
    return item && (filter.status === undefined || item.status === filter.status) ? [item] : [];
  });
  return { items: page, ...(next !== undefined ? { next: position(partition, next) } : {}) };
}

/** Whether items may still carry their listing entry on gsi1: the schema revision is before LISTING_INDEX_REVISION. */
async function legacyEntriesMayExist(doc: DynamoDBDocumentClient, tableName: string): Promise<boolean> {
  if (migratedTables.has(tableName)) return false;
  const res = await doc.send(new GetCommand({ TableName: tableName, Key: { pk: 'SCHEMA', sk: 'CURRENT' } }));
  const revision = res.Item?.revision;
  // Revisions are `<4 digits>_<name>`: their order is the string order (`base` and none are before all).
  if (typeof revision === 'string' && /^\d{4}_/.test(revision) && revision >= LISTING_INDEX_REVISION) {
    migratedTables.add(tableName);
    return false;
  }
  return true;
}
