/**
 * The artifact parts of the expiry pass that both its artifact step (shared/app/expiry.ts) and its
 * workspace step (shared/app/workspace-contents.ts) use: reading the candidates' backward closure,
 * the "everything relating to it is condemned too" test, deleting one condemned artifact, and the
 * view of a workspace that is going (its artifacts expired whatever their dates, its own collections
 * retaining nothing).
 */
import type { ExpiryGraph } from '../domain/expiry';
import type { Deps } from '../ports';
import type { ArtifactExpiryState, ExpiryStore, RetentionGraphReader } from '../ports/expiry';
import { noteArtifactFilesChanged } from './accounting';
import { recordAudit } from './audit';
import type { FollowUpFailure } from './follow-ups';

export interface ReleasedFiles {
  scope: string;
  workspace: string;
  artifactId: number;
  /** Sum of the sizes of the artifact's file rows. */
  bytes: number;
  files: number;
}

export interface GraphNode {
  state: ArtifactExpiryState;
  /** Artifacts with a relation to this one. */
  sources: number[];
}

/** Reads the candidates' backward closure: each artifact first, then the relations into it. */
export async function loadGraph(deps: Deps, store: RetentionGraphReader, candidates: number[], maxGraph: number) {
  const nodes = new Map<number, GraphNode>();
  const graph: ExpiryGraph = { artifacts: [], relations: [], links: [], workRequests: [] };
  const queue = [...candidates];
  let complete = true;
  while (queue.length) {
    const id = queue.shift()!;
    if (nodes.has(id)) continue;
    if (nodes.size >= maxGraph) {
      complete = false;
      break;
    }
    const state = await store.artifactState(id);
    if (!state) continue;
    const incoming = await deps.artifacts.listRelations({ target: id });
    nodes.set(id, { state, sources: incoming.map((r) => r.artifact) });
    graph.artifacts.push({ id, expireAt: state.artifact.expireAt });
    graph.relations.push(...incoming.map((r) => ({ artifact: r.artifact, target: r.target })));
    graph.links.push(...(await store.retainingLinks(id)));
    graph.workRequests.push(...(await store.workRequestInputs(id)));
    queue.push(...incoming.map((r) => r.artifact));
  }
  // A relation from an artifact that is gone (left over by a crashed delete) keeps nothing.
  graph.relations = graph.relations.filter((r) => nodes.has(r.artifact));
  return { nodes, graph, complete };
}

/** Whether every artifact relating to `id`, transitively, was read condemned. */
export function closureCondemned(nodes: Map<number, GraphNode>, id: number): boolean {
  const seen = new Set<number>();
  const stack = [id];
  while (stack.length) {
    const node = nodes.get(stack.pop()!);
    if (!node) continue; // gone meanwhile: relates to nothing any more
    for (const source of node.sources) {
      if (seen.has(source)) continue;
      seen.add(source);
      const s = nodes.get(source);
      if (s && s.state.condemnedAt === null) return false;
      stack.push(source);
    }
  }
  return true;
}

/** A workspace past its `expiration_delay` whose contents the workspace step is deleting. */
export interface GoingWorkspace {
  scope: string;
  workspace: string;
  /** Its collections (workflow-internal ones included): they go with it, so they retain nothing. */
  collections: ReadonlySet<number>;
}

const LONG_AGO = new Date(0).toISOString();

/**
 * The graph as the pass must judge it while workspaces are going: their artifacts are expired
 * whatever their own dates, and their own collections keep nothing. What keeps one of their
 * artifacts then comes from outside (another workspace's artifact, collection or request). Both
 * steps judge alike, so the artifact step never reprieves what the workspace step condemned.
 */
export function judgeWithGoingWorkspaces(graph: ExpiryGraph, nodes: Map<number, GraphNode>, going: readonly GoingWorkspace[]): ExpiryGraph {
  if (going.length === 0) return graph;
  const isGoing = (id: number) => {
    const a = nodes.get(id)?.state.artifact;
    return a !== undefined && going.some((g) => g.scope === a.scope && g.workspace === a.workspace);
  };
  const goingCollections = new Set(going.flatMap((g) => [...g.collections]));
  return {
    ...graph,
    artifacts: graph.artifacts.map((a) => (isGoing(a.id) ? { ...a, expireAt: LONG_AGO } : a)),
    links: graph.links.filter((l) => !goingCollections.has(l.collectionId)),
  };
}

/**
 * Deletes one condemned artifact (conditional on its condemnation unchanged), hands its bytes to
 * the blob sweep, audits it and drops its quota usage. False when the condition failed.
 */
export async function deleteCondemned(
  deps: Deps,
  store: ExpiryStore,
  state: ArtifactExpiryState,
  onFilesReleased: ((released: ReleasedFiles) => Promise<void>) | undefined,
  failures: FollowUpFailure[],
): Promise<boolean> {
  const { artifact } = state;
  const result = await store.deleteCondemnedArtifact(artifact.id, state.condemnedAt!);
  if (!result) return false;
  const nowIso = deps.clock.now().toISOString();
  // The empty blob is shared by every empty file and costs nothing: never collected.
  await store.addBlobCandidates(
    result.blobs.filter((b) => b.size > 0),
    nowIso,
  );
  await recordAudit(deps, 'system:expiry', 'artifact.expired', {
    artifact: artifact.id,
    scope: artifact.scope,
    workspace: artifact.workspace,
    category: artifact.category,
    expire_at: artifact.expireAt,
    files: state.files.length,
  });
  // Quota accounting re-reads the (now gone) artifact and drops its disk usage.
  await noteArtifactFilesChanged(deps, artifact, failures);
  await onFilesReleased?.({
    scope: artifact.scope,
    workspace: artifact.workspace,
    artifactId: artifact.id,
    bytes: state.files.reduce((sum, f) => sum + f.size, 0),
    files: state.files.length,
  });
  return true;
}
