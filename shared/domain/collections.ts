/**
 * Collections and the lookup syntax (reference/debusine.md §1 "Collection", §6 "Lookup syntax").
 * Parsing is pure; resolution (shared/app/lookups.ts) reads the repositories.
 */
import { ValidationError } from './errors';

export type RetainsArtifacts = 'never' | 'workflow' | 'always';

export interface Collection {
  id: number;
  scope: string;
  workspace: string;
  name: string;
  category: string;
  data: Record<string, unknown>;
  retainsArtifacts: RetainsArtifacts;
  /** For `debusine:workflow-internal`: the root workflow it belongs to. */
  workflowId: number | null;
  /**
   * Debusine's retention of removed items (seconds): a removed item keeps its artifact link this
   * long (absent or null: forever), then only its metadata for `metadataOnlyRetentionPeriod` more
   * (absent or null: forever), then it goes (the expiry pass, shared/app/item-retention.ts).
   */
  fullHistoryRetentionPeriod?: number | null;
  metadataOnlyRetentionPeriod?: number | null;
  createdAt: string;
  version: number;
}

export type ChildType = 'artifact' | 'bare' | 'collection';

export interface CollectionItem {
  /** Unique id of this item version (removal is soft, so several may share a name). */
  id: number;
  collectionId: number;
  name: string;
  childType: ChildType;
  category: string;
  artifactId: number | null;
  collectionRef: number | null;
  data: Record<string, unknown>;
  createdAt: string;
  /** `user:<name>` or `workflow:<id>`. */
  createdBy: string;
  removedAt: string | null;
  removedBy: string | null;
}

export const WORKFLOW_INTERNAL = 'debusine:workflow-internal';
export const PROMISE_CATEGORY = 'debusine:promise';

export function internalCollectionName(rootWorkflowId: number): string {
  return `workflow-${rootWorkflowId}`;
}

/** What a lookup may return (Debusine's `expect_type`). */
export type ExpectType = 'bare' | 'artifact' | 'artifact-or-promise' | 'collection' | 'any';

/** A parsed single lookup. */
export type SingleLookup =
  | { kind: 'artifact-id'; id: number }
  | { kind: 'collection-id'; id: number; path: string[] }
  | { kind: 'internal'; path: string[] }
  | { kind: 'named'; name: string; category: string; path: string[] };

/** A dict lookup: items of a collection matching filters. */
export interface DictLookup {
  collection: string;
  childType: ChildType | 'any';
  category?: string;
  filters: { field: string; op: 'exact' | 'contains' | 'startswith' | 'endswith'; value: unknown }[];
}

export type MultipleLookup = (SingleLookup | DictLookup)[];

/** Parses `123`, `123@artifacts`, `7@collections/name:x`, `internal@collections/x`, `name@category/seg`. */
export function parseSingleLookup(lookup: string | number, defaultCategory?: string): SingleLookup {
  if (typeof lookup === 'number') {
    if (!Number.isInteger(lookup) || lookup <= 0) throw lookupError(`${lookup} is not a valid id`);
    return { kind: 'artifact-id', id: lookup };
  }
  const [first, ...path] = lookup.split('/');
  if (!first) throw lookupError(`empty lookup`);
  const at = first.indexOf('@');
  const name = at < 0 ? first : first.slice(0, at);
  const category = at < 0 ? defaultCategory : first.slice(at + 1);
  if (!category) throw lookupError(`"${lookup}" needs a category ("name@category")`);
  if (category === 'artifacts') {
    if (path.length) throw lookupError('only a collection may have further segments');
    if (!/^\d+$/.test(name)) throw lookupError(`"${name}" is not an artifact id`);
    return { kind: 'artifact-id', id: Number(name) };
  }
  if (category === 'collections') {
    if (name === 'internal') return { kind: 'internal', path };
    if (!/^\d+$/.test(name)) throw lookupError(`"${name}" is not a collection id`);
    return { kind: 'collection-id', id: Number(name), path };
  }
  return { kind: 'named', name, category, path };
}

// Lazy so that `data__KEY__contains` reads as KEY with `contains`, not as a key named `KEY__contains`.
const FILTER_KEY = /^(name|data__[A-Za-z0-9_]+?)(?:__(contains|startswith|endswith))?$/;

export function parseDictLookup(value: Record<string, unknown>): DictLookup {
  const collection = value['collection'];
  if (typeof collection !== 'string' || !collection) throw lookupError('a dict lookup needs "collection"');
  const childType = (value['child_type'] ?? 'artifact') as DictLookup['childType'];
  if (!['artifact', 'bare', 'collection', 'any'].includes(childType)) throw lookupError(`bad child_type ${String(childType)}`);
  const filters: DictLookup['filters'] = [];
  let category: string | undefined;
  for (const [key, v] of Object.entries(value)) {
    if (key === 'collection' || key === 'child_type') continue;
    if (key === 'category') {
      if (typeof v !== 'string') throw lookupError('category must be a string');
      category = v;
      continue;
    }
    const m = FILTER_KEY.exec(key);
    if (!m) throw lookupError(`unknown lookup filter "${key}"`);
    filters.push({ field: m[1]!, op: (m[2] as DictLookup['filters'][number]['op']) ?? 'exact', value: v });
  }
  return { collection, childType, category, filters };
}

/** A list of string, integer and dict lookups (or one of them alone). */
export function parseMultipleLookup(value: unknown, defaultCategory?: string): MultipleLookup {
  const list = Array.isArray(value) ? value : [value];
  return list.map((entry) => {
    if (typeof entry === 'string' || typeof entry === 'number') return parseSingleLookup(entry, defaultCategory);
    if (entry && typeof entry === 'object') return parseDictLookup(entry as Record<string, unknown>);
    throw lookupError(`cannot look up ${JSON.stringify(entry)}`);
  });
}

export function lookupError(detail: string): ValidationError {
  return ValidationError.field('lookup', detail, 'Lookup error');
}

/** One result of a lookup (Debusine's `LookupResult`): a, b or c for artifact, bare item, collection. */
export interface LookupResult {
  resultType: 'a' | 'b' | 'c';
  collectionItem: CollectionItem | null;
  artifact: number | null;
  collection: number | null;
}
