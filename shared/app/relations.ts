import { isArtifactComplete, type ArtifactRelation, type RelationType } from '../domain/artifacts';
import { NotFoundError, ValidationError } from '../domain/errors';
import type { Deps } from '../ports';
import { requireUser, type Caller } from './auth';
import { assertMutable, loadArtifact, loadArtifactForChange } from './artifacts';

export async function listRelations(
  deps: Deps,
  caller: Caller,
  by: { artifact: number } | { target: number },
): Promise<ArtifactRelation[]> {
  await loadArtifact(deps, caller, 'artifact' in by ? by.artifact : by.target);
  const relations = await deps.artifacts.listRelations(by);
  // The other end may sit in a workspace the caller cannot see: leave those out.
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
