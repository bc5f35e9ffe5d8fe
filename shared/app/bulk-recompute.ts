/**
 * The periodic recompute in bulk. Instead of syncing every source one at a time against the
 * same two usage counters (a conditional transaction each, serialised on the counter), it:
 * 1. lists what every account's accounting items say now (contributions, file references, usage);
 * 2. reads the sources by pages (artifacts with their files, finished work requests) and computes,
 *    in memory, what those items must say: one contribution per source with usage, one file
 *    reference per distinct file listing the account's artifacts holding it;
 * 3. writes only the items that differ, 99 to a transaction, each conditional on the version
 *    listed, the usage change they imply riding in the same transaction; file references first,
 *    then contributions; and finally corrects a drifted counter once, conditionally.
 *
 * Why the items are rewritten and not just the counters: the consumer computes each event's
 * change against the items. After a recompute they say exactly what the sources say, so an event
 * about an unchanged source finds nothing to do, and one about a changed source moves usage by
 * the real difference (tests: test/unit/bulk-recompute.test.ts).
 *
 * Why items are listed before the sources are read: a consumer step committed after the listing
 * makes our conditional write fail (the pass is then retried), and one committed before it is
 * seen by the source reads that follow; a stale source state can never overwrite a newer one.
 * Why references before contributions: in between, a reference may list an artifact whose
 * contribution does not list the file yet (the consumer then adds it without counting twice) or
 * no longer list one whose contribution still does (the consumer then removes nothing twice);
 * never the reverse, which would lose bytes.
 */
import { blobKey } from '../domain/artifacts';
import { ConflictError } from '../domain/errors';
import { DEFAULT_SCOPE } from '../domain/tenancy';
import { RESOURCES, type Account, type Quota, type Resource } from '../domain/quotas';
import type { AccountingRewrite, Contribution, Deps, FileReference, UsageSource } from '../ports';
import { correctTotals, inParallel, ownerOf, runTimeMs, type RecomputeSummary } from './accounting';
import { recordAudit } from './audit';

/** Items per transaction besides the usage counter (DynamoDB transactions hold 100). */
export const REWRITE_ITEMS_PER_STEP = 99;
/** Artifacts whose files are read at once (one query each). */
const READ_CONCURRENCY = 16;
const PAGE = 500;
const PASSES = 3;

interface Listed {
  account: Account;
  quota: Quota;
  contributions: Map<string, { source: UsageSource; contribution: Contribution }>;
  refs: Map<string, FileReference>;
}

interface Wanted {
  contributions: Map<string, { source: UsageSource; cpu: number; files: string[] }>;
  refs: Map<string, { size: number; artifacts: Set<number> }>;
}

const accountKey = (a: Account) => (a.kind === 'user' ? `user:${a.username}` : `ws:${a.scope}:${a.workspace}`);
const sourceKey = (s: UsageSource) => `${s.kind}:${s.id}`;

/** Recomputes every account's usage; a pass that meets a concurrent consumer step is retried. */
export async function recomputeUsageInBulk(deps: Deps, opts: { actor?: string } = {}): Promise<RecomputeSummary> {
  for (let pass = 1; ; pass++) {
    try {
      const summary = await bulkPass(deps);
      if (opts.actor && summary.corrected.length) await recordAudit(deps, opts.actor, 'quota.recompute', { sources: summary.sources, corrected: summary.corrected });
      return summary;
    } catch (err) {
      if (!(err instanceof ConflictError) || pass >= PASSES) throw err;
    }
  }
}

async function bulkPass(deps: Deps): Promise<RecomputeSummary> {
  const listedAccounts = await deps.accounts.listAccounts();
  const users = new Set(listedAccounts.flatMap((a) => (a.kind === 'user' ? [a.username] : [])));
  const scopes = new Set<string>([DEFAULT_SCOPE]);
  for (const a of listedAccounts) if (a.kind === 'workspace') scopes.add(a.scope);
  const workspaces: Account[] = [];
  for (const scope of scopes) for (const ws of await deps.identity.listWorkspaces(scope)) workspaces.push({ kind: 'workspace', scope, workspace: ws.name });
  const accounts = new Map<string, Account>();
  for (const a of [...listedAccounts, ...workspaces]) accounts.set(accountKey(a), a);

  // 1. What the items say now (before the sources are read: see the module comment).
  const listed = new Map<string, Listed>();
  await inParallel([...accounts.values()], async (account) => {
    const quota = await deps.accounts.getQuota(account);
    const contributions = new Map((await deps.accounts.listContributions(account)).map((c) => [sourceKey(c.source), c]));
    const refs = new Map((await deps.accounts.listFileRefs(account)).map((r) => [r.fileKey, r]));
    listed.set(accountKey(account), { account, quota, contributions, refs });
  });

  // 2. What they must say, from the sources.
  const wanted = new Map<string, Wanted>();
  const wantedOf = (account: Account): Wanted => {
    const key = accountKey(account);
    let w = wanted.get(key);
    if (!w) wanted.set(key, (w = { contributions: new Map(), refs: new Map() }));
    return w;
  };
  const owners = new Map<string, Promise<string | undefined>>();
  const accountsOf = async (scope: string, workspace: string, createdBy: string): Promise<Account[]> => {
    if (!owners.has(createdBy)) owners.set(createdBy, ownerOf(deps, createdBy));
    const owner = await owners.get(createdBy)!;
    const found: Account[] = [{ kind: 'workspace', scope, workspace }];
    if (owner && users.has(owner)) found.push({ kind: 'user', username: owner });
    return found;
  };
  const seen = new Set<string>();
  for (const ws of workspaces) {
    if (ws.kind !== 'workspace') continue;
    let cursor: string | undefined;
    do {
      const page = await deps.artifacts.list({ scope: ws.scope, workspace: ws.workspace, limit: PAGE, ...(cursor ? { cursor } : {}) });
      for (const artifact of page.items) seen.add(`artifact:${artifact.id}`);
      await inParallel(
        page.items,
        async (artifact) => {
          const found = await deps.artifacts.get(artifact.id);
          const files = new Map<string, number>();
          for (const f of found?.files ?? []) if (f.complete) files.set(blobKey(f.sha256, f.size), f.size);
          if (files.size === 0) return;
          const source: UsageSource = { kind: 'artifact', id: artifact.id };
          for (const account of await accountsOf(artifact.scope, artifact.workspace, artifact.createdBy)) {
            const w = wantedOf(account);
            w.contributions.set(sourceKey(source), { source, cpu: 0, files: [...files.keys()].sort() });
            for (const [fileKey, size] of files) {
              const ref = w.refs.get(fileKey) ?? { size, artifacts: new Set<number>() };
              ref.artifacts.add(artifact.id);
              w.refs.set(fileKey, ref);
            }
          }
        },
        READ_CONCURRENCY,
      );
      cursor = page.next;
    } while (cursor);
    cursor = undefined;
    do {
      const page = await deps.workRequests.list({ scope: ws.scope, workspace: ws.workspace, limit: PAGE, ...(cursor ? { cursor } : {}) });
      for (const wr of page.items) {
        if (wr.status !== 'completed' && wr.status !== 'aborted') continue;
        seen.add(`work-request:${wr.id}`);
        const cpu = runTimeMs(wr);
        if (cpu === 0) continue;
        const source: UsageSource = { kind: 'work-request', id: wr.id };
        for (const account of await accountsOf(wr.scope, wr.workspace, wr.createdBy)) wantedOf(account).contributions.set(sourceKey(source), { source, cpu, files: [] });
      }
      cursor = page.next;
    } while (cursor);
  }
  // Sources that hold a contribution but are gone count as synced too (their items are removed below).
  for (const l of listed.values()) for (const key of l.contributions.keys()) seen.add(key);
  const sources = seen.size;

  // 3. Write what differs, then correct the counters.
  const corrected: RecomputeSummary['corrected'] = [];
  const drifted: Account[] = [];
  for (const [key, l] of listed) {
    const w = wanted.get(key) ?? { contributions: new Map(), refs: new Map() };
    const delta = await rewriteAccount(deps, l, w);
    const target: Record<Resource, number> = {
      cpu: [...w.contributions.values()].reduce((s, c) => s + c.cpu, 0),
      disk: [...w.refs.values()].reduce((s, r) => s + r.size, 0),
    };
    for (const r of RESOURCES) {
      const from = l.quota[r].used;
      if (from === target[r]) continue;
      const now = from + delta[r];
      // Only overwrite the value our own steps left: a consumer step since then means drift is recomputed from the items.
      if (now !== target[r] && !(await deps.accounts.correctUsed(l.account, r, now, target[r]))) drifted.push(l.account);
      else corrected.push({ account: l.account, resource: r, from, to: target[r] });
    }
  }
  if (drifted.length) corrected.push(...(await correctTotals(deps, drifted)));
  return { sources, corrected };
}

/** Writes the account's differing items; returns the usage change written. */
async function rewriteAccount(deps: Deps, l: Listed, w: Wanted): Promise<Record<Resource, number>> {
  const written: Record<Resource, number> = { cpu: 0, disk: 0 };
  const refChanges: { change: AccountingRewrite['fileRefs'][number]; disk: number }[] = [];
  for (const fileKey of new Set([...l.refs.keys(), ...w.refs.keys()])) {
    const have = l.refs.get(fileKey);
    const want = w.refs.get(fileKey);
    const artifacts = want ? [...want.artifacts].sort((a, b) => a - b) : [];
    if (have && want && have.size === want.size && sameList(have.artifacts, artifacts)) continue;
    const disk = (want ? want.size : 0) - (have && have.artifacts.length ? have.size : 0);
    refChanges.push({ change: { fileKey, expectedVersion: have?.version, next: want ? { size: want.size, artifacts } : null }, disk });
  }
  const contributionChanges: { change: AccountingRewrite['contributions'][number]; cpu: number }[] = [];
  for (const key of new Set([...l.contributions.keys(), ...w.contributions.keys()])) {
    const have = l.contributions.get(key);
    const want = w.contributions.get(key);
    if (have && want && have.contribution.cpu === want.cpu && sameList(have.contribution.files, want.files)) continue;
    contributionChanges.push({
      change: { source: (want ?? have)!.source, expectedVersion: have?.contribution.version, next: want ? { cpu: want.cpu, files: want.files } : null },
      cpu: (want?.cpu ?? 0) - (have?.contribution.cpu ?? 0),
    });
  }
  for (let i = 0; i < refChanges.length; i += REWRITE_ITEMS_PER_STEP) {
    const step = refChanges.slice(i, i + REWRITE_ITEMS_PER_STEP);
    const disk = step.reduce((s, c) => s + c.disk, 0);
    await deps.accounts.rewriteAccounting({ account: l.account, contributions: [], fileRefs: step.map((c) => c.change), usageDelta: disk ? { disk } : {} });
    written.disk += disk;
  }
  for (let i = 0; i < contributionChanges.length; i += REWRITE_ITEMS_PER_STEP) {
    const step = contributionChanges.slice(i, i + REWRITE_ITEMS_PER_STEP);
    const cpu = step.reduce((s, c) => s + c.cpu, 0);
    await deps.accounts.rewriteAccounting({ account: l.account, contributions: step.map((c) => c.change), fileRefs: [], usageDelta: cpu ? { cpu } : {} });
    written.cpu += cpu;
  }
  return written;
}

function sameList<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
