import { isArtifactComplete, type ArtifactRelation, type RelationType } from '../domain/artifacts';
import { NotFoundError, PayloadTooLargeError, ValidationError } from '../domain/errors';
import { MAX_HIDDEN_PAGES_SKIPPED, MAX_RELATIONS_LISTED, tooMany } from '../domain/limits';
import type { Deps, Page, RelationEnd } from '../ports';
import { requireUser, type Caller } from './auth';
import { assertMutable, loadArtifact, loadArtifactForChange } from './artifacts';

/**
 * Debusine's unpaged listing (its client parses a bare array): every relation of the artifact the
 * caller may see, by id, read with one bounded query; more than MAX_RELATIONS_LISTED is a 413 that
 * points at paging (security finding 6).
 */
export async function listRelations(deps: Deps, caller: Caller, by: RelationEnd): Promise<ArtifactRelation[]> {
  await loadArtifact(deps, caller, 'artifact' in by ? by.artifact : by.target);
  const page = await deps.artifacts.relationsPage(by, { limit: MAX_RELATIONS_LISTED });
  if (page.next !== undefined) {
    throw new PayloadTooLargeError(
      'Too many relations',
      `artifact ${'artifact' in by ? by.artifact : by.target} has more relations than listed at once: ${tooMany('MAX_RELATIONS_LISTED', MAX_RELATIONS_LISTED, 'relations')}; page with ?limit=&cursor=`,
    );
  }
  return (await visibleRelations(deps, caller, by, page.items)).sort((a, b) => a.id - b.id);
}

/**
 * One page (`?limit=&cursor=`) of the relations the caller may see, in key order. As for work
 * requests, the cursor always continues after a relation the caller may see, never naming one whose
 * other end is hidden; after MAX_HIDDEN_PAGES_SKIPPED pages of hidden ones the listing ends.
 */
export async function listRelationsPage(deps: Deps, caller: Caller, by: RelationEnd, opts: { limit: number; cursor?: string }): Promise<Page<ArtifactRelation>> {
  await loadArtifact(deps, caller, 'artifact' in by ? by.artifact : by.target);
  const items: ArtifactRelation[] = [];
  let page = await deps.artifacts.relationsPage(by, opts);
  for (let round = 1; ; round++) {
    const visible = await visibleRelations(deps, caller, by, page.items);
    items.push(...visible);
    if (page.next === undefined) return { items };
    if (visible.length > 0 && visible[visible.length - 1] === page.items[page.items.length - 1]) return { items, next: page.next };
    const lastVisible = items[items.length - 1];
    if (lastVisible) return { items, next: deps.artifacts.relationCursorAfter(lastVisible, by) };
    if (round >= MAX_HIDDEN_PAGES_SKIPPED) return { items };
    page = await deps.artifacts.relationsPage(by, { limit: opts.limit, cursor: page.next });
  }
}

/** The other end may sit in a workspace the caller cannot see: leave those out. */
async function visibleRelations(deps: Deps, caller: Caller, by: RelationEnd, relations: ArtifactRelation[]): Promise<ArtifactRelation[]> {
  const visible: ArtifactRelation[] = [];
  for (const r of relations) {
    const other = 'artifact' in by ? r.target : r.artifact;
    try {
      await loadArtifact(deps, caller, other);
      visible.push(r);
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
    }
  }
  return visible;
}

/**
 * Relates two artifacts; an existing (artifact, target, type) is returned as is.
 * Relations to incomplete artifacts are refused (Debusine #930: they let an artifact
 * point at bytes nobody uploaded).
 */
export async function createRelation(
  deps: Deps,
  caller: Caller,
  input: { artifact: number; target: number; type: RelationType },
): Promise<{ relation: ArtifactRelation; created: boolean }> {
  // Users with a role that may change the source, or the worker running the request that made it.
  if (caller.kind === 'anonymous') requireUser(caller);
  const source = await loadArtifactForChange(deps, caller, input.artifact);
  let target;
  try {
    target = await loadArtifact(deps, caller, input.target);
  } catch (err) {
    if (err instanceof NotFoundError) throw ValidationError.field('target', `artifact ${input.target} does not exist`, 'Invalid relation');
    throw err;
  }
  if (input.artifact === input.target) throw ValidationError.field('target', 'an artifact cannot relate to itself', 'Invalid relation');
  if (!isArtifactComplete(source.artifact)) throw ValidationError.field('artifact', `artifact ${input.artifact} has incomplete files`, 'Invalid relation');
  if (!isArtifactComplete(target.artifact)) throw ValidationError.field('target', `artifact ${input.target} has incomplete files`, 'Invalid relation');
  const id = await deps.sequences.next('artifact-relation');
  return deps.artifacts.createRelation({ id, ...input, createdAt: deps.clock.now().toISOString() });
}

/** One answer for a missing relation and for one whose source the caller cannot see. */
const relationNotFound = (id: number) => new NotFoundError('Not found', `no relation ${id}`);

export async function deleteRelation(deps: Deps, caller: Caller, id: number): Promise<void> {
  if (caller.kind === 'anonymous') requireUser(caller);
  const relation = await deps.artifacts.getRelation(id);
  if (!relation) throw relationNotFound(id);
  let source;
  try {
    source = await loadArtifactForChange(deps, caller, relation.artifact);
  } catch (err) {
    // "artifact N not found" would confirm the relation exists and name its hidden source.
    if (err instanceof NotFoundError) throw relationNotFound(id);
    throw err;
  }
  assertMutable(source.artifact);
  if (!(await deps.artifacts.deleteRelation(relation))) throw relationNotFound(id);
}
