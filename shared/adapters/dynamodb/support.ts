/** Small helpers shared by the DynamoDB repositories: expressions, paging, cursors, batch deletes. */
import {
  BatchWriteCommand,
  type DynamoDBDocumentClient,
  type NativeAttributeValue,
  QueryCommand,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { ValidationError } from '../../domain/errors';
import type { Key } from './keys';

export type Item = Record<string, NativeAttributeValue>;

/** `ExpressionAttributeNames` for `#name` placeholders (every attribute is aliased: many are reserved words). */
export function names(...attributes: string[]): Record<string, string> {
  return Object.fromEntries(attributes.map((a) => [`#${a}`, a]));
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

/** Every item a query matches, following LastEvaluatedKey. */
export async function queryAll(doc: DynamoDBDocumentClient, input: QueryCommandInput): Promise<Item[]> {
  const items: Item[] = [];
  let start = input.ExclusiveStartKey;
  do {
    const res = await doc.send(new QueryCommand(start ? { ...input, ExclusiveStartKey: start } : input));
    items.push(...(res.Items ?? []));
    start = res.LastEvaluatedKey;
  } while (start);
  return items;
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
