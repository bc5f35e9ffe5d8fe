/**
 * The work-request step of the expiry pass (reference/debusine.md §6 "Work requests"): a work
 * request expires at created + delay (its workspace's `default_expiration_delay`; 0 or null =
 * never) and is kept while unfinished, while a collection item outside its workflow's internal
 * collection names it as creator or remover, while its parent or any child is kept, and (Conveyor)
 * while an unfinished request outside its tree depends on it. So a workflow tree goes, or stays, as
 * a whole; its internal collection goes with it.
 *
 * Bounded: the candidates are tree roots from the work-request expiry index (an entry is written
 * when a root finishes), due ones only, at most `maxTrees` a pass; a tree is read through its child
 * links. A tree found kept moves to its next check (when its last request expires, or a recheck
 * delay later); one that never expires leaves the index. Every delete is conditional on the version
 * read; the root goes last, so a pass that stops half way finds the rest through the same entry.
 */
import { describeWorkRequestKeepReason, expireAfter, planWorkRequestExpiry, type ExpiryWorkRequest, type WorkRequestKeepReason } from '../domain/expiry';
import { ConflictError } from '../domain/errors';
import { isFinished, type WorkRequest } from '../domain/work-requests';
import type { Deps } from '../ports';
import type { WorkRequestExpiryStore } from '../ports/work-request-expiry';
import { recordAudit } from './audit';
import { dueInBounds } from './bounded-steps';

export interface ExpiredWorkRequestRef {
  id: number;
  root: number;
  task_name: string;
  status: string;
}

export interface KeptWorkRequestTree {
  root: number;
  /** Requests in the tree. */
  requests: number;
  why: string;
}

export interface WorkRequestExpiryReport {
  /** Deleted (a dry run: would be deleted), children before their parents. */
  deleted: ExpiredWorkRequestRef[];
  /** Internal collections deleted with their workflow. */
  collections: number[];
  /** Trees looked at and kept, with why. */
  kept: KeptWorkRequestTree[];
  /** False when a limit stopped the step: the rest waits in the index. */
  finished: boolean;
}

export const DEFAULT_MAX_TREES = 100;
/** Most requests read for one tree; a larger tree is reported kept ("too large") and looked at again later. */
export const MAX_TREE_REQUESTS = 2000;

/** A tree, parents before children (breadth first), or undefined when it has more than `max` requests. */
export async function loadTree(deps: Deps, root: WorkRequest, max: number): Promise<WorkRequest[] | undefined> {
  const tree = [root];
  for (let i = 0; i < tree.length; i++) {
    if (tree[i]!.taskType !== 'Workflow') continue; // only workflows have children
    tree.push(...(await deps.workRequests.children(tree[i]!.id)));
    if (tree.length > max) return undefined;
  }
  return tree;
}

/** Follows parent-kept / child-kept back to the request that keeps the tree by itself. */
function explain(kept: Map<number, WorkRequestKeepReason>, rootId: number): string {
  let id = rootId;
  let reason = kept.get(id)!;
  for (let hops = 0; (reason.kind === 'child-kept' || reason.kind === 'parent-kept') && hops <= kept.size; hops++) {
    id = reason.kind === 'child-kept' ? reason.child : reason.parent;
    reason = kept.get(id)!;
  }
  return id === rootId ? describeWorkRequestKeepReason(reason) : `work request ${id} of the tree: ${describeWorkRequestKeepReason(reason)}`;
}

export async function expireWorkRequests(
  deps: Deps,
  store: WorkRequestExpiryStore,
  opts: { dryRun: boolean; maxTrees?: number; recheckSeconds: number; outOfTime?: () => boolean },
): Promise<WorkRequestExpiryReport> {
  const report: WorkRequestExpiryReport = { deleted: [], collections: [], kept: [], finished: true };
  const now = deps.clock.now();
  const roots = await dueInBounds(report, (dueBy, max) => store.dueRoots(dueBy, max), { now, max: opts.maxTrees ?? DEFAULT_MAX_TREES, outOfTime: opts.outOfTime });
  const delays = new Map<string, number | null>();
  const delayOf = async (wr: WorkRequest) => {
    const key = `${wr.scope}/${wr.workspace}`;
    if (!delays.has(key)) delays.set(key, (await deps.identity.getWorkspace(wr.scope, wr.workspace))?.defaultExpirationDelay ?? null);
    return delays.get(key)!;
  };
  const recheck = async (rootId: number, at: string | null) => {
    if (!opts.dryRun) await store.recheckRoot(rootId, at);
  };

  for (const rootId of roots) {
    const root = await deps.workRequests.get(rootId);
    if (!root || root.parent !== null) {
      await recheck(rootId, null); // gone, or not a root: nothing to look at through this entry
      continue;
    }
    const tree = await loadTree(deps, root, MAX_TREE_REQUESTS);
    if (!tree) {
      report.kept.push({ root: rootId, requests: MAX_TREE_REQUESTS, why: `more than ${MAX_TREE_REQUESTS} requests: too large for one pass` });
      await recheck(rootId, new Date(now.getTime() + opts.recheckSeconds * 1000).toISOString());
      continue;
    }
    const delay = await delayOf(root);
    const inTree = new Set(tree.map((wr) => wr.id));
    const kept = await judgeTree(deps, store, root, tree, now, { delay, ownCollections: new Set(root.internalCollection === null ? [] : [root.internalCollection]) });
    if (kept) {
      report.kept.push({ root: rootId, requests: tree.length, why: kept });
      const expireAts = tree.map((wr) => expireAfter(new Date(wr.createdAt), delay));
      const latest = expireAts.some((at) => at === null) ? null : expireAts.reduce((a, b) => (a! > b! ? a : b));
      if (latest === null) await recheck(rootId, null); // never expires: nothing will change
      else if (latest > now.toISOString()) await recheck(rootId, latest);
      else await recheck(rootId, new Date(now.getTime() + opts.recheckSeconds * 1000).toISOString());
      continue;
    }
    await deleteTree(deps, store, root, tree, inTree, opts.dryRun, report);
  }
  return report;
}

/**
 * Why a whole tree is kept, or undefined when it can go. `workspaceExpired`: its workspace is past
 * its `expiration_delay`, so the tree is expired whatever its own delay (every other keep rule
 * holds). Collection items in `ownCollections` (which go with the tree) keep nothing.
 */
export async function judgeTree(
  deps: Deps,
  store: WorkRequestExpiryStore,
  root: WorkRequest,
  tree: WorkRequest[],
  now: Date,
  judgement: { delay: number | null; ownCollections: ReadonlySet<number>; workspaceExpired?: boolean },
): Promise<string | undefined> {
  const inTree = new Set(tree.map((wr) => wr.id));
  const facts: ExpiryWorkRequest[] = tree.map((wr) => ({
    id: wr.id,
    parent: wr.parent,
    status: wr.status,
    createdAt: wr.createdAt,
    delaySeconds: judgement.delay,
    referencedFromOutside: false,
    ...(judgement.workspaceExpired ? { workspaceExpired: true } : {}),
  }));
  // The cheap facts first; references and dependents are read only for a tree that could go.
  let plan = planWorkRequestExpiry(facts, now);
  if (plan.kept.size === 0) {
    for (const fact of facts) {
      fact.referencedFromOutside = await store.referencedFromOutside(fact.id, judgement.ownCollections);
      for (const dependent of await deps.workRequests.reverseDependencies(fact.id)) {
        if (inTree.has(dependent)) continue;
        const other = await deps.workRequests.get(dependent);
        if (other && !isFinished(other)) fact.unfinishedDependent = dependent;
      }
    }
    plan = planWorkRequestExpiry(facts, now);
  }
  return plan.kept.size > 0 ? explain(plan.kept, root.id) : undefined;
}

/** Children before parents, the internal collection, then the root: a stop half way leaves the root's entry to finish it. */
export async function deleteTree(deps: Deps, store: WorkRequestExpiryStore, root: WorkRequest, tree: WorkRequest[], inTree: Set<number>, dryRun: boolean, report: WorkRequestExpiryReport): Promise<void> {
  const ref = (wr: WorkRequest): ExpiredWorkRequestRef => ({ id: wr.id, root: root.id, task_name: wr.taskName, status: wr.status });
  const children = tree.slice(1).reverse();
  const collection = root.internalCollection === null ? undefined : await deps.collections.get(root.internalCollection);
  if (dryRun) {
    report.deleted.push(...children.map(ref), ref(root));
    if (collection) report.collections.push(collection.id);
    return;
  }
  for (const wr of children) {
    if (!(await deleteOne(deps, store, wr, root, inTree))) return;
    report.deleted.push(ref(wr));
  }
  if (collection) {
    await store.deleteCollection(collection);
    report.collections.push(collection.id);
    await recordAudit(deps, 'system:expiry', 'collection.expired', { collection: collection.id, name: collection.name, category: collection.category, workflow: root.id });
  }
  if (await deleteOne(deps, store, root, root, inTree)) report.deleted.push(ref(root));
}

async function deleteOne(deps: Deps, store: WorkRequestExpiryStore, wr: WorkRequest, root: WorkRequest, inTree: Set<number>): Promise<boolean> {
  // Finished dependents outside the tree stop naming it (Debusine deletes the dependency edge with the request).
  for (const dependent of await deps.workRequests.reverseDependencies(wr.id)) {
    if (inTree.has(dependent)) continue;
    const other = await deps.workRequests.get(dependent);
    if (!other || !other.dependencies.includes(wr.id)) continue;
    const updated = { ...other, dependencies: other.dependencies.filter((d) => d !== wr.id), version: other.version + 1 };
    try {
      await deps.workRequests.commit({ update: [{ workRequest: updated, expectedVersion: other.version }] });
    } catch (err) {
      if (err instanceof ConflictError) return false; // it changed meanwhile: the next pass looks again
      throw err;
    }
  }
  if (!(await store.deleteWorkRequest(wr))) return false;
  await recordAudit(deps, 'system:expiry', 'work-request.expired', {
    work_request: wr.id,
    root: root.id,
    scope: wr.scope,
    workspace: wr.workspace,
    task_name: wr.taskName,
    status: wr.status,
    created_at: wr.createdAt,
  });
  return true;
}
