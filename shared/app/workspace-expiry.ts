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
 * What is deleted today: a due workspace whose only contents are role grants (the grants, then the
 * row conditional on its version, then its entry). A due workspace that still holds work requests,
 * artifacts, collections, workflow templates or recurring jobs is not deleted (deleting those with
 * it is not built yet): it waits, with that reason in the report, and is looked at again a recheck
 * delay later, so no row ever names a deleted workspace.
 */
import { expireAfter, workspaceExpired } from '../domain/expiry';
import type { Workspace } from '../domain/tenancy';
import { isFinished } from '../domain/work-requests';
import type { Deps } from '../ports';
import type { WorkspaceExpiryStore } from '../ports/workspace-expiry';
import { recordAudit } from './audit';
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
  /** False when a limit stopped the step: the rest waits in the index. */
  finished: boolean;
}

export const DEFAULT_MAX_WORKSPACES = 20;
/** Work requests of a due workspace read to find an unfinished one (pages of 100). */
const MAX_REQUESTS_READ = 1000;

/** What a due workspace's work requests say: an unfinished one, when the last one finished, or too many to read. */
interface Activity {
  unfinished?: string;
  /** Null when the workspace has no work request at all. */
  lastFinishedAt: string | null;
}

/**
 * Reads the workspace's work requests (at most MAX_REQUESTS_READ): finishing a request writes nothing
 * to the workspace's expiry entry, so the finish times are read here, only for a workspace whose
 * entry is due (few: only workspaces with a delay have one).
 */
async function activityOf(deps: Deps, ws: Workspace): Promise<Activity> {
  let cursor: string | undefined;
  let read = 0;
  const activity: Activity = { lastFinishedAt: null };
  do {
    const page = await deps.workRequests.list({ scope: ws.scope, workspace: ws.name, limit: 100, cursor });
    for (const wr of page.items) {
      if (!isFinished(wr)) return { ...activity, unfinished: `work request ${wr.id} is unfinished (${wr.status})` };
      const at = new Date(wr.completedAt ?? wr.createdAt).toISOString();
      if (activity.lastFinishedAt === null || at > activity.lastFinishedAt) activity.lastFinishedAt = at;
    }
    read += page.items.length;
    cursor = page.next ?? undefined;
  } while (cursor && read < MAX_REQUESTS_READ);
  if (cursor) return { ...activity, unfinished: `more than ${MAX_REQUESTS_READ} work requests: too many to look at in one pass` };
  return activity;
}

/** Why a workspace past its delay cannot go now, or undefined when it can (only role grants left). */
async function blocker(deps: Deps, ws: Workspace, activity: Activity): Promise<string | undefined> {
  const left: string[] = [];
  if (activity.lastFinishedAt !== null) left.push('work requests');
  if ((await deps.artifacts.list({ scope: ws.scope, workspace: ws.name, limit: 1 })).items.length) left.push('artifacts');
  if ((await deps.collections.list(ws.scope, ws.name)).length) left.push('collections');
  if ((await deps.templates.list(ws.scope, ws.name)).length) left.push('workflow templates');
  if (deps.recurringJobs && (await deps.recurringJobs.list(ws.scope, ws.name, 1)).items.length) left.push('recurring jobs');
  if (left.length) return `waiting: deleting a workspace's ${left.join(', ')} with it is not supported yet`;
  return undefined;
}

/** When the workspace is really due: last finish (else creation) + delay. */
function dueAt(ws: Workspace, lastFinishedAt: string | null): string | null {
  const last = lastFinishedAt !== null && lastFinishedAt > ws.createdAt ? lastFinishedAt : ws.createdAt;
  return expireAfter(new Date(last), ws.expirationDelay ?? null);
}

export async function expireWorkspaces(
  deps: Deps,
  store: WorkspaceExpiryStore,
  opts: { dryRun: boolean; maxWorkspaces?: number; recheckSeconds: number; outOfTime?: () => boolean },
): Promise<WorkspaceExpiryReport> {
  const report: WorkspaceExpiryReport = { deleted: [], waiting: [], finished: true };
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
    const why = await blocker(deps, ws, activity);
    if (why) {
      report.waiting.push({ scope: ws.scope, workspace: ws.name, why });
      await recheck(entry, later());
      continue;
    }
    if (opts.dryRun) {
      report.deleted.push({ scope: ws.scope, workspace: ws.name });
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
  return report;
}
