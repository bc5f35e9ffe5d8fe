/**
 * Accounting off the hot path. A committed change that alters usage (files of an artifact
 * completed, attached, removed or the artifact deleted; a work request finished) sends one
 * AccountingEvent naming the source; the consumer re-reads the source and brings the source's
 * stored contribution to what it is now. Because it syncs to the present state instead of
 * applying increments, a replayed, duplicated or out-of-order event changes nothing: usage is
 * always the sum of the current contributions (a property test checks it against a recompute).
 *
 * Disk counts distinct files once per account: a file reference item lists the account's
 * artifacts holding that file; the bytes are added when the first one appears and removed when
 * the last one goes. CPU is the run time of Worker and Server work requests.
 */
import { blobKey, type Artifact } from '../domain/artifacts';
import { ConflictError } from '../domain/errors';
import { DEFAULT_SCOPE } from '../domain/tenancy';
import { RESOURCES, type Account, type Resource } from '../domain/quotas';
import type { WorkRequest } from '../domain/work-requests';
import type { AccountingChange, AccountingEvent, AccountingRewrite, Deps, FileReference, UsageSource } from '../ports';
import { recordAudit } from './audit';
import type { FollowUpFailure } from './follow-ups';
import { quotaSettingsOf } from './quotas';

/** File references changed per atomic step (DynamoDB transactions hold 100 items). */
export const FILES_PER_STEP = 90;
const MAX_ATTEMPTS = 8;

// --- emitting (called right after the committed change) -----------------------------------

/** The accounting event of a committed change could not be queued (the periodic recompute corrects usage). */
export class UsageNotQueuedError extends Error {
  constructor(
    readonly event: AccountingEvent,
    options: { cause: unknown },
  ) {
    super(`the accounting event of ${event.source.kind} ${event.source.id} was not queued; the periodic recompute will correct usage`, options);
    this.name = 'UsageNotQueuedError';
  }
}

/**
 * Queues the accounting of a changed source. The change is already committed: a failure to queue
 * throws UsageNotQueuedError for the caller's follow-up step (REANA carries on too), and the
 * periodic recompute repairs the usage.
 */
export async function noteUsageChange(deps: Deps, event: AccountingEvent): Promise<void> {
  const resource: Resource = event.source.kind === 'artifact' ? 'disk' : 'cpu';
  if (!quotaSettingsOf(deps).terminationPolicy.includes(resource)) return;
  try {
    await deps.accountingQueue.enqueue([event]);
  } catch (cause) {
    throw new UsageNotQueuedError(event, { cause });
  }
}

/**
 * `noteUsageChange` as the follow-up of a committed change of an artifact: a failure is handed back
 * in `failures` (when the caller collects them), never thrown, so that it cannot fail the request.
 */
export async function noteUsageChangeAfterCommit(deps: Deps, event: AccountingEvent, failures: FollowUpFailure[] | undefined): Promise<void> {
  try {
    await noteUsageChange(deps, event);
  } catch (error) {
    const source = event.source.kind === 'artifact' ? { artifactId: event.source.id } : { workRequestId: event.source.id };
    failures?.push({ step: 'usage accounting', ...source, error });
  }
}

export function artifactEvent(artifact: Pick<Artifact, 'id' | 'scope' | 'workspace' | 'createdBy'>): AccountingEvent {
  return { source: { kind: 'artifact', id: artifact.id }, scope: artifact.scope, workspace: artifact.workspace, createdBy: artifact.createdBy };
}

export function workRequestEvent(wr: Pick<WorkRequest, 'id' | 'scope' | 'workspace' | 'createdBy'>): AccountingEvent {
  return { source: { kind: 'work-request', id: wr.id }, scope: wr.scope, workspace: wr.workspace, createdBy: wr.createdBy };
}

/**
 * For the expiry of artifacts (and anyone else who removes files outside these use cases): call
 * after the artifact or its files are gone; disk usage drops once the consumer runs.
 */
export async function noteArtifactFilesChanged(
  deps: Deps,
  artifact: Pick<Artifact, 'id' | 'scope' | 'workspace' | 'createdBy'>,
  failures?: FollowUpFailure[],
): Promise<void> {
  await noteUsageChangeAfterCommit(deps, artifactEvent(artifact), failures);
}

// --- consuming -------------------------------------------------------------------------------

/**
 * Applies a batch: each distinct source once (duplicates in a batch cost nothing more). The finished
 * work requests of the batch are synced together: one conditional write per account (user or
 * workspace) for all of them (syncCpuOf); artifacts one by one (their file references are shared).
 */
export async function applyAccountingEvents(deps: Deps, events: AccountingEvent[]): Promise<{ sources: number }> {
  const distinct = new Map<string, AccountingEvent>();
  for (const e of events) distinct.set(`${e.source.kind}:${e.source.id}`, e);
  const finished = [...distinct.values()].filter((e) => e.source.kind === 'work-request');
  for (const event of distinct.values()) if (event.source.kind === 'artifact') await syncSource(deps, event);
  await syncCpuOf(deps, finished);
  return { sources: distinct.size };
}

/** The accounts a source counts for: its workspace, and its owner while that user exists (asked once per owner). */
async function accountsOf(deps: Deps, event: AccountingEvent, users = new Map<string, Promise<boolean>>()): Promise<Account[]> {
  const owner = await ownerOf(deps, event.createdBy);
  const accounts: Account[] = [{ kind: 'workspace', scope: event.scope, workspace: event.workspace }];
  if (!owner) return accounts;
  if (!users.has(owner)) users.set(owner, deps.identity.getUser(owner).then(Boolean));
  if (await users.get(owner)) accounts.push({ kind: 'user', username: owner });
  return accounts;
}

/**
 * Brings one source's contributions (to its owner and its workspace) to the present. The source
 * is read after the contribution, inside the conditional step: a step can only commit a state
 * newer than the one the previous commit saw, so a late, stale event can never undo a newer one.
 */
export async function syncSource(deps: Deps, event: AccountingEvent): Promise<void> {
  if (event.source.kind === 'work-request') return syncCpuOf(deps, [event]);
  for (const account of await accountsOf(deps, event)) await syncArtifact(deps, account, event.source);
}

/** The distinct complete files of an artifact now (none once it is deleted). */
async function artifactFilesNow(deps: Deps, id: number): Promise<Map<string, number>> {
  const found = await deps.artifacts.get(id);
  const files = new Map<string, number>();
  for (const f of found?.files ?? []) if (f.complete) files.set(blobKey(f.sha256, f.size), f.size);
  return files;
}

async function cpuNow(deps: Deps, id: number): Promise<number> {
  const wr = await deps.workRequests.get(id);
  return wr ? runTimeMs(wr) : 0;
}

/** The user an artifact or request counts for: its creator, or the creator of the request that made it. */
export async function ownerOf(deps: Deps, createdBy: string): Promise<string | undefined> {
  if (createdBy.startsWith('user:')) return createdBy.slice('user:'.length);
  const m = /^work-request:(\d+)$/.exec(createdBy);
  if (!m) return undefined;
  const wr = await deps.workRequests.get(Number(m[1]));
  return wr?.createdBy.startsWith('user:') ? wr.createdBy.slice('user:'.length) : undefined;
}

/** REANA's CPU: finished minus started, in milliseconds, only when both exist (Worker and Server tasks). */
export function runTimeMs(wr: WorkRequest): number {
  if (wr.taskType !== 'Worker' && wr.taskType !== 'Server') return 0;
  if (!wr.startedAt || !wr.completedAt) return 0;
  return Math.max(0, Date.parse(wr.completedAt) - Date.parse(wr.startedAt));
}

async function withConflictRetries(step: () => Promise<boolean>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      if (await step()) return;
    } catch (err) {
      if (!(err instanceof ConflictError) || attempt >= MAX_ATTEMPTS) throw err;
    }
  }
}

/** Contributions combined in one write: a transaction holds 100 items, one of them the usage counter. */
export const SOURCES_PER_WRITE = 99;

/** Syncs the CPU of finished work requests, grouped by the accounts they count for. */
async function syncCpuOf(deps: Deps, events: AccountingEvent[]): Promise<void> {
  const groups: CpuGroup[] = [];
  const filling = new Map<string, CpuGroup>();
  const users = new Map<string, Promise<boolean>>();
  const accounts = await Promise.all(events.map((event) => accountsOf(deps, event, users)));
  for (const [i, event] of events.entries()) {
    for (const account of accounts[i]!) {
      const key = JSON.stringify(account);
      let group = filling.get(key);
      if (!group || group.sources.length === SOURCES_PER_WRITE) {
        group = { account, sources: [] };
        filling.set(key, group);
        groups.push(group);
      }
      group.sources.push(event.source);
    }
  }
  await syncCpuGroups(deps, groups);
}

interface CpuGroup {
  account: Account;
  sources: UsageSource[];
}

/**
 * Per group (one account, at most SOURCES_PER_WRITE sources): one conditional write of every
 * contribution that changed, each on the version read, and the summed change of `used`, all or
 * nothing. A source already counted at its present run time is left out (a replay, within or across
 * batches, writes nothing); a group whose write lost a race is read and written again, alone.
 * Contributions are read before the sources, as in syncArtifact.
 */
async function syncCpuGroups(deps: Deps, groups: CpuGroup[]): Promise<void> {
  for (let attempt = 1; groups.length > 0; attempt++) {
    const read = await Promise.all(groups.map((g) => Promise.all(g.sources.map((source) => deps.accounts.getContribution(g.account, source)))));
    const ids = [...new Set(groups.flatMap((g) => g.sources.map((s) => s.id)))];
    const cpu = new Map(await Promise.all(ids.map(async (id) => [id, await cpuNow(deps, id)] as const)));
    const lost: CpuGroup[] = [];
    // Settled, not Promise.all: no write of this batch is still in flight when a failure is thrown.
    const outcomes = await Promise.allSettled(
      groups.map(async (group, i) => {
        const contributions: AccountingRewrite['contributions'] = [];
        let delta = 0;
        group.sources.forEach((source, j) => {
          const current = read[i]![j];
          const now = cpu.get(source.id)!;
          if (current ? current.cpu === now : now === 0) return;
          contributions.push({ source, expectedVersion: current?.version, next: now === 0 ? null : { cpu: now, files: [] } });
          delta += now - (current?.cpu ?? 0);
        });
        if (contributions.length === 0) return;
        try {
          await deps.accounts.rewriteAccounting({ account: group.account, contributions, fileRefs: [], usageDelta: { cpu: delta } });
        } catch (err) {
          if (!(err instanceof ConflictError) || attempt >= MAX_ATTEMPTS) throw err;
          lost.push(group);
        }
      }),
    );
    const failed = outcomes.find((o) => o.status === 'rejected');
    if (failed) throw failed.reason;
    groups = lost;
  }
}

/** One bounded step at a time (at most FILES_PER_STEP file references); returns when in sync. */
async function syncArtifact(deps: Deps, account: Account, source: UsageSource): Promise<void> {
  const artifactId = source.id;
  let done = false;
  while (!done) {
    await withConflictRetries(async () => {
      const current = await deps.accounts.getContribution(account, source);
      const files = await artifactFilesNow(deps, artifactId);
      const previous = new Set(current?.files ?? []);
      const added = [...files.keys()].filter((k) => !previous.has(k));
      const removed = [...previous].filter((k) => !files.has(k));
      const step = [...added, ...removed].slice(0, FILES_PER_STEP);
      if (step.length === 0) {
        done = true;
        return true;
      }
      const refs = await deps.accounts.getFileRefs(account, step);
      const change: AccountingChange = { account, source, contribution: { expectedVersion: current?.version, next: null }, fileRefs: [], usageDelta: {} };
      let disk = 0;
      const nextFiles = new Set(previous);
      for (const key of step) {
        const ref: FileReference | undefined = refs.get(key);
        const holders = new Set(ref?.artifacts ?? []);
        if (files.has(key)) {
          const size = files.get(key)!;
          if (holders.size === 0) disk += size;
          holders.add(artifactId);
          nextFiles.add(key);
          change.fileRefs.push({ fileKey: key, expectedVersion: ref?.version, next: { size, artifacts: [...holders].sort((a, b) => a - b) } });
        } else {
          holders.delete(artifactId);
          nextFiles.delete(key);
          if (ref && holders.size === 0) disk -= ref.size;
          change.fileRefs.push({ fileKey: key, expectedVersion: ref?.version, next: holders.size ? { size: ref!.size, artifacts: [...holders].sort((a, b) => a - b) } : null });
        }
      }
      change.contribution.next = nextFiles.size ? { cpu: 0, files: [...nextFiles].sort() } : null;
      if (disk !== 0) change.usageDelta.disk = disk;
      await deps.accounts.applyAccounting(change);
      return true;
    });
  }
}

// --- the periodic recompute --------------------------------------------------------------------

export interface RecomputeSummary {
  sources: number;
  corrected: { account: Account; resource: Resource; from: number; to: number }[];
}

/**
 * The recompute source by source (the periodic job now runs recomputeUsageInBulk in
 * bulk-recompute.ts; this stays as its reference in tests). Corrects drift: syncs every existing source (every artifact and work request of every
 * workspace) and every source that holds a contribution but is gone, then sets each account's
 * `used` to the sum its contributions and file references say (conditional on the value read).
 */
export async function recomputeUsageBySource(deps: Deps, opts: { actor?: string } = {}): Promise<RecomputeSummary> {
  const seen = new Set<string>();
  let sources = 0;
  const scopes = new Set<string>([DEFAULT_SCOPE]);
  const accounts = await deps.accounts.listAccounts();
  for (const a of accounts) if (a.kind === 'workspace') scopes.add(a.scope);
  for (const scope of scopes) {
    for (const ws of await deps.identity.listWorkspaces(scope)) {
      let cursor: string | undefined;
      do {
        const page = await deps.artifacts.list({ scope, workspace: ws.name, limit: 500, ...(cursor ? { cursor } : {}) });
        for (const artifact of page.items) seen.add(`artifact:${artifact.id}`);
        await inParallel(page.items, (artifact) => syncSource(deps, artifactEvent(artifact)));
        sources += page.items.length;
        cursor = page.next;
      } while (cursor);
      cursor = undefined;
      do {
        const page = await deps.workRequests.list({ scope, workspace: ws.name, limit: 500, ...(cursor ? { cursor } : {}) });
        const finished = page.items.filter((wr) => wr.status === 'completed' || wr.status === 'aborted');
        for (const wr of finished) seen.add(`work-request:${wr.id}`);
        await inParallel(finished, (wr) => syncSource(deps, workRequestEvent(wr)));
        sources += finished.length;
        cursor = page.next;
      } while (cursor);
    }
  }
  // Sources that hold a contribution but no longer exist (deleted artifacts whose event was lost):
  // synced for every account holding one (a gone artifact counts for its user and its workspace).
  const existing = new Set(seen);
  for (const account of accounts) {
    for (const { source } of await deps.accounts.listContributions(account)) {
      const key = `${source.kind}:${source.id}`;
      if (existing.has(key)) continue;
      await syncGoneSource(deps, account, source);
      if (!seen.has(key)) sources++;
      seen.add(key);
    }
  }
  const corrected = await correctTotals(deps, await deps.accounts.listAccounts());
  if (opts.actor && corrected.length) await recordAudit(deps, opts.actor, 'quota.recompute', { sources, corrected });
  return { sources, corrected };
}

/** Sources synced at once by the recompute: conditional steps make concurrent syncs safe. */
const RECOMPUTE_CONCURRENCY = 4;

export async function inParallel<T>(items: T[], work: (item: T) => Promise<void>, concurrency = RECOMPUTE_CONCURRENCY): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

async function syncGoneSource(deps: Deps, account: Account, source: UsageSource): Promise<void> {
  if (source.kind === 'artifact') await syncArtifact(deps, account, source);
  else await syncCpuGroups(deps, [{ account, sources: [source] }]);
}

/** What an account's usage must be, from its accounting items. */
export async function expectedUsage(deps: Deps, account: Account): Promise<Record<Resource, number>> {
  const cpu = (await deps.accounts.listContributions(account)).reduce((sum, c) => sum + c.contribution.cpu, 0);
  const disk = (await deps.accounts.listFileRefs(account)).filter((r) => r.artifacts.length > 0).reduce((sum, r) => sum + r.size, 0);
  return { cpu, disk };
}

export async function correctTotals(deps: Deps, accounts: Account[]): Promise<RecomputeSummary['corrected']> {
  const corrected: RecomputeSummary['corrected'] = [];
  for (const account of accounts) {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const quota = await deps.accounts.getQuota(account);
      const expected = await expectedUsage(deps, account);
      let moved = false;
      for (const r of RESOURCES) {
        if (quota[r].used === expected[r]) continue;
        // The consumer may be adding at this very moment: only overwrite the value just read.
        if (await deps.accounts.correctUsed(account, r, quota[r].used, expected[r])) corrected.push({ account, resource: r, from: quota[r].used, to: expected[r] });
        else moved = true;
      }
      if (!moved) break;
    }
  }
  return corrected;
}
