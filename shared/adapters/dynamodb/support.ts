/** Small helpers shared by the DynamoDB repositories: expressions, paging, cursors, batch deletes. */
import {
  BatchGetCommand,
  BatchWriteCommand,
  DeleteCommand,
  type DynamoDBDocumentClient,
  type NativeAttributeValue,
  QueryCommand,
  type QueryCommandInput,
  ScanCommand,
  type ScanCommandInput,
  TransactWriteCommand,
  type TransactWriteCommandInput,
  UpdateCommand,
  type UpdateCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { ValidationError } from '../../domain/errors';
import { attempt, failedAt, type Outcome, versionedWriteError } from './errors';
import { GSI1, type Key } from './keys';

export type Item = Record<string, NativeAttributeValue>;

/** `ExpressionAttributeNames` for `#name` placeholders (every attribute is aliased: many are reserved words). */
export function names(...attributes: string[]): Record<string, string> {
  return Object.fromEntries(attributes.map((a) => [`#${a}`, a]));
}

/**
 * The expressions of an UpdateItem that writes `attrs` over a versioned item: SET each attribute
 * that has a value and `version` = expected + 1, REMOVE those that are undefined (cleared), on
 * condition that the item exists at `expectedVersion` (with the old item returned when it does
 * not, for `versionedWriteError`). Attributes not in `attrs` are left alone.
 */
export function versionedUpdate(
  attrs: Record<string, unknown>,
  expectedVersion: number,
): Pick<
  UpdateCommandInput,
  'UpdateExpression' | 'ConditionExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues' | 'ReturnValuesOnConditionCheckFailure'
> {
  const set = Object.keys(attrs).filter((k) => attrs[k] !== undefined);
  const remove = Object.keys(attrs).filter((k) => attrs[k] === undefined);
  const values: Item = { ':expected': expectedVersion, ':next': expectedVersion + 1 };
  for (const k of set) values[`:${k}`] = attrs[k];
  return {
    UpdateExpression: `SET ${[...set.map((k) => `#${k} = :${k}`), '#version = :next'].join(', ')}${
      remove.length ? ` REMOVE ${remove.map((k) => `#${k}`).join(', ')}` : ''
    }`,
    ConditionExpression: 'attribute_exists(#pk) AND #version = :expected',
    ExpressionAttributeNames: names('pk', 'version', ...set, ...remove),
    ExpressionAttributeValues: values,
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
  };
}

/**
 * A transaction's Put of a whole versioned item over the one stored at `expectedVersion` (the
 * old item is returned when the condition fails, to tell a lost race from a missing item).
 */
export function versionedPut(tableName: string, item: Item, expectedVersion: number) {
  return {
    TableName: tableName,
    Item: item,
    ConditionExpression: 'attribute_exists(#pk) AND #version = :expected',
    ExpressionAttributeNames: names('pk', 'version'),
    ExpressionAttributeValues: { ':expected': expectedVersion },
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
  };
}

/** A copy without `undefined` values, at any depth (the client may not be set to remove them). */
export function compact<T>(value: T): T {
  if (Array.isArray(value)) return value.filter((v) => v !== undefined).map((v) => compact(v)) as T;
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => [k, compact(v)]),
    ) as T;
  }
  return value;
}

/** The pages `read` returns, one after the other, following LastEvaluatedKey from `start`. */
async function* pagesOf(read: (start: Item | undefined) => Promise<{ Items?: Item[]; LastEvaluatedKey?: Item }>, start: Item | undefined): AsyncGenerator<Item[]> {
  do {
    const res = await read(start);
    yield res.Items ?? [];
    start = res.LastEvaluatedKey;
  } while (start);
}

/** Every item of every page `read` returns, following LastEvaluatedKey from `start`. */
async function allPages(read: (start: Item | undefined) => Promise<{ Items?: Item[]; LastEvaluatedKey?: Item }>, start: Item | undefined): Promise<Item[]> {
  const items: Item[] = [];
  for await (const page of pagesOf(read, start)) items.push(...page);
  return items;
}

/** Every item a query matches, following LastEvaluatedKey. */
export function queryAll(doc: DynamoDBDocumentClient, input: QueryCommandInput): Promise<Item[]> {
  return allPages((start) => doc.send(new QueryCommand(start ? { ...input, ExclusiveStartKey: start } : input)), input.ExclusiveStartKey);
}

/** One conditional UpdateItem, retried on collisions with transactions (see `attempt`). */
export function updateIf(doc: DynamoDBDocumentClient, input: UpdateCommandInput) {
  return attempt(() => doc.send(new UpdateCommand(input)));
}

/** Deletes the item at `key` if each attribute of `expected` still holds its value; resolves whether it did. */
export async function deleteIfUnchanged(doc: DynamoDBDocumentClient, tableName: string, key: Key, expected: Item): Promise<boolean> {
  const attributes = Object.keys(expected);
  const outcome = await attempt(() =>
    doc.send(
      new DeleteCommand({
        TableName: tableName,
        Key: key,
        ConditionExpression: attributes.map((a) => `#${a} = :${a}`).join(' AND '),
        ExpressionAttributeNames: names(...attributes),
        ExpressionAttributeValues: Object.fromEntries(attributes.map((a) => [`:${a}`, expected[a]])),
      }),
    ),
  );
  return outcome.ok;
}

/** The pages of a scan, one at a time (for a scan whose items need not all be in memory at once). */
export function scanPages(doc: DynamoDBDocumentClient, input: ScanCommandInput): AsyncGenerator<Item[]> {
  return pagesOf((start) => doc.send(new ScanCommand(start ? { ...input, ExclusiveStartKey: start } : input)), input.ExclusiveStartKey);
}

/** Every item a scan matches, following LastEvaluatedKey. */
export function scanAll(doc: DynamoDBDocumentClient, input: ScanCommandInput): Promise<Item[]> {
  return allPages((start) => doc.send(new ScanCommand(start ? { ...input, ExclusiveStartKey: start } : input)), input.ExclusiveStartKey);
}

/** Which sort keys of a partition `queryPartition` reads: those that begin with, or sort before, a value. */
export type SortKeyCondition = { beginsWith: string } | { before: string };

/** Every item of partition `pk` (or those whose sort key meets `sortKey`), read consistently unless `consistent` is false. */
export function queryPartition(doc: DynamoDBDocumentClient, tableName: string, pk: string, sortKey?: SortKeyCondition, consistent = true): Promise<Item[]> {
  if (sortKey === undefined) {
    return queryAll(doc, { TableName: tableName, KeyConditionExpression: '#pk = :pk', ExpressionAttributeNames: names('pk'), ExpressionAttributeValues: { ':pk': pk }, ConsistentRead: consistent });
  }
  const [condition, value] = 'beginsWith' in sortKey ? ['begins_with(#sk, :sk)', sortKey.beginsWith] : ['#sk < :sk', sortKey.before];
  return queryAll(doc, {
    TableName: tableName,
    KeyConditionExpression: `#pk = :pk AND ${condition}`,
    ExpressionAttributeNames: names('pk', 'sk'),
    ExpressionAttributeValues: { ':pk': pk, ':sk': value },
    ConsistentRead: consistent,
  });
}

/** Every item of one partition of index gsi1 (an index read is eventually consistent); `projection` names the attributes wanted. */
export function queryIndexPartition(doc: DynamoDBDocumentClient, tableName: string, gsi1pk: string, projection?: string): Promise<Item[]> {
  return queryAll(doc, {
    TableName: tableName,
    IndexName: GSI1,
    KeyConditionExpression: '#gsi1pk = :pk',
    ExpressionAttributeNames: names('gsi1pk'),
    ExpressionAttributeValues: { ':pk': gsi1pk },
    ...(projection === undefined ? {} : { ProjectionExpression: projection }),
  });
}

/** Deletes items by key, 25 per BatchWriteItem, retrying unprocessed ones with backoff. */
export async function batchDelete(doc: DynamoDBDocumentClient, table: string, itemKeys: Key[]): Promise<void> {
  const unique = [...new Map(itemKeys.map((k) => [`${k.pk}\u0000${k.sk}`, k])).values()];
  for (let i = 0; i < unique.length; i += 25) {
    let requests = unique.slice(i, i + 25).map((k) => ({ DeleteRequest: { Key: { pk: k.pk, sk: k.sk } } }));
    for (let attemptNo = 1; requests.length > 0; attemptNo++) {
      if (attemptNo > 10) throw new Error(`BatchWriteItem left ${requests.length} deletes unprocessed on ${table}`);
      const res = await doc.send(new BatchWriteCommand({ RequestItems: { [table]: requests } }));
      requests = (res.UnprocessedItems?.[table] ?? []) as typeof requests;
      if (requests.length > 0) await new Promise((r) => setTimeout(r, Math.random() * 20 * 2 ** attemptNo));
    }
  }
}

/** Keys of an item, as used to build an ExclusiveStartKey from it. */
export function pick(item: Item, attributes: readonly string[]): Record<string, string> {
  return Object.fromEntries(attributes.map((a) => [a, String(item[a])]));
}

/** An opaque cursor: base64url of the JSON of a flat string map (e.g. a LastEvaluatedKey). */
export function encodeCursor(position: Record<string, string>): string {
  return Buffer.from(JSON.stringify(position), 'utf8').toString('base64url');
}

/**
 * Decodes a cursor made by `encodeCursor` and checks it has exactly `fields`, all strings;
 * anything else is a ValidationError on `cursor`.
 */
export function decodeCursor(cursor: string, fields: readonly string[], optional: readonly string[] = []): Record<string, string> {
  const invalid = () => ValidationError.field('cursor', 'is not a valid cursor (pass the cursor of the previous page unchanged)');
  if (cursor.length === 0 || cursor.length > 4096 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalid();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw invalid();
  const entries = Object.entries(parsed as Record<string, unknown>);
  const allowed = new Set([...fields, ...optional]);
  if (entries.some(([k, v]) => !allowed.has(k) || typeof v !== 'string' || v.length === 0)) throw invalid();
  if (fields.some((f) => !(f in (parsed as object)))) throw invalid();
  return parsed as Record<string, string>;
}

/** Checks a page size: a whole number from 1 to `max`. */
export function checkLimit(limit: number, max = 1000): void {
  if (!Number.isInteger(limit) || limit < 1 || limit > max) throw ValidationError.field('limit', `must be a whole number from 1 to ${max}`);
}

/**
 * Reads items by key with BatchGetItem (100 keys a request, duplicates asked once), retrying
 * unprocessed keys with backoff. Returns the items found, in no particular order.
 */
export async function batchGet(doc: DynamoDBDocumentClient, table: string, itemKeys: Key[], opts: { consistent?: boolean } = {}): Promise<Item[]> {
  const unique = [...new Map(itemKeys.map((k) => [`${k.pk}\u0000${k.sk}`, k])).values()];
  const found: Item[] = [];
  for (let i = 0; i < unique.length; i += 100) {
    let pending: Record<string, unknown>[] = unique.slice(i, i + 100).map((k) => ({ pk: k.pk, sk: k.sk }));
    for (let attemptNo = 1; pending.length > 0; attemptNo++) {
      if (attemptNo > 10) throw new Error(`BatchGetItem left ${pending.length} keys unprocessed on ${table}`);
      const res = await doc.send(
        new BatchGetCommand({ RequestItems: { [table]: { Keys: pending, ...(opts.consistent ? { ConsistentRead: true } : {}) } } }),
      );
      found.push(...(res.Responses?.[table] ?? []));
      pending = (res.UnprocessedKeys?.[table]?.Keys ?? []) as Record<string, unknown>[];
      if (pending.length > 0) await new Promise((r) => setTimeout(r, Math.random() * 20 * 2 ** attemptNo));
    }
  }
  return found;
}

/** Default number of queries one filtered listing call may spend before it returns a short page. */
export const LIST_QUERY_BUDGET = 10;

/**
 * One page of a listing Query (`base` carries the key condition, order and any FilterExpression).
 * Each query asks for one item more than the page needs (100 at a time when `filtered`): if it
 * arrives, the page is full and the cursor is the key of the last item returned; otherwise the
 * LastEvaluatedKey carries on, for at most `budget` queries. A selective filter may therefore give a
 * short (even empty) page that still has a cursor. `keyNames` are the table and index key attributes
 * (what a LastEvaluatedKey of that index holds).
 */
export async function queryPage(
  doc: DynamoDBDocumentClient,
  base: QueryCommandInput,
  opts: { limit: number; start?: Record<string, string>; keyNames: readonly string[]; filtered: boolean; budget?: number },
): Promise<{ items: Item[]; next?: string }> {
  const found: Item[] = [];
  let start: Record<string, unknown> | undefined = opts.start;
  for (let round = 0; round < (opts.budget ?? LIST_QUERY_BUDGET); round++) {
    const need = opts.limit - found.length;
    const limit = opts.filtered ? Math.max(need + 1, 100) : need + 1;
    const res = await doc.send(new QueryCommand({ ...base, Limit: limit, ...(start ? { ExclusiveStartKey: start } : {}) }));
    found.push(...(res.Items ?? []));
    if (found.length > opts.limit) {
      const page = found.slice(0, opts.limit);
      return { items: page, next: encodeCursor(pick(page[page.length - 1]!, opts.keyNames)) };
    }
    if (!res.LastEvaluatedKey) return { items: found };
    start = res.LastEvaluatedKey;
  }
  return { items: found, next: encodeCursor(pick(start as Item, opts.keyNames)) };
}

/**
 * Queries several partitions (shards) of an index with the same sort-key condition, `limit` items
 * each, and merges them by `sortAttribute` ascending (ties by `pk`): the first `limit` of the union.
 */
export async function queryShards(
  doc: DynamoDBDocumentClient,
  inputs: QueryCommandInput[],
  sortAttribute: string,
  limit: number,
): Promise<Item[]> {
  const pages = await Promise.all(inputs.map((input) => doc.send(new QueryCommand({ ...input, Limit: limit }))));
  const key = (i: Item) => `${String(i[sortAttribute])}\u0000${String(i.pk)}`;
  return pages
    .flatMap((p) => p.Items ?? [])
    .sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0))
    .slice(0, limit);
}

/** Runs one transaction through `attempt`: a failed condition comes back as an outcome, collisions are retried. */
export function attemptTransaction(
  doc: DynamoDBDocumentClient,
  items: NonNullable<TransactWriteCommandInput['TransactItems']>,
): Promise<Outcome<unknown>> {
  return attempt(() => doc.send(new TransactWriteCommand({ TransactItems: items })));
}

/** The first item of an index partition (`<index>pk = pk`), or undefined: one eventually consistent read of one item. */
export async function firstInIndex(doc: DynamoDBDocumentClient, tableName: string, index: string, pk: string): Promise<Item | undefined> {
  const res = await doc.send(
    new QueryCommand({
      TableName: tableName,
      IndexName: index,
      KeyConditionExpression: `#${index}pk = :pk`,
      ExpressionAttributeNames: names(`${index}pk`),
      ExpressionAttributeValues: { ':pk': pk },
      Limit: 1,
    }),
  );
  return res.Items?.[0];
}

/** UpdateItem of the attributes of a versioned item (`versionedUpdate`); a failed condition throws the matching domain error. */
export async function updateVersioned(doc: DynamoDBDocumentClient, tableName: string, key: Key, what: string, attrs: Record<string, unknown>, expectedVersion: number): Promise<void> {
  const outcome = await attempt(() => doc.send(new UpdateCommand({ TableName: tableName, Key: key, ...versionedUpdate(attrs, expectedVersion) })));
  const failed = failedAt(outcome);
  if (failed) throw versionedWriteError(what, failed.item, expectedVersion);
}

/**
 * SET lastSeenAt unless it is younger than `minIntervalMs` (no version bump, so a touch neither
 * conflicts with nor is undone by an update). A failed condition means "recently touched" (or no
 * such item): exactly what saves the write.
 */
export async function touchLastSeen(doc: DynamoDBDocumentClient, tableName: string, key: Key, at: Date, minIntervalMs: number): Promise<void> {
  const threshold = new Date(at.getTime() - minIntervalMs).toISOString();
  await attempt(() =>
    doc.send(
      new UpdateCommand({
        TableName: tableName,
        Key: key,
        UpdateExpression: 'SET #lastSeenAt = :at',
        ConditionExpression: 'attribute_exists(#pk) AND (attribute_not_exists(#lastSeenAt) OR #lastSeenAt < :threshold)',
        ExpressionAttributeNames: names('pk', 'lastSeenAt'),
        ExpressionAttributeValues: { ':at': at.toISOString(), ':threshold': threshold },
      }),
    ),
  );
}
