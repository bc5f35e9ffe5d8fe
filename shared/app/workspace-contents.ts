/**
 * Emptying a workspace past its `expiration_delay` (the workspace step of the expiry pass,
 * shared/app/workspace-expiry.ts), in bounded slices that the workspace's expiry entry drives: a
 * pass that stops (its deletion budget or its time spent) leaves the entry due, and the next pass
 * starts again from what is left. Order, each kind through the deletes the other steps use:
 * 1. work-request trees, whatever their own delay, with every other keep rule of the work-request
 *    step (a collection item of another workspace naming one, an unfinished dependent elsewhere);
 * 2. artifacts through condemn-then-delete (one pass condemns, a later one deletes), judged with
 *    the workspace's artifacts expired and its own collections retaining nothing: what still keeps
 *    one comes from outside, and the workspace waits, with that reason;
 * 3. collections with their items, workflow templates with their run records, recurring jobs with
 *    their results and events, the workspace's quota and usage records.
 * Grants, the row and the entry go last (workspace-expiry.ts), once nothing else is left.
 */
import { describeKeepReason, planArtifactExpiry } from '../domain/expiry';
import type { Workspace } from '../domain/tenancy';
import type { Deps } from '../ports';
import type { ExpiryStore } from '../ports/expiry';
import { closureCondemned, deleteCondemned, judgeWithGoingWorkspaces, loadGraph, type GoingWorkspace, type ReleasedFiles } from './artifact-deletion';
import { recordAudit } from './audit';
import type { FollowUpFailure } from './follow-ups';
import { deleteTree, judgeTree, loadTree, MAX_TREE_REQUESTS, type WorkRequestExpiryReport } from './work-request-expiry';

/** What the pass deleted (a dry run: would delete) of one workspace's contents. */
export interface WorkspaceContents {
  scope: string;
  workspace: string;
  workRequests: number[];
  /** Deleted (a dry run: the artifacts of the first page read, which would go). */
  artifacts: number[];
  /** Condemned: a later pass deletes them. */
  condemnedArtifacts: number[];
  collections: number[];
  workflowTemplates: string[];
  recurringJobs: number[];
  /** Whether its quota and usage records went (a dry run: would go). */
  usageRecords: boolean;
}

export interface EmptyingContext {
  dryRun: boolean;
  now: Date;
  /** Deletions (and condemnations) left to this pass, shared by every workspace it empties. */
  budget: { left: number };
  maxGraph: number;
  outOfTime?: () => boolean;
  /** Every workspace the pass is emptying: their artifacts are judged alike. */
  going: GoingWorkspace[];
  onFilesReleased?: (released: ReleasedFiles) => Promise<void>;
  failures: FollowUpFailure[];
}

/** `empty`: nothing but role grants is left. `more`: the next pass continues. `waiting`: something outside keeps part of it. */
export type Emptying = { state: 'empty' } | { state: 'more' } | { state: 'waiting'; why: string };

/** Artifacts read (with their backward closure) per slice. */
const ARTIFACT_PAGE = 100;
const MORE: Emptying = { state: 'more' };

export function noContents(ws: Workspace): WorkspaceContents {
  return { scope: ws.scope, workspace: ws.name, workRequests: [], artifacts: [], condemnedArtifacts: [], collections: [], workflowTemplates: [], recurringJobs: [], usageRecords: false };
}

export function hasContents(c: WorkspaceContents): boolean {
  return c.usageRecords || [c.workRequests, c.artifacts, c.condemnedArtifacts, c.collections, c.workflowTemplates, c.recurringJobs].some((list) => list.length > 0);
}

/**
 * Deletes the workspace's contents, as far as the budget goes. `roots`: the workspace's work-request
 * tree roots (all finished: the caller checked); `moreRequests`: the workspace has requests beyond
 * those roots' slice, so the next pass goes on with them before anything else. Each kind is finished before the next starts, so a
 * collection still retaining an artifact being deleted is never deleted first.
 */
export async function emptyWorkspace(deps: Deps, store: ExpiryStore, ws: Workspace, going: GoingWorkspace, roots: number[], ctx: EmptyingContext, contents: WorkspaceContents, moreRequests = false): Promise<Emptying> {
  const stop = () => ctx.budget.left <= 0 || (ctx.outOfTime?.() ?? false);
  const spend = (n: number) => {
    ctx.budget.left -= n;
  };

  for (const rootId of roots) {
    if (stop()) return MORE;
    const root = await deps.workRequests.get(rootId);
    if (!root || root.parent !== null) continue;
    const tree = await loadTree(deps, root, MAX_TREE_REQUESTS);
    if (!tree) return { state: 'waiting', why: `work request ${rootId}: more than ${MAX_TREE_REQUESTS} requests, too large for one pass` };
    const kept = await judgeTree(deps, store.workRequests, root, tree, ctx.now, { delay: null, ownCollections: going.collections, workspaceExpired: true });
    if (kept) return { state: 'waiting', why: `work request ${rootId} is kept: ${kept}` };
    const deleted: WorkRequestExpiryReport = { deleted: [], collections: [], kept: [], finished: true };
    await deleteTree(deps, store.workRequests, root, tree, new Set(tree.map((wr) => wr.id)), ctx.dryRun, deleted);
    contents.workRequests.push(...deleted.deleted.map((r) => r.id));
    contents.collections.push(...deleted.collections);
    spend(tree.length);
  }
  if (moreRequests) return MORE;

  const artifacts = await emptyArtifacts(deps, store, ws, ctx, contents, stop, spend);
  if (artifacts.state !== 'empty') return artifacts;

  if (ctx.dryRun) {
    contents.collections.push(...(await deps.collections.list(ws.scope, ws.name)).map((c) => c.id).filter((id) => !contents.collections.includes(id)));
    contents.workflowTemplates.push(...(await deps.templates.list(ws.scope, ws.name)).map((t) => t.name));
    if (deps.recurringJobs) contents.recurringJobs.push(...(await deps.recurringJobs.list(ws.scope, ws.name, 100)).items.map((j) => j.id));
    contents.usageRecords = true;
    return { state: 'empty' };
  }

  for (const collection of await deps.collections.list(ws.scope, ws.name)) {
    if (stop()) return MORE;
    await store.workRequests.deleteCollection(collection);
    spend(1);
    contents.collections.push(collection.id);
    await recordAudit(deps, 'system:expiry', 'collection.expired', { collection: collection.id, name: collection.name, category: collection.category, scope: ws.scope, workspace: ws.name });
  }
  for (const template of await deps.templates.list(ws.scope, ws.name)) {
    if (stop()) return MORE;
    // The runs first: a stop in between leaves the template, found again next pass.
    await store.workspaces.deleteTemplateRuns(ws.scope, ws.name, template.name);
    await deps.templates.delete(template);
    spend(1);
    contents.workflowTemplates.push(template.name);
    await recordAudit(deps, 'system:expiry', 'workflow-template.expired', { template: template.id, name: template.name, scope: ws.scope, workspace: ws.name });
  }
  for (;;) {
    const jobs = deps.recurringJobs ? (await deps.recurringJobs.list(ws.scope, ws.name, 100)).items : [];
    if (jobs.length === 0) break;
    for (const job of jobs) {
      if (stop()) return MORE;
      if (!(await store.workspaces.deleteRecurringJob(job))) return MORE; // changed meanwhile: read again next pass
      spend(1);
      contents.recurringJobs.push(job.id);
      await recordAudit(deps, 'system:expiry', 'recurring-job.expired', { recurring_job: job.id, kind: job.kind, scope: ws.scope, workspace: ws.name });
    }
  }
  await store.workspaces.deleteUsageRecords(ws.scope, ws.name);
  contents.usageRecords = true;
  return { state: 'empty' };
}

/**
 * One slice of the workspace's artifacts (the first page, with everything relating to them): the
 * uncondemned are condemned, the condemned whose relating artifacts are all condemned too are
 * deleted. `empty` only when the workspace has no artifact left.
 */
async function emptyArtifacts(
  deps: Deps,
  store: ExpiryStore,
  ws: Workspace,
  ctx: EmptyingContext,
  contents: WorkspaceContents,
  stop: () => boolean,
  spend: (n: number) => void,
): Promise<Emptying> {
  const page = await deps.artifacts.list({ scope: ws.scope, workspace: ws.name, limit: ARTIFACT_PAGE });
  if (page.items.length === 0) return { state: 'empty' };
  const { nodes, graph, complete } = await loadGraph(deps, store, page.items.map((a) => a.id), ctx.maxGraph);
  const plan = planArtifactExpiry(judgeWithGoingWorkspaces(graph, nodes, ctx.going), ctx.now);
  const ours = (id: number) => {
    const a = nodes.get(id)?.state.artifact;
    return a !== undefined && a.scope === ws.scope && a.workspace === ws.name;
  };
  for (const [id, reason] of plan.kept) {
    if (ours(id)) return { state: 'waiting', why: `artifact ${id} is kept from outside the workspace: ${describeKeepReason(reason)}` };
  }
  const nowIso = ctx.now.toISOString();
  let blocked: string | undefined;
  let progressed = false;
  for (const id of plan.expired) {
    // Another workspace's artifacts are the artifact step's (or their own workspace's) to delete.
    if (!ours(id)) continue;
    const node = nodes.get(id)!;
    if (!complete && !node.sources.every((s) => nodes.has(s))) continue; // cannot be judged: a later slice
    if (stop()) return MORE;
    if (ctx.dryRun) {
      contents.artifacts.push(id);
      continue;
    }
    if (node.state.condemnedAt === null) {
      if (await store.condemnArtifact(id, node.state.artifact.version, nowIso)) contents.condemnedArtifacts.push(id);
      progressed = true;
      spend(1);
    } else if (closureCondemned(nodes, id)) {
      if (await deleteCondemned(deps, store, node.state, ctx.onFilesReleased, ctx.failures)) contents.artifacts.push(id);
      progressed = true;
      spend(1);
    } else {
      const waitingOn = node.sources.find((s) => nodes.get(s)?.state.condemnedAt === null);
      blocked = `artifact ${id}: artifact ${waitingOn ?? '?'} of another workspace relates to it and is not condemned yet`;
    }
  }
  if (ctx.dryRun) return { state: 'empty' };
  if (!progressed && blocked) return { state: 'waiting', why: blocked };
  return MORE;
}
