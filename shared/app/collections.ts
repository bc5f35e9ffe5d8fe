/**
 * Collections and their items (reference/debusine.md §1 "Collection / CollectionItem"): named
 * collections per workspace through the API, and the `debusine:workflow-internal` collection of each
 * root workflow, changed only by its workflow.
 */
import { categoryProblem } from '../domain/artifacts';
import {
  internalCollectionName,
  PROMISE_CATEGORY,
  WORKFLOW_INTERNAL,
  type ChildType,
  type Collection,
  type CollectionItem,
  type RetainsArtifacts,
} from '../domain/collections';
import { ForbiddenError, NotFoundError, ValidationError } from '../domain/errors';
import type { Role } from '../domain/roles';
import type { WorkRequest } from '../domain/work-requests';
import type { Deps, Page } from '../ports';
import { loadArtifact } from './artifacts';
import { accessWorkspace, callerId, requireUser, type Caller } from './auth';
import { createFirstVersion } from './first-versions';
import { ignoreConflict } from './concurrency';

/** Categories of which a workspace holds at most one collection, named exactly `_`. */
export const SINGLETON_CATEGORIES: readonly string[] = ['debian:archive', 'debian:package-build-logs', 'debusine:task-history'];
export const MAX_COLLECTION_NAME = 255;
export const MAX_ITEM_NAME = 255;

export const collectionNotFound = () => new NotFoundError('Not found', 'No Collection matches the given query.');

/** Why a collection name is refused, or undefined. */
export function collectionNameProblem(name: string, category: string): string | undefined {
  if (name.length === 0) return 'must not be empty';
  if (name.length > MAX_COLLECTION_NAME) return `must be at most ${MAX_COLLECTION_NAME} characters`;
  if (/[/@#\s]/.test(name)) return 'must not contain "/", "@", "#" or white space';
  const singleton = SINGLETON_CATEGORIES.includes(category);
  if (singleton && name !== '_') return `a ${category} collection is a singleton and must be named "_"`;
  if (!singleton && name.startsWith('_')) return 'must not start with "_" (only singleton collections are named "_")';
  return undefined;
}

/** Why an item name is refused, or undefined (names are mandatory and may not contain "/"). */
export function itemNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'is required';
  if (name.length > MAX_ITEM_NAME) return `must be at most ${MAX_ITEM_NAME} characters`;
  if (name.includes('/')) return 'must not contain "/"';
  return undefined;
}

export interface CreateCollectionInput {
  scope: string;
  workspace: string;
  name: string;
  category: string;
  data?: Record<string, unknown>;
  retainsArtifacts?: RetainsArtifacts;
  /** Seconds; null or absent: forever (shared/app/item-retention.ts). */
  fullHistoryRetentionPeriod?: number | null;
  metadataOnlyRetentionPeriod?: number | null;
}

export async function createCollection(deps: Deps, caller: Caller, input: CreateCollectionInput): Promise<Collection> {
  requireUser(caller);
  const invalid = (field: string, reason: string) => ValidationError.field(field, reason, 'Invalid collection');
  const categoryIssue = categoryProblem(input.category);
  if (categoryIssue) throw invalid('category', categoryIssue);
  if (input.category === WORKFLOW_INTERNAL) throw invalid('category', `${WORKFLOW_INTERNAL} collections are created by workflows only`);
  const nameIssue = collectionNameProblem(input.name, input.category);
  if (nameIssue) throw invalid('name', nameIssue);
  if (input.retainsArtifacts === 'workflow') throw invalid('retains_artifacts', '"workflow" is only for workflow-internal collections');
  await accessWorkspace(deps, caller, input.scope, input.workspace, 'contributor');
  return createFirstVersion<Collection>(deps, deps.collections, {
    id: await deps.sequences.next('collection'),
    scope: input.scope,
    workspace: input.workspace,
    name: input.name,
    category: input.category,
    data: input.data ?? {},
    retainsArtifacts: input.retainsArtifacts ?? 'always',
    workflowId: null,
    ...(input.fullHistoryRetentionPeriod != null ? { fullHistoryRetentionPeriod: input.fullHistoryRetentionPeriod } : {}),
    ...(input.metadataOnlyRetentionPeriod != null ? { metadataOnlyRetentionPeriod: input.metadataOnlyRetentionPeriod } : {}),
  });
}

/** One page of the workspace's collections (by category, then name); `name` is a filter on that page. */
export async function listCollections(
  deps: Deps,
  caller: Caller,
  input: { scope: string; workspace: string; limit: number; cursor?: string; category?: string; name?: string },
): Promise<Page<Collection>> {
  await accessWorkspace(deps, caller, input.scope, input.workspace, 'viewer');
  if (input.name !== undefined && input.category !== undefined) {
    // One claim row answers it: no page to read.
    if (input.cursor !== undefined) return { items: [] };
    const found = await deps.collections.getByName(input.scope, input.workspace, input.name, input.category);
    return { items: found ? [found] : [] };
  }
  const page = await deps.collections.listPage(input.scope, input.workspace, {
    limit: input.limit,
    ...(input.cursor !== undefined ? { cursor: input.cursor } : {}),
    ...(input.category !== undefined ? { category: input.category } : {}),
  });
  return input.name === undefined ? page : { ...page, items: page.items.filter((c) => c.name === input.name) };
}

/** A collection the caller may see (404 otherwise, whether missing or hidden), checked for `needed`. */
export async function loadCollection(deps: Deps, caller: Caller, id: number, needed: Role = 'viewer'): Promise<Collection> {
  const collection = await deps.collections.get(id);
  if (!collection) throw collectionNotFound();
  await accessWorkspace(deps, caller, collection.scope, collection.workspace, needed, collectionNotFound);
  return collection;
}

export async function getCollection(deps: Deps, caller: Caller, id: number): Promise<Collection> {
  return loadCollection(deps, caller, id);
}

/** One page of the active items, by name. */
export async function listCollectionItems(deps: Deps, caller: Caller, id: number, page: { limit: number; cursor?: string }): Promise<Page<CollectionItem>> {
  const collection = await loadCollection(deps, caller, id);
  return deps.collections.activeItemsPage(collection.id, page);
}

/** What an item holds: an artifact, a collection, or (neither) bare data of a category. */
export interface ItemFields {
  name: string;
  artifact?: number;
  collection?: number;
  /** Required for a bare item; for an artifact or collection item it must match theirs if given. */
  category?: string;
  data?: Record<string, unknown>;
}

export interface AddItemInput extends ItemFields {
  replace?: boolean;
}

function assertChangeableByUsers(collection: Collection): void {
  if (collection.category === WORKFLOW_INTERNAL) {
    throw new ForbiddenError('Permission denied', `${WORKFLOW_INTERNAL} collections are changed only by their workflow`);
  }
}

export async function addCollectionItem(deps: Deps, caller: Caller, id: number, input: AddItemInput): Promise<CollectionItem> {
  requireUser(caller);
  const collection = await loadCollection(deps, caller, id, 'contributor');
  assertChangeableByUsers(collection);
  if (input.category === PROMISE_CATEGORY) {
    throw ValidationError.field('category', `${PROMISE_CATEGORY} items are created by workflows only`, 'Invalid item');
  }
  return storeItem(deps, collection, input, callerId(caller)!, input.replace ?? false, caller);
}

/** Soft removal of the active item of that name; returns it as removed. */
export async function removeCollectionItem(deps: Deps, caller: Caller, id: number, name: string): Promise<CollectionItem> {
  requireUser(caller);
  const collection = await loadCollection(deps, caller, id, 'contributor');
  assertChangeableByUsers(collection);
  const removed = await deps.collections.removeItem(collection.id, name, deps.clock.now().toISOString(), callerId(caller)!);
  if (!removed) throw new NotFoundError('Not found', `collection ${collection.id} has no active item named "${name}"`);
  return removed;
}

/**
 * The `workflow-<rootId>@debusine:workflow-internal` collection of a root workflow (in its workspace,
 * retaining artifacts while the workflow runs). Idempotent: a concurrent or earlier creation wins and
 * is returned.
 */
export async function ensureInternalCollection(deps: Deps, root: WorkRequest): Promise<Collection> {
  if (root.parent !== null) throw new Error(`work request ${root.id} is not a root workflow`);
  if (root.internalCollection !== null && root.internalCollection !== undefined) {
    const known = await deps.collections.get(root.internalCollection);
    if (known) return known;
  }
  const name = internalCollectionName(root.id);
  const collection: Collection = {
    id: await deps.sequences.next('collection'),
    scope: root.scope,
    workspace: root.workspace,
    name,
    category: WORKFLOW_INTERNAL,
    data: {},
    retainsArtifacts: 'workflow',
    workflowId: root.id,
    createdAt: deps.clock.now().toISOString(),
    version: 1,
  };
  try {
    await deps.collections.create(collection);
    return collection;
  } catch (err) {
    ignoreConflict(err);
    const existing = await deps.collections.getByName(root.scope, root.workspace, name, WORKFLOW_INTERNAL);
    if (!existing) throw err;
    return existing;
  }
}

/**
 * Adds an item on behalf of workflow `workflowId` (created by `workflow:<id>`): promises
 * (`debusine:promise` bare items, whose `promise_*` keys are reserved to them), and outputs that
 * replace them (`replace: true`).
 */
export async function addItemAsWorkflow(
  deps: Deps,
  collection: Collection,
  fields: ItemFields,
  workflowId: number,
  opts: { replace: boolean },
): Promise<CollectionItem> {
  return storeItem(deps, collection, fields, `workflow:${workflowId}`, opts.replace);
}

/** Validates and adds an item; with a `caller`, referenced artifacts and collections must be visible to it. */
async function storeItem(
  deps: Deps,
  collection: Collection,
  fields: ItemFields,
  createdBy: string,
  replace: boolean,
  caller?: Caller,
): Promise<CollectionItem> {
  const invalid = (field: string, reason: string) => ValidationError.field(field, reason, 'Invalid item');
  const nameIssue = itemNameProblem(fields.name);
  if (nameIssue) throw invalid('name', nameIssue);
  if (fields.artifact !== undefined && fields.collection !== undefined) throw invalid('artifact', 'give "artifact" or "collection", not both');

  let childType: ChildType = 'bare';
  let category = fields.category;
  let artifactId: number | null = null;
  let collectionRef: number | null = null;
  if (fields.artifact !== undefined) {
    const artifact = await referencedArtifact(deps, fields.artifact, caller);
    if (artifact.scope !== collection.scope || artifact.workspace !== collection.workspace) {
      throw invalid('artifact', `artifact ${artifact.id} is not in workspace "${collection.workspace}" of the collection`);
    }
    if (category !== undefined && category !== artifact.category) {
      throw invalid('category', `artifact ${artifact.id} is a ${artifact.category}, not a ${category}`);
    }
    childType = 'artifact';
    category = artifact.category;
    artifactId = artifact.id;
  } else if (fields.collection !== undefined) {
    const child = await referencedCollection(deps, fields.collection, caller);
    if (child.id === collection.id) throw invalid('collection', 'a collection cannot contain itself');
    if (child.scope !== collection.scope) throw invalid('collection', `collection ${child.id} is in another scope`);
    if (category !== undefined && category !== child.category) throw invalid('category', `collection ${child.id} is a ${child.category}, not a ${category}`);
    childType = 'collection';
    category = child.category;
    collectionRef = child.id;
  } else {
    if (category === undefined) throw invalid('category', 'a bare item needs a category');
    const categoryIssue = categoryProblem(category);
    if (categoryIssue) throw invalid('category', categoryIssue);
  }

  const data = fields.data ?? {};
  const promiseKeys = Object.keys(data).filter((k) => k.startsWith('promise_'));
  const isPromise = childType === 'bare' && category === PROMISE_CATEGORY && createdBy.startsWith('workflow:');
  if (promiseKeys.length && !isPromise) {
    throw invalid('data', `"promise_*" keys are reserved for ${PROMISE_CATEGORY} items of workflows (found ${promiseKeys.join(', ')})`);
  }

  const item: CollectionItem = {
    id: await deps.sequences.next('collection-item'),
    collectionId: collection.id,
    name: fields.name,
    childType,
    category,
    artifactId,
    collectionRef,
    data,
    createdAt: deps.clock.now().toISOString(),
    createdBy,
    removedAt: null,
    removedBy: null,
  };
  await deps.collections.addItem(item, { replace });
  return item;
}

async function referencedArtifact(deps: Deps, id: number, caller?: Caller) {
  const missing = () => ValidationError.field('artifact', `artifact ${id} does not exist`, 'Invalid item');
  if (!caller) {
    const found = await deps.artifacts.get(id);
    if (!found) throw missing();
    return found.artifact;
  }
  try {
    return (await loadArtifact(deps, caller, id)).artifact;
  } catch (err) {
    if (err instanceof NotFoundError) throw missing();
    throw err;
  }
}

async function referencedCollection(deps: Deps, id: number, caller?: Caller): Promise<Collection> {
  const missing = () => ValidationError.field('collection', `collection ${id} does not exist`, 'Invalid item');
  if (!caller) {
    const found = await deps.collections.get(id);
    if (!found) throw missing();
    return found;
  }
  try {
    return await loadCollection(deps, caller, id);
  } catch (err) {
    if (err instanceof NotFoundError) throw missing();
    throw err;
  }
}
