/**
 * Resolution of lookups (reference/debusine.md §6 "Lookup syntax"); parsing is in
 * shared/domain/collections.ts. Not found → NotFoundError "No matches" (404); malformed, or a result of
 * the wrong type → ValidationError "Lookup error" (400).
 */
import {
  internalCollectionName,
  lookupError,
  parseDictLookup,
  parseSingleLookup,
  PROMISE_CATEGORY,
  WORKFLOW_INTERNAL,
  type ChildType,
  type Collection,
  type CollectionItem,
  type DictLookup,
  type ExpectType,
  type LookupResult,
  type SingleLookup,
} from '../domain/collections';
import { NotFoundError } from '../domain/errors';
import type { Deps } from '../ports';
import { sameJson } from '../domain/json';
import { loadArtifact } from './artifacts';
import { accessWorkspace } from './auth';
import type { LookupContext } from './acting-as';

export const noMatches = (detail: string) => new NotFoundError('No matches', detail);

const RESULT_TYPE: Record<ChildType, LookupResult['resultType']> = { artifact: 'a', bare: 'b', collection: 'c' };
/** Child types each expected type admits (a bare item only if it is a promise, for artifact-or-promise). */
const ADMITS: Record<ExpectType, readonly ChildType[]> = {
  artifact: ['artifact'],
  'artifact-or-promise': ['artifact', 'bare'],
  bare: ['bare'],
  collection: ['collection'],
  any: ['artifact', 'bare', 'collection'],
};

export async function resolveLookupSingle(
  deps: Deps,
  ctx: LookupContext,
  lookup: string | number,
  expect: ExpectType,
  defaultCategory?: string,
): Promise<LookupResult> {
  let parsed: SingleLookup;
  if (typeof lookup === 'number') {
    // An integer is an id: of an artifact, or of a collection when a collection is expected.
    if (expect === 'collection') {
      if (!Number.isSafeInteger(lookup) || lookup <= 0) throw lookupError(`${lookup} is not a valid id`);
      parsed = { kind: 'collection-id', id: lookup, path: [] };
    } else if (expect === 'artifact' || expect === 'artifact-or-promise') {
      parsed = parseSingleLookup(lookup);
    } else {
      throw lookupError(`an integer lookup (${lookup}) cannot look up ${expect === 'any' ? 'anything but an artifact or a collection' : expect}`);
    }
  } else if (typeof lookup === 'string') {
    parsed = parseSingleLookup(lookup, defaultCategory);
  } else {
    throw lookupError(`cannot look up ${JSON.stringify(lookup)}`);
  }
  const result = await resolveParsed(deps, ctx, parsed, String(lookup));
  checkExpected(result, expect, String(lookup));
  return result;
}

/** A list of string, integer and dict lookups (or one alone): the union of their results, in order. */
export async function resolveLookupMultiple(
  deps: Deps,
  ctx: LookupContext,
  lookup: unknown,
  expect: ExpectType,
  defaultCategory?: string,
): Promise<LookupResult[]> {
  if (lookup === null || lookup === undefined) throw lookupError('a lookup is required');
  const entries = Array.isArray(lookup) ? lookup : [lookup];
  const results: LookupResult[] = [];
  const seen = new Set<string>();
  const add = (r: LookupResult) => {
    const key = `${r.resultType}:${r.collectionItem?.id ?? ''}:${r.artifact ?? ''}:${r.collection ?? ''}`;
    if (seen.has(key)) return;
    seen.add(key);
    results.push(r);
  };
  for (const entry of entries) {
    if (typeof entry === 'string' || typeof entry === 'number') {
      add(await resolveLookupSingle(deps, ctx, entry, expect, defaultCategory));
    } else if (entry && typeof entry === 'object' && !Array.isArray(entry)) {
      for (const r of await resolveDict(deps, ctx, parseDictLookup(entry as Record<string, unknown>), expect, defaultCategory)) add(r);
    } else {
      throw lookupError(`cannot look up ${JSON.stringify(entry)}`);
    }
  }
  return results;
}

function checkExpected(result: LookupResult, expect: ExpectType, lookup: string): void {
  const ok =
    expect === 'any' ||
    (expect === 'artifact' && result.resultType === 'a') ||
    (expect === 'artifact-or-promise' &&
      (result.resultType === 'a' || (result.resultType === 'b' && result.collectionItem?.category === PROMISE_CATEGORY))) ||
    (expect === 'bare' && result.resultType === 'b') ||
    (expect === 'collection' && result.resultType === 'c');
  if (!ok) throw lookupError(`"${lookup}" found ${describe(result)}, but a ${expect} was expected`);
}

function describe(r: LookupResult): string {
  if (r.resultType === 'a') return `artifact ${r.artifact}`;
  if (r.resultType === 'c') return `collection ${r.collection}`;
  return `a bare item of category ${r.collectionItem?.category}`;
}

function itemResult(item: CollectionItem): LookupResult {
  return { resultType: RESULT_TYPE[item.childType], collectionItem: item, artifact: item.artifactId, collection: item.collectionRef };
}

async function resolveParsed(deps: Deps, ctx: LookupContext, parsed: SingleLookup, text: string): Promise<LookupResult> {
  switch (parsed.kind) {
    case 'artifact-id': {
      try {
        await loadArtifact(deps, ctx.caller, parsed.id);
      } catch (err) {
        if (err instanceof NotFoundError) throw noMatches(`artifact ${parsed.id} not found`);
        throw err;
      }
      return { resultType: 'a', collectionItem: null, artifact: parsed.id, collection: null };
    }
    case 'collection-id':
      return walk(deps, ctx, await visibleCollection(deps, ctx, parsed.id), parsed.path);
    case 'internal': {
      if (ctx.workflowRootId === undefined) throw lookupError(`"${text}": internal@collections is only valid inside a workflow`);
      const name = internalCollectionName(ctx.workflowRootId);
      await accessWorkspace(deps, ctx.caller, ctx.scope, ctx.workspace, 'viewer', () => noMatches(`workspace "${ctx.workspace}" not found`));
      const collection = await deps.collections.getByName(ctx.scope, ctx.workspace, name, WORKFLOW_INTERNAL);
      if (!collection) throw noMatches(`workflow ${ctx.workflowRootId} has no internal collection`);
      return walk(deps, ctx, collection, parsed.path);
    }
    case 'named': {
      await accessWorkspace(deps, ctx.caller, ctx.scope, ctx.workspace, 'viewer', () => noMatches(`workspace "${ctx.workspace}" not found`));
      const collection = await deps.collections.getByName(ctx.scope, ctx.workspace, parsed.name, parsed.category);
      if (!collection) throw noMatches(`no collection "${parsed.name}@${parsed.category}" in workspace "${ctx.workspace}"`);
      return walk(deps, ctx, collection, parsed.path);
    }
  }
}

/** A collection by id, visible to the lookup's caller (missing and hidden both mean "No matches"). */
async function visibleCollection(deps: Deps, ctx: LookupContext, id: number): Promise<Collection> {
  const gone = () => noMatches(`collection ${id} not found`);
  const collection = await deps.collections.get(id);
  if (!collection) throw gone();
  await accessWorkspace(deps, ctx.caller, collection.scope, collection.workspace, 'viewer', gone);
  return collection;
}

/** Follows the item segments from a collection: `x` and `name:x` are the active item named x. */
async function walk(deps: Deps, ctx: LookupContext, start: Collection, path: string[]): Promise<LookupResult> {
  let result: LookupResult = { resultType: 'c', collectionItem: null, artifact: null, collection: start.id };
  let collection: Collection | undefined = start;
  for (const segment of path) {
    if (result.resultType !== 'c') throw lookupError('only a collection may have further segments');
    collection ??= await visibleCollection(deps, ctx, result.collection!);
    const name = itemNameOf(segment);
    const item = await deps.collections.activeItem(collection.id, name);
    if (!item) throw noMatches(`collection "${collection.name}@${collection.category}" has no active item named "${name}"`);
    result = itemResult(item);
    collection = undefined;
  }
  return result;
}

function itemNameOf(segment: string): string {
  if (!segment) throw lookupError('empty lookup segment');
  const colon = segment.indexOf(':');
  if (colon < 0) return segment;
  const key = segment.slice(0, colon);
  const value = segment.slice(colon + 1);
  if (key !== 'name') throw lookupError(`unsupported lookup segment "${segment}" (only "name:<name>" or "<name>")`);
  if (!value) throw lookupError('empty item name');
  return value;
}

type Filter = DictLookup['filters'][number];

function matches(item: CollectionItem, filter: Filter): boolean {
  let actual: unknown;
  if (filter.field === 'name') actual = item.name;
  else {
    const key = filter.field.slice('data__'.length);
    if (!Object.hasOwn(item.data, key)) return false;
    actual = item.data[key];
  }
  const expected = filter.value;
  switch (filter.op) {
    case 'exact':
      return sameJson(actual, expected);
    case 'contains':
      if (typeof actual === 'string') return typeof expected === 'string' && actual.includes(expected);
      if (Array.isArray(actual)) {
        const wanted = Array.isArray(expected) ? expected : [expected];
        return wanted.every((w) => actual.some((a) => sameJson(a, w)));
      }
      if (actual && typeof actual === 'object' && expected && typeof expected === 'object' && !Array.isArray(expected)) {
        return Object.entries(expected).every(([k, v]) => sameJson((actual as Record<string, unknown>)[k], v));
      }
      return false;
    case 'startswith':
      return typeof actual === 'string' && typeof expected === 'string' && actual.startsWith(expected);
    case 'endswith':
      return typeof actual === 'string' && typeof expected === 'string' && actual.endsWith(expected);
  }
}

/** Active items of the collection matching every filter, by id. */
async function resolveDict(deps: Deps, ctx: LookupContext, dict: DictLookup, expect: ExpectType, defaultCategory?: string): Promise<LookupResult[]> {
  if (dict.childType !== 'any' && !ADMITS[expect].includes(dict.childType)) {
    throw lookupError(`child_type ${dict.childType} cannot give ${expect === 'any' ? 'anything' : `a ${expect}`}`);
  }
  const { collection } = await resolveLookupSingle(deps, ctx, dict.collection, 'collection', defaultCategory);
  const filters = dict.filters;
  const items = (await deps.collections.activeItems(collection!))
    .filter((i) => dict.childType === 'any' || i.childType === dict.childType)
    .filter((i) => dict.category === undefined || i.category === dict.category)
    .filter((i) => filters.every((f) => matches(i, f)))
    .sort((a, b) => a.id - b.id);
  const results = items.map(itemResult);
  for (const r of results) checkExpected(r, expect, `item ${r.collectionItem!.name} of collection ${collection}`);
  return results;
}
