/**
 * Expiry and retention rules (reference/debusine.md §6 "Expiration", SPEC.md §2 "Expiry").
 *
 * Pure: no I/O, no clock of its own. The expiry pass (shared/app/expiry.ts) gathers the facts
 * (candidates, the relations into them, collection links, work-request inputs) and these functions
 * decide. Every decision that keeps something also says why (which root keeps it), so an operator's
 * dry run can show it.
 */
import type { RetainsArtifacts } from './collections';
import type { WorkRequestStatus } from './work-requests';

/* ------------------------------------------------------------------------------------------ */
/* When something expires                                                                      */
/* ------------------------------------------------------------------------------------------ */

/**
 * The one place an artifact's `expire_at` is computed, for every way of creating one:
 * - `expireAt` given (Debusine's client sends a datetime): that instant; `null` given: the default;
 * - else `delaySeconds` given (Conveyor's `expiration_delay`): created + delay, 0 = never;
 * - else the workspace's `default_expiration_delay` (0 or null = never).
 * Callers validate an explicit `expireAt` with `explicitExpireAtProblem` first.
 */
export function artifactExpireAt(input: {
  createdAt: Date;
  expireAt?: string | null;
  delaySeconds?: number | null;
  workspaceDefaultDelay: number | null;
}): string | null {
  if (input.expireAt) return new Date(input.expireAt).toISOString();
  const delay = input.delaySeconds ?? input.workspaceDefaultDelay;
  return expireAfter(input.createdAt, delay);
}

/** `start + delaySeconds`, or null (never) for a delay of 0 or null. */
export function expireAfter(start: Date, delaySeconds: number | null | undefined): string | null {
  if (!delaySeconds) return null;
  return new Date(start.getTime() + delaySeconds * 1000).toISOString();
}

/** Why an explicit `expire_at` from a client is refused (undefined when acceptable). */
export function explicitExpireAtProblem(value: unknown, now: Date): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) return 'must be an ISO 8601 date and time, or null';
  if (Date.parse(value) <= now.getTime()) return 'must be in the future';
  return undefined;
}

export function isExpired(expireAt: string | null | undefined, now: Date): boolean {
  return !!expireAt && Date.parse(expireAt) <= now.getTime();
}

/* ------------------------------------------------------------------------------------------ */
/* Artifacts: roots and the kept closure                                                       */
/* ------------------------------------------------------------------------------------------ */

export const ACTIVE_WORK_REQUEST_STATUSES: readonly WorkRequestStatus[] = ['pending', 'running', 'blocked'];

export function isActiveStatus(status: WorkRequestStatus | null | undefined): boolean {
  return !!status && ACTIVE_WORK_REQUEST_STATUSES.includes(status);
}

/** Why an artifact is kept. Roots keep themselves; the closure keeps what kept artifacts relate to. */
export type KeepReason =
  | { kind: 'unexpired'; expireAt: string | null }
  | { kind: 'retained-by-collection'; collectionId: number }
  | { kind: 'retained-by-workflow'; collectionId: number; workflowId: number; workflowStatus: WorkRequestStatus }
  | { kind: 'work-request-input'; workRequestId: number; status: WorkRequestStatus }
  /** A kept artifact `from` relates to this one; `root` is the root artifact that starts the chain. */
  | { kind: 'related-from'; from: number; root: number };

export interface ExpiryArtifact {
  id: number;
  expireAt: string | null;
}

export interface ExpiryRelation {
  artifact: number;
  target: number;
}

/** A collection item that still links an artifact (removed or not: the link is what retains). */
export interface RetainingLink {
  artifactId: number;
  collectionId: number;
  retains: RetainsArtifacts;
  /** For `workflow` collections: the workflow and its status (null when it no longer exists). */
  workflowId: number | null;
  workflowStatus: WorkRequestStatus | null;
}

export interface WorkRequestInputs {
  workRequestId: number;
  status: WorkRequestStatus;
  artifactIds: number[];
}

/**
 * The facts about a set of artifacts. For the decisions to be right about an artifact, the graph
 * must hold every artifact with a relation path to it (its backward closure): the pass loads
 * exactly that, so its cost follows what expires, not what is stored.
 */
export interface ExpiryGraph {
  artifacts: ExpiryArtifact[];
  relations: ExpiryRelation[];
  links: RetainingLink[];
  workRequests: WorkRequestInputs[];
}

export interface ArtifactExpiryPlan {
  /** Every kept artifact of the graph, with why. */
  kept: Map<number, KeepReason>;
  /** Expired artifacts no root reaches, in id order: these go (with relations, files, item links). */
  expired: number[];
}

/** The root reason of one artifact, or undefined when nothing keeps it by itself. */
function rootReason(a: ExpiryArtifact, links: RetainingLink[], inputs: WorkRequestInputs[], now: Date): KeepReason | undefined {
  if (!isExpired(a.expireAt, now)) return { kind: 'unexpired', expireAt: a.expireAt };
  for (const link of links) {
    if (link.retains === 'always') return { kind: 'retained-by-collection', collectionId: link.collectionId };
    if (link.retains === 'workflow' && link.workflowId !== null && isActiveStatus(link.workflowStatus)) {
      return { kind: 'retained-by-workflow', collectionId: link.collectionId, workflowId: link.workflowId, workflowStatus: link.workflowStatus! };
    }
  }
  for (const wr of inputs) {
    if (isActiveStatus(wr.status)) return { kind: 'work-request-input', workRequestId: wr.workRequestId, status: wr.status };
  }
  return undefined;
}

function groupBy<T, K>(items: T[], key: (t: T) => K): Map<K, T[]> {
  const out = new Map<K, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}

/**
 * Debusine's artifact rule: roots are the unexpired artifacts, those linked from a collection that
 * retains always, or retains for its workflow while that workflow is pending, running or blocked, and
 * the inputs of pending, blocked or running work requests. The kept set is closed over relations
 * from kept artifacts to their targets. The rest of the graph's artifacts go.
 */
export function planArtifactExpiry(graph: ExpiryGraph, now: Date): ArtifactExpiryPlan {
  const linksOf = groupBy(graph.links, (l) => l.artifactId);
  const inputsOf = new Map<number, WorkRequestInputs[]>();
  for (const wr of graph.workRequests) {
    for (const id of wr.artifactIds) inputsOf.set(id, [...(inputsOf.get(id) ?? []), wr]);
  }
  const targetsOf = groupBy(graph.relations, (r) => r.artifact);
  const known = new Set(graph.artifacts.map((a) => a.id));

  const kept = new Map<number, KeepReason>();
  const queue: { id: number; root: number }[] = [];
  for (const a of [...graph.artifacts].sort((x, y) => x.id - y.id)) {
    const reason = rootReason(a, linksOf.get(a.id) ?? [], inputsOf.get(a.id) ?? [], now);
    if (reason) {
      kept.set(a.id, reason);
      queue.push({ id: a.id, root: a.id });
    }
  }
  // Breadth first: each artifact is credited to the nearest chain that reaches it.
  for (let i = 0; i < queue.length; i++) {
    const { id, root } = queue[i]!;
    for (const rel of targetsOf.get(id) ?? []) {
      if (!known.has(rel.target) || kept.has(rel.target)) continue;
      kept.set(rel.target, { kind: 'related-from', from: id, root });
      queue.push({ id: rel.target, root });
    }
  }
  const expired = graph.artifacts
    .map((a) => a.id)
    .filter((id) => !kept.has(id))
    .sort((x, y) => x - y);
  return { kept, expired };
}

/** One line for an operator: why an artifact is kept. */
export function describeKeepReason(reason: KeepReason): string {
  switch (reason.kind) {
    case 'unexpired':
      return reason.expireAt ? `not expired until ${reason.expireAt}` : 'never expires';
    case 'retained-by-collection':
      return `retained by collection ${reason.collectionId} (retains_artifacts=always)`;
    case 'retained-by-workflow':
      return `retained by collection ${reason.collectionId} while workflow ${reason.workflowId} is ${reason.workflowStatus}`;
    case 'work-request-input':
      return `input of work request ${reason.workRequestId} (${reason.status})`;
    case 'related-from':
      return `related from kept artifact ${reason.from} (root: artifact ${reason.root})`;
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Collection items                                                                            */
/* ------------------------------------------------------------------------------------------ */

export interface RetentionPeriods {
  /** Seconds after removal during which an item keeps its artifact link; null = forever. */
  fullHistoryRetentionPeriod: number | null;
  /** Further seconds during which the item row stays (metadata only); null = forever. */
  metadataOnlyRetentionPeriod: number | null;
}

export type ItemRetention = 'keep' | 'drop-artifact-link' | 'delete';

/**
 * What happens to a collection item: active items stay; a removed one loses its artifact link
 * `fullHistoryRetentionPeriod` after removal, and its row a further `metadataOnlyRetentionPeriod`
 * later. A null period means that stage never happens (and so neither does any later one).
 */
export function collectionItemRetention(item: { removedAt: string | null }, periods: RetentionPeriods, now: Date): ItemRetention {
  if (!item.removedAt) return 'keep';
  const full = periods.fullHistoryRetentionPeriod;
  if (full === null) return 'keep';
  const removed = Date.parse(item.removedAt);
  const metadata = periods.metadataOnlyRetentionPeriod;
  if (metadata !== null && removed + (full + metadata) * 1000 <= now.getTime()) return 'delete';
  return removed + full * 1000 <= now.getTime() ? 'drop-artifact-link' : 'keep';
}

/** When a removed item's retention next changes (link dropped, then row deleted), or null: never again. */
export function nextItemRetentionCheck(item: { removedAt: string | null; artifactId: number | null }, periods: RetentionPeriods): string | null {
  if (!item.removedAt || periods.fullHistoryRetentionPeriod === null) return null;
  const removed = Date.parse(item.removedAt);
  const dropLink = removed + periods.fullHistoryRetentionPeriod * 1000;
  const metadata = periods.metadataOnlyRetentionPeriod;
  const remove = metadata === null ? null : dropLink + metadata * 1000;
  // An item whose link is already dropped (or that never linked an artifact) waits for its deletion only.
  const next = item.artifactId !== null ? dropLink : remove;
  return next === null ? null : new Date(next).toISOString();
}

/** The retention periods of a collection (Debusine's null = forever). */
export function retentionPeriodsOf(c: { fullHistoryRetentionPeriod?: number | null; metadataOnlyRetentionPeriod?: number | null }): RetentionPeriods {
  return { fullHistoryRetentionPeriod: c.fullHistoryRetentionPeriod ?? null, metadataOnlyRetentionPeriod: c.metadataOnlyRetentionPeriod ?? null };
}

/** One line for an operator: why a removed item is still kept as it is. */
export function describeItemRetention(item: { removedAt: string | null; artifactId: number | null }, periods: RetentionPeriods): string {
  if (periods.fullHistoryRetentionPeriod === null) return 'its collection keeps the full history of removed items forever';
  const next = nextItemRetentionCheck(item, periods);
  if (next === null) return 'its collection keeps the metadata of removed items forever';
  return item.artifactId !== null ? `full history kept until ${next}` : `metadata kept until ${next}`;
}

/* ------------------------------------------------------------------------------------------ */
/* Work requests                                                                               */
/* ------------------------------------------------------------------------------------------ */

export interface ExpiryWorkRequest {
  id: number;
  parent: number | null;
  status: WorkRequestStatus;
  createdAt: string;
  /** The workspace's default expiration delay (work requests have no delay of their own). */
  delaySeconds: number | null;
  /**
   * Whether a collection item outside the request's own internal collection names it as
   * `created_by_workflow` / `removed_by_workflow`.
   */
  referencedFromOutside: boolean;
  /**
   * An unfinished request outside the tree that depends on this one (Conveyor's rule: a tree is not
   * deleted under a dependent that may still read its state), or absent.
   */
  unfinishedDependent?: number;
  /** Its workspace is past its `expiration_delay`: expired whatever its own delay (the other rules hold). */
  workspaceExpired?: boolean;
}

export type WorkRequestKeepReason =
  | { kind: 'unexpired'; expireAt: string | null }
  | { kind: 'unfinished'; status: WorkRequestStatus }
  | { kind: 'referenced-by-collection-item' }
  | { kind: 'unfinished-dependent'; dependent: number }
  | { kind: 'parent-kept'; parent: number }
  | { kind: 'child-kept'; child: number };

/**
 * Debusine's rule: a work request expires at created + delay; it is kept when not expired, when a
 * collection item outside its internal collection references it, when its parent is kept or when
 * any child is kept. Conveyor also never deletes an unfinished request. So a workflow tree goes, or
 * stays, as a whole: the graph must hold whole trees.
 */
export function planWorkRequestExpiry(requests: ExpiryWorkRequest[], now: Date): { kept: Map<number, WorkRequestKeepReason>; expired: number[] } {
  const kept = new Map<number, WorkRequestKeepReason>();
  const byId = new Map(requests.map((r) => [r.id, r]));
  const childrenOf = groupBy(
    requests.filter((r) => r.parent !== null),
    (r) => r.parent!,
  );
  const queue: number[] = [];
  for (const r of [...requests].sort((x, y) => x.id - y.id)) {
    const expireAt = expireAfter(new Date(r.createdAt), r.delaySeconds);
    let reason: WorkRequestKeepReason | undefined;
    if (!r.workspaceExpired && !isExpired(expireAt, now)) reason = { kind: 'unexpired', expireAt };
    else if (r.status !== 'completed' && r.status !== 'aborted') reason = { kind: 'unfinished', status: r.status };
    else if (r.referencedFromOutside) reason = { kind: 'referenced-by-collection-item' };
    else if (r.unfinishedDependent !== undefined) reason = { kind: 'unfinished-dependent', dependent: r.unfinishedDependent };
    if (reason) {
      kept.set(r.id, reason);
      queue.push(r.id);
    }
  }
  for (let i = 0; i < queue.length; i++) {
    const id = queue[i]!;
    const parent = byId.get(id)?.parent;
    if (parent !== null && parent !== undefined && byId.has(parent) && !kept.has(parent)) {
      kept.set(parent, { kind: 'child-kept', child: id });
      queue.push(parent);
    }
    for (const child of childrenOf.get(id) ?? []) {
      if (kept.has(child.id)) continue;
      kept.set(child.id, { kind: 'parent-kept', parent: id });
      queue.push(child.id);
    }
  }
  return { kept, expired: requests.map((r) => r.id).filter((id) => !kept.has(id)).sort((x, y) => x - y) };
}

/** One line for an operator: why a work request is kept. */
export function describeWorkRequestKeepReason(reason: WorkRequestKeepReason): string {
  switch (reason.kind) {
    case 'unexpired':
      return reason.expireAt ? `not expired until ${reason.expireAt}` : 'never expires (its workspace has no default_expiration_delay)';
    case 'unfinished':
      return `unfinished (${reason.status})`;
    case 'referenced-by-collection-item':
      return 'a collection item outside its workflow\'s internal collection names it as creator or remover';
    case 'unfinished-dependent':
      return `unfinished work request ${reason.dependent} depends on it`;
    case 'parent-kept':
      return `its parent ${reason.parent} is kept`;
    case 'child-kept':
      return `its child ${reason.child} is kept`;
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Workspaces and tokens                                                                       */
/* ------------------------------------------------------------------------------------------ */

/**
 * A workspace with an `expiration_delay` is deleted that long after its last task completed
 * (after its creation when it never ran one); never while a task is unfinished.
 */
export function workspaceExpired(
  ws: { expirationDelay: number | null; createdAt: string; lastTaskCompletedAt: string | null; hasUnfinishedTasks: boolean },
  now: Date,
): boolean {
  if (!ws.expirationDelay || ws.hasUnfinishedTasks) return false;
  return isExpired(expireAfter(new Date(ws.lastTaskCompletedAt ?? ws.createdAt), ws.expirationDelay), now);
}

export function tokenExpired(token: { expireAt?: string }, now: Date): boolean {
  return isExpired(token.expireAt, now);
}

/* ------------------------------------------------------------------------------------------ */
/* The expiry index                                                                            */
/* ------------------------------------------------------------------------------------------ */

/** Width of one bucket of the expiry index: candidates are read one hour-bucket at a time. */
export const EXPIRY_BUCKET_MS = 3600 * 1000;

/** The index bucket of an expiry time (`EXP#<yyyy-mm-ddThh>`): one Query reads what expires in it. */
export function expiryBucket(expireAt: string): string {
  const t = Date.parse(expireAt);
  return new Date(t - (t % EXPIRY_BUCKET_MS)).toISOString().slice(0, 13);
}

/**
 * The buckets a pass must read: from the oldest bucket it has not finished (its resume point) up to
 * the bucket of `now`. A pass that is up to date reads one or two buckets, whatever is stored.
 */
export function bucketsToScan(resumeFrom: string | null, now: Date, maxBuckets: number): string[] {
  const last = expiryBucket(now.toISOString());
  let t = resumeFrom ? Date.parse(`${resumeFrom}:00:00.000Z`) : Date.parse(`${last}:00:00.000Z`);
  const out: string[] = [];
  while (out.length < maxBuckets) {
    const b = new Date(t).toISOString().slice(0, 13);
    out.push(b);
    if (b >= last) break;
    t += EXPIRY_BUCKET_MS;
  }
  return out;
}
