/**
 * The workspace step of the expiry pass (reference/debusine.md §6): a workspace with an
 * `expiration_delay` is deleted that long after its last work request finished (after its creation
 * if it never ran one), never while a request in it is unfinished (shared/domain/expiry.ts
 * `workspaceExpired`).
 *
 * Bounded: the candidates are the due entries of the workspace expiry index (written with the
 * workspace row), at most `maxWorkspaces` a pass. An entry read early (a request finished since it
 * was written) moves to last finish + delay, read from the workspace's requests at that moment:
 * at most `maxRequestsRead` of them a pass, the scan's progress kept on the entry (its cursor, the
 * latest finish so far) so a workspace of any size is judged after enough passes; a scan that a
 * request created since it began could have missed starts again (`scanHolds`).
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
import { isFinished, type WorkRequest } from '../domain/work-requests';
import type { Deps } from '../ports';
import type { ExpiryStore } from '../ports/expiry';
import type { WorkspaceScan } from '../ports/workspace-expiry';
import { ValidationError } from '../domain/errors';
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
/** Work requests of a due workspace read in one pass (pages of 100), per workspace. */
export const DEFAULT_MAX_REQUESTS_READ = 1000;
/** A request created this long before a scan began may not have been committed when it listed the newest. */
const COMMIT_MARGIN_MS = 60_000;

/** What a slice of a due workspace's work requests says. */
type Scanned =
  | { state: 'unfinished'; why: string }
  /** Read so far, none unfinished, more to read. */
  | { state: 'more'; scan: WorkspaceScan }
  /** Every request read, none unfinished. `all`: the whole listing, when this pass read it from the start. */
  | { state: 'complete'; scan: WorkspaceScan; all?: WorkRequest[] };

const newestMark = (wr: WorkRequest | undefined) => (wr ? { id: wr.id, createdAt: wr.createdAt } : null);

/**
 * Whether a saved scan still covers every request. Requests are listed newest first, so one created
 * after the scan began is listed before its cursor, where the scan never looks again: the scan holds
 * while the newest listed is the one it began from, or an older one (the newer ones were deleted). A
 * higher id, or a creation after the scan began (less a margin for commits in flight), is a new request.
 */
function scanHolds(scan: WorkspaceScan, newest: WorkRequest | undefined): boolean {
  if (!newest || newest.id === scan.newest?.id) return true;
  if (scan.newest === null || newest.id > scan.newest.id) return false;
  return Date.parse(newest.createdAt) < Date.parse(scan.startedAt) - COMMIT_MARGIN_MS;
}

/** Up to `maxRead` of the workspace's work requests from `cursor` (newest first), and where the listing goes on. */
async function listSlice(deps: Deps, ws: Workspace, cursor: string | undefined, maxRead: number): Promise<{ items: WorkRequest[]; next?: string }> {
  const items: WorkRequest[] = [];
  do {
    const page = await deps.workRequests.list({ scope: ws.scope, workspace: ws.name, limit: Math.min(100, maxRead - items.length), cursor });
    items.push(...page.items);
    cursor = page.next ?? undefined;
  } while (cursor && items.length < maxRead);
  return { items, ...(cursor ? { next: cursor } : {}) };
}

function unfinishedIn(items: WorkRequest[]): string | undefined {
  const wr = items.find((w) => !isFinished(w));
  return wr && `work request ${wr.id} is unfinished (${wr.status})`;
}

/**
 * Reads the next slice (at most `maxRead`) of the workspace's work requests, going on from the scan
 * saved on its entry while it holds, else from the start: finishing a request writes nothing to the
 * workspace's expiry entry, so the finish times are read here, only for a workspace whose entry is due
 * (few: only workspaces with a delay have one).
 */
async function scanRequests(deps: Deps, ws: Workspace, saved: WorkspaceScan | undefined, now: Date, maxRead: number): Promise<Scanned> {
  let scan: WorkspaceScan | undefined;
  if (saved) {
    const newest = (await deps.workRequests.list({ scope: ws.scope, workspace: ws.name, limit: 1 })).items[0];
    if (scanHolds(saved, newest)) scan = saved;
  }
  if (scan?.complete) return { state: 'complete', scan };
  const fresh = scan === undefined;
  const progress: WorkspaceScan = scan ? { ...scan } : { startedAt: now.toISOString(), newest: null, cursor: null, complete: false, read: 0, lastFinishedAt: null };
  let slice;
  try {
    slice = await listSlice(deps, ws, progress.cursor ?? undefined, maxRead);
  } catch (err) {
    if (err instanceof ValidationError && !fresh) return scanRequests(deps, ws, undefined, now, maxRead); // a cursor no longer valid
    throw err;
  }
  const unfinished = unfinishedIn(slice.items);
  if (unfinished) return { state: 'unfinished', why: unfinished };
  if (fresh) progress.newest = newestMark(slice.items[0]);
  for (const wr of slice.items) {
    const at = new Date(wr.completedAt ?? wr.createdAt).toISOString();
    if (progress.lastFinishedAt === null || at > progress.lastFinishedAt) progress.lastFinishedAt = at;
  }
  progress.read += slice.items.length;
  progress.cursor = slice.next ?? null;
  progress.complete = slice.next === undefined;
  if (!progress.complete) return { state: 'more', scan: progress };
  return { state: 'complete', scan: progress, ...(fresh ? { all: slice.items } : {}) };
}

/**
 * The work-request tree roots to delete this pass: those of the first `maxRead` requests listed
 * (deleted trees leave the listing, so each pass starts again from the start), walking up from a
 * child whose root is further down. `more`: requests beyond them. An unfinished request among them
 * (one created since the scan): its reason instead.
 */
async function rootsToDelete(deps: Deps, ws: Workspace, scanned: WorkRequest[] | undefined, maxRead: number): Promise<{ roots: number[]; more: boolean } | { unfinished: string }> {
  const slice = scanned ? { items: scanned } : await listSlice(deps, ws, undefined, maxRead);
  const unfinished = unfinishedIn(slice.items);
  if (unfinished) return { unfinished };
  const byId = new Map(slice.items.map((wr) => [wr.id, wr]));
  const roots = new Set<number>();
  for (const wr of slice.items) {
    let at: WorkRequest | undefined = wr;
    while (at && at.parent !== null) {
      const parentId: number = at.parent;
      at = byId.get(parentId) ?? (await deps.workRequests.get(parentId));
      if (at) byId.set(parentId, at);
    }
    if (at) roots.add(at.id);
  }
  return { roots: [...roots], more: 'next' in slice };
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
    /** Work requests of one due workspace read in one pass (its scan goes on in the next). */
    maxRequestsRead?: number;
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
  const maxRead = opts.maxRequestsRead ?? DEFAULT_MAX_REQUESTS_READ;
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
    const scanned = await scanRequests(deps, ws, entry.scan, now, maxRead);
    if (scanned.state === 'unfinished') {
      report.waiting.push({ scope: ws.scope, workspace: ws.name, why: scanned.why });
      await recheck(entry, later());
      continue;
    }
    if (scanned.state === 'more') {
      // The entry stays due (its check time unchanged): the next pass reads on from the saved cursor.
      report.waiting.push({ scope: ws.scope, workspace: ws.name, why: `looked at ${scanned.scan.read.toLocaleString('en-US')} of its work requests so far, none unfinished: the next pass reads on` });
      if (!opts.dryRun) await store.saveScan(ws.scope, ws.name, scanned.scan);
      report.finished = false;
      continue;
    }
    const activity = { lastFinishedAt: scanned.scan.lastFinishedAt };
    const due = dueAt(ws, activity.lastFinishedAt)!;
    if (!workspaceExpired({ expirationDelay: ws.expirationDelay ?? null, createdAt: ws.createdAt, lastTaskCompletedAt: activity.lastFinishedAt, hasUnfinishedTasks: false }, now)) {
      await recheck(entry, due); // a request finished since the entry was written
      continue;
    }
    if (!opts.dryRun && entry.scan !== scanned.scan) await store.saveScan(ws.scope, ws.name, scanned.scan);
    const trees = await rootsToDelete(deps, ws, scanned.all, maxRead);
    if ('unfinished' in trees) {
      report.waiting.push({ scope: ws.scope, workspace: ws.name, why: trees.unfinished });
      await recheck(entry, later());
      continue;
    }
    const goingWs: GoingWorkspace = { scope: ws.scope, workspace: ws.name, collections: new Set((await deps.collections.list(ws.scope, ws.name)).map((c) => c.id)) };
    going.push(goingWs);
    const contents = noContents(ws);
    const ctx = { dryRun: opts.dryRun, now, budget, maxGraph: opts.maxGraph ?? 5000, outOfTime: opts.outOfTime, going, onFilesReleased: opts.onFilesReleased, failures };
    const emptying = await emptyWorkspace(deps, expiryStore, ws, goingWs, trees.roots, ctx, contents, trees.more);
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
