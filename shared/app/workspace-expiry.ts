/**
 * The workspace step of the expiry pass (reference/debusine.md §6): a workspace with an
 * `expiration_delay` is deleted that long after its last work request finished (after its creation
 * if it never ran one), never while a request in it is unfinished (shared/domain/expiry.ts
 * `workspaceExpired`).
 *
 * Bounded: the candidates are the due entries of the workspace expiry index (written with the
 * workspace row), at most `maxWorkspaces` a pass. An entry read early (a request finished since it
 * was written) moves to last finish + delay, read from the workspace's requests at that moment.
 *
 * What is deleted: the workspace's contents first (shared/app/workspace-contents.ts: work-request
 * trees, artifacts, collections, templates, recurring jobs, usage records), in bounded slices; then,
 * once nothing but role grants is left, the grants, the row conditional on its version, its entry.
 * Something kept from outside the workspace (a relation from another workspace's kept artifact, an
 * item of another workspace's collection) makes it wait, with that reason in the report, and it is
 * looked at again a recheck delay later. A slice cut short leaves the entry due: the next pass goes on.
 * The row goes last, so no row ever names a deleted workspace.
 */
import { expireAfter, workspaceExpired } from '../domain/expiry';
import type { Workspace } from '../domain/tenancy';
import { isFinished } from '../domain/work-requests';
import type { Deps } from '../ports';
import type { ExpiryStore } from '../ports/expiry';
import type { GoingWorkspace, ReleasedFiles } from './artifact-deletion';
import { recordAudit } from './audit';
import type { FollowUpFailure } from './follow-ups';
import { emptyWorkspace, hasContents, noContents, type WorkspaceContents } from './workspace-contents';
import { whileInBounds } from './bounded-steps';

export interface WorkspaceRef {
  scope: string;
  workspace: string;
}

export interface WaitingWorkspace extends WorkspaceRef {
  why: string;
}

export interface WorkspaceExpiryReport {
  /** Deleted (a dry run: would be deleted). */
  deleted: WorkspaceRef[];
  /** Due, or past their delay, but not deleted: why. */
  waiting: WaitingWorkspace[];
  /** Per workspace past its delay: what of its contents went (a dry run: would go) in this pass. */
  contents: WorkspaceContents[];
  /** Steps after a committed delete that failed (usage accounting). */
  followUpFailures?: FollowUpFailure[];
  /** False when a limit stopped the step: the rest waits in the index. */
  finished: boolean;
}

export const DEFAULT_MAX_WORKSPACES = 20;
export const DEFAULT_MAX_WORKSPACE_DELETIONS = 1000;
/** Work requests of a due workspace read to find an unfinished one (pages of 100). */
const MAX_REQUESTS_READ = 1000;

/** What a due workspace's work requests say: an unfinished one, when the last one finished, or too many to read. */
interface Activity {
  unfinished?: string;
  /** Null when the workspace has no work request at all. */
  lastFinishedAt: string | null;
  /** Its tree roots (requests without a parent). */
  roots: number[];
}

/**
 * Reads the workspace's work requests (at most MAX_REQUESTS_READ): finishing a request writes nothing
 * to the workspace's expiry entry, so the finish times are read here, only for a workspace whose
 * entry is due (few: only workspaces with a delay have one).
 */
async function activityOf(deps: Deps, ws: Workspace): Promise<Activity> {
  let cursor: string | undefined;
  let read = 0;
  const activity: Activity = { lastFinishedAt: null, roots: [] };
  do {
    const page = await deps.workRequests.list({ scope: ws.scope, workspace: ws.name, limit: 100, cursor });
    for (const wr of page.items) {
      if (!isFinished(wr)) return { ...activity, unfinished: `work request ${wr.id} is unfinished (${wr.status})` };
      const at = new Date(wr.completedAt ?? wr.createdAt).toISOString();
      if (activity.lastFinishedAt === null || at > activity.lastFinishedAt) activity.lastFinishedAt = at;
      if (wr.parent === null) activity.roots.push(wr.id);
    }
    read += page.items.length;
    cursor = page.next ?? undefined;
  } while (cursor && read < MAX_REQUESTS_READ);
  if (cursor) return { ...activity, unfinished: `more than ${MAX_REQUESTS_READ} work requests: too many to look at in one pass` };
  return activity;
}

/** What is still in the workspace besides role grants (a racing create since it was emptied), or undefined. */
async function leftovers(deps: Deps, ws: Workspace): Promise<string | undefined> {
  const left: string[] = [];
  if ((await deps.workRequests.list({ scope: ws.scope, workspace: ws.name, limit: 1 })).items.length) left.push('work requests');
  if ((await deps.artifacts.list({ scope: ws.scope, workspace: ws.name, limit: 1 })).items.length) left.push('artifacts');
  if ((await deps.collections.list(ws.scope, ws.name)).length) left.push('collections');
  if ((await deps.templates.list(ws.scope, ws.name)).length) left.push('workflow templates');
  if (deps.recurringJobs && (await deps.recurringJobs.list(ws.scope, ws.name, 1)).items.length) left.push('recurring jobs');
  return left.length ? left.join(', ') : undefined;
}

/** When the workspace is really due: last finish (else creation) + delay. */
function dueAt(ws: Workspace, lastFinishedAt: string | null): string | null {
  const last = lastFinishedAt !== null && lastFinishedAt > ws.createdAt ? lastFinishedAt : ws.createdAt;
  return expireAfter(new Date(last), ws.expirationDelay ?? null);
}

export async function expireWorkspaces(
  deps: Deps,
  expiryStore: ExpiryStore,
  opts: {
    dryRun: boolean;
    maxWorkspaces?: number;
    /** Deletions (and artifact condemnations) of contents in this pass, over all workspaces. */
    maxDeletions?: number;
    maxGraph?: number;
    recheckSeconds: number;
    outOfTime?: () => boolean;
    /** Filled with the workspaces whose contents are going: the artifact step judges their artifacts alike. */
    going?: GoingWorkspace[];
    onFilesReleased?: (released: ReleasedFiles) => Promise<void>;
  },
): Promise<WorkspaceExpiryReport> {
  const store = expiryStore.workspaces;
  const report: WorkspaceExpiryReport = { deleted: [], waiting: [], contents: [], finished: true };
  const going = opts.going ?? [];
  const failures: FollowUpFailure[] = [];
  const budget = { left: opts.maxDeletions ?? DEFAULT_MAX_WORKSPACE_DELETIONS };
  const now = deps.clock.now();
  const max = opts.maxWorkspaces ?? DEFAULT_MAX_WORKSPACES;
  const entries = await store.dueWorkspaces(now.toISOString(), max);
  const recheck = async (entry: WorkspaceRef, at: string | null) => {
    if (!opts.dryRun) await store.recheckWorkspace(entry.scope, entry.workspace, at);
  };
  const later = () => new Date(now.getTime() + Math.max(opts.recheckSeconds, 60) * 1000).toISOString();

  for (const entry of whileInBounds(report, entries, max, opts.outOfTime)) {
    const ws = await deps.identity.getWorkspace(entry.scope, entry.workspace);
    if (!ws || dueAt(ws, null) === null) {
      await recheck(entry, null); // gone, or no delay any more
      continue;
    }
    const activity = await activityOf(deps, ws);
    if (activity.unfinished) {
      report.waiting.push({ scope: ws.scope, workspace: ws.name, why: activity.unfinished });
      await recheck(entry, later());
      continue;
    }
    const due = dueAt(ws, activity.lastFinishedAt)!;
    if (!workspaceExpired({ expirationDelay: ws.expirationDelay ?? null, createdAt: ws.createdAt, lastTaskCompletedAt: activity.lastFinishedAt, hasUnfinishedTasks: false }, now)) {
      await recheck(entry, due); // a request finished since the entry was written
      continue;
    }
    const goingWs: GoingWorkspace = { scope: ws.scope, workspace: ws.name, collections: new Set((await deps.collections.list(ws.scope, ws.name)).map((c) => c.id)) };
    going.push(goingWs);
    const contents = noContents(ws);
    const ctx = { dryRun: opts.dryRun, now, budget, maxGraph: opts.maxGraph ?? 5000, outOfTime: opts.outOfTime, going, onFilesReleased: opts.onFilesReleased, failures };
    const emptying = await emptyWorkspace(deps, expiryStore, ws, goingWs, activity.roots, ctx, contents);
    if (hasContents(contents)) report.contents.push(contents);
    if (emptying.state === 'waiting') {
      report.waiting.push({ scope: ws.scope, workspace: ws.name, why: `waiting: ${emptying.why}` });
      await recheck(entry, later());
      continue;
    }
    if (emptying.state === 'more') {
      report.finished = false; // the entry stays due: the next pass goes on
      continue;
    }
    if (opts.dryRun) {
      report.deleted.push({ scope: ws.scope, workspace: ws.name });
      continue;
    }
    const left = await leftovers(deps, ws);
    if (left) {
      report.finished = false; // created since it was emptied: the next pass deletes it
      continue;
    }
    // Grants first, the row last (conditional on the version read): a pass that stops half way finds it again.
    for (const grant of await deps.identity.listRoles(ws.scope, ws.name)) await deps.identity.deleteRole(ws.scope, ws.name, grant.username);
    if (!(await store.deleteWorkspace(ws))) continue; // changed meanwhile: its entry brings it back
    report.deleted.push({ scope: ws.scope, workspace: ws.name });
    await recordAudit(deps, 'system:expiry', 'workspace.expired', {
      scope: ws.scope,
      workspace: ws.name,
      expiration_delay: ws.expirationDelay,
      created_at: ws.createdAt,
      last_finished_at: activity.lastFinishedAt,
    });
  }
  if (failures.length) report.followUpFailures = failures;
  return report;
}
