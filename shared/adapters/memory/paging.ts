/**
 * Key-ordered pages for the memory adapters, matching the DynamoDB adapters' sort-key pages: the
 * cursor names the last key served, so the next page starts after it even when items were added or
 * removed in between (an offset would skip or repeat them).
 */
import { ValidationError } from '../../domain/errors';
import type { Page } from '../../ports';

/** The memory adapters hand out copies, as a database would: a caller's change never reaches the store. */
export const clone = <T>(v: T): T => structuredClone(v);
/** DynamoDB sorts keys by code unit, not by locale. */
export const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

const invalidCursor = () => ValidationError.field('cursor', 'is not a cursor this server issued', 'Invalid query');

export function pageAfterKey<T>(items: T[], key: (item: T) => string, limit: number, cursor?: string): Page<T> {
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw ValidationError.field('limit', 'must be a whole number from 1 to 1000');
  let after: string | undefined;
  if (cursor !== undefined) {
    try {
      const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
      if (typeof parsed !== 'object' || parsed === null || typeof (parsed as { k?: unknown }).k !== 'string') throw invalidCursor();
      after = (parsed as { k: string }).k;
    } catch {
      throw invalidCursor();
    }
  }
  const sorted = items.map((item) => ({ item, k: key(item) })).sort((a, b) => byCodeUnit(a.k, b.k));
  const rest = after === undefined ? sorted : sorted.filter((e) => e.k > after!);
  const served = rest.slice(0, limit);
  const last = served[served.length - 1];
  return {
    items: served.map((e) => structuredClone(e.item)),
    ...(rest.length > limit && last ? { next: keyCursor(last.k) } : {}),
  };
}

/** The cursor `pageAfterKey` gives for a page that ends on the item of key `k`. */
export function keyCursor(k: string): string {
  return Buffer.from(JSON.stringify({ k }), 'utf8').toString('base64url');
}
