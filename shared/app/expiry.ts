/**
 * The expiry pass: deletes expired artifacts nothing keeps, and the stored bytes no file row needs.
 * Run by the `expiry` scheduled function, by `conveyor admin expire`, and by the local stack.
 *
 * Two phases per artifact, one per pass (mark and sweep):
 * 1. a pass that finds an expired artifact unreachable from every root condemns it (a conditional
 *    write). A condemned artifact is frozen: nothing may relate to it, add it to a collection or
 *    change it, so nothing can make it reachable again;
 * 2. the next pass plans again (reading the condemnation first, then the relations) and deletes it
 *    if it is still unreachable and every artifact that relates to it, transitively, is condemned too
 *    (then none of them can become a root in between). Anything found kept is reprieved.
 * So nothing reachable from a root is ever deleted, and what is expired and unreachable goes within
 * two passes. Blobs follow the same idea (shared/domain/blob-gc.ts), with a grace period.
 *
 * Bounded: candidates come from the expiry index (hour buckets), at most `maxArtifacts` per pass;
 * the relations read are those into the candidates (their backward closure). A pass that stops
 * early leaves the rest in the index for the next one.
 */
import { describeKeepReason, EXPIRY_BUCKET_MS, expiryBucket, planArtifactExpiry, type KeepReason } from '../domain/expiry';
import { BLOB_GRACE_PERIOD_SECONDS, sweepStep, type BlobRow } from '../domain/blob-gc';
import type { Deps } from '../ports';
import type { BlobRef, ExpiryStore, RetentionGraphReader } from '../ports/expiry';
import { blobObjectKey } from '../domain/object-keys';
import { closureCondemned, deleteCondemned, judgeWithGoingWorkspaces, loadGraph, type GoingWorkspace, type ReleasedFiles } from './artifact-deletion';
import type { FollowUpFailure } from './follow-ups';
import { recordAudit } from './audit';
import { applyItemRetention, type ItemRetentionReport } from './item-retention';
import { deleteExpiredTokens, type TokenExpiryReport } from './token-expiry';
import { expireWorkRequests, type WorkRequestExpiryReport } from './work-request-expiry';
import { expireWorkspaces, type WorkspaceExpiryReport } from './workspace-expiry';

export interface ExpiryOptions {
  /** Only report: no write at all. */
  dryRun?: boolean;
  /** Most candidates read from the index in one pass. */
  maxArtifacts?: number;
  /** Most artifacts loaded to decide (candidates plus everything relating to them). */
  maxGraph?: number;
  /** Most blob candidates swept in one pass. */
  maxBlobs?: number;
  /** Most removed collection items looked at in one pass. */
  maxItems?: number;
  /** Most expired tokens deleted in one pass. */
  maxTokens?: number;
  /** Most work-request trees (a root with its descendants) looked at in one pass. */
  maxWorkRequestTrees?: number;
  /** Most due workspaces (with an `expiration_delay`) looked at in one pass. */
  maxWorkspaces?: number;
  /** Expired but kept artifacts are looked at again this much later (0: every pass). */
  recheckSeconds?: number;
  /** Time between condemning a blob and deleting it. */
  blobGraceSeconds?: number;
  /** Stop starting new work after this instant (epoch ms): a Lambda's time budget; the rest waits. */
  deadline?: number;
  /**
   * Called once per deleted file row with its bytes' size and workspace: quota accounting hooks in
   * here (disk usage drops when files go).
   */
  onFilesReleased?: (released: ReleasedFiles) => Promise<void>;
  /** Most deletions (and condemnations) the workspace step makes emptying due workspaces in one pass. */
  maxWorkspaceDeletions?: number;
  /** Most work requests of one due workspace read in one pass (a larger one is read on in the next passes). */
  maxWorkspaceRequestsRead?: number;
}

export type { ReleasedFiles } from './artifact-deletion';


export interface KeptArtifact {
  id: number;
  reason: KeepReason;
  why: string;
}

export interface ExpiryReport {
  dryRun: boolean;
  now: string;
  /** Condemned by this pass (a dry run: would be condemned). */
  condemned: number[];
  /** Deleted by this pass (a dry run: would be deleted). */
  deleted: number[];
  /** Condemned earlier, found kept now. */
  reprieved: number[];
  /** Expired artifacts looked at and kept, with the root that keeps them. */
  kept: KeptArtifact[];
  /** Condemned, unreachable, but something relating to them is not condemned yet: next pass. */
  waiting: number[];
  blobs: { condemned: BlobRef[]; deleted: BlobRef[]; rescued: BlobRef[] };
  /** Removed collection items: links dropped, rows deleted, kept (collection retention periods). */
  items: ItemRetentionReport;
  /** Tokens past their expiry date: deleted. */
  tokens: TokenExpiryReport;
  /** Finished, expired work requests (whole workflow trees): deleted, or kept with why. */
  workRequests: WorkRequestExpiryReport;
  /** Workspaces past their `expiration_delay`: deleted, or waiting with why. */
  workspaces: WorkspaceExpiryReport;
  /** False when a limit stopped the pass: the rest is left for the next one. */
  finished: boolean;
  /** Steps after a committed delete that failed (usage accounting): the caller reports them. */
  followUpFailures?: FollowUpFailure[];
  /** Set when the store's items lack the expiry indexes (run the backfill): nothing was done. */
  notReady?: boolean;
}

export const DEFAULT_EXPIRY_OPTIONS = {
  maxArtifacts: 500,
  maxGraph: 5000,
  maxBlobs: 500,
  maxItems: 500,
  maxTokens: 500,
  maxWorkRequestTrees: 100,
  maxWorkspaces: 20,
  maxWorkspaceDeletions: 1000,
  recheckSeconds: 24 * 3600,
  blobGraceSeconds: BLOB_GRACE_PERIOD_SECONDS,
};

/** Bucket list entries read per pass: the backlog a pass can see at once. */
const MAX_BUCKETS = 48;

async function collectCandidates(store: ExpiryStore, now: Date, max: number): Promise<{ ids: number[]; complete: boolean; buckets: string[] }> {
  const nowIso = now.toISOString();
  const buckets = await store.expiryBuckets(expiryBucket(nowIso), MAX_BUCKETS);
  const ids: number[] = [];
  for (const bucket of buckets) {
    let cursor: string | undefined;
    do {
      const page = await store.expiringArtifacts(bucket, nowIso, Math.min(100, max - ids.length + 1), cursor);
      for (const e of page.items) {
        if (ids.length >= max) return { ids, complete: false, buckets };
        ids.push(e.id);
      }
      cursor = page.next;
    } while (cursor);
  }
  return { ids, complete: buckets.length < MAX_BUCKETS, buckets };
}

export async function runExpiryPass(deps: Deps, store: ExpiryStore, options: ExpiryOptions = {}): Promise<ExpiryReport> {
  const opts = { ...DEFAULT_EXPIRY_OPTIONS, ...options };
  const dryRun = !!opts.dryRun;
  const now = deps.clock.now();
  const nowIso = now.toISOString();
  const report: ExpiryReport = {
    dryRun,
    now: nowIso,
    condemned: [],
    deleted: [],
    reprieved: [],
    kept: [],
    waiting: [],
    blobs: { condemned: [], deleted: [], rescued: [] },
    items: { linkDropped: [], deleted: [], kept: [], finished: true },
    tokens: { deleted: [], finished: true },
    workRequests: { deleted: [], collections: [], kept: [], finished: true },
    workspaces: { deleted: [], waiting: [], contents: [], finished: true },
    finished: true,
  };

  if (!(await store.indexReady())) {
    report.finished = false;
    report.notReady = true;
    return report;
  }
  const outOfTime = () => opts.deadline !== undefined && Date.now() >= opts.deadline;
  // Work requests first (Debusine's order): a deleted request no longer pins its inputs, and its
  // internal collection no longer retains what it linked.
  report.workRequests = await expireWorkRequests(deps, store.workRequests, { dryRun, maxTrees: opts.maxWorkRequestTrees, recheckSeconds: opts.recheckSeconds, outOfTime });
  if (!report.workRequests.finished) report.finished = false;
  // Workspaces after their work requests: a workspace whose last trees just went may go with them.
  const going: GoingWorkspace[] = [];
  report.workspaces = await expireWorkspaces(deps, store, {
    dryRun,
    maxWorkspaces: opts.maxWorkspaces,
    maxDeletions: opts.maxWorkspaceDeletions,
    maxRequestsRead: opts.maxWorkspaceRequestsRead,
    maxGraph: opts.maxGraph,
    recheckSeconds: opts.recheckSeconds,
    outOfTime,
    going,
    onFilesReleased: opts.onFilesReleased,
  });
  if (report.workspaces.followUpFailures?.length) (report.followUpFailures ??= []).push(...report.workspaces.followUpFailures);
  if (!report.workspaces.finished) report.finished = false;
  // Removed items first: a link dropped here stops retaining its artifact.
  report.items = await applyItemRetention(deps, store.items, { dryRun, maxItems: opts.maxItems, outOfTime });
  if (!report.items.finished) report.finished = false;
  report.tokens = await deleteExpiredTokens(deps, store.tokens, { dryRun, maxTokens: opts.maxTokens, outOfTime });
  if (!report.tokens.finished) report.finished = false;
  const candidates = await collectCandidates(store, now, opts.maxArtifacts);
  const { nodes, graph, complete } = await loadGraph(deps, store, candidates.ids, opts.maxGraph);
  report.finished = report.finished && candidates.complete && complete;
  // Artifacts of a workspace being emptied are judged as the workspace step judges them.
  const plan = planArtifactExpiry(judgeWithGoingWorkspaces(graph, nodes, going), now);
  const candidateSet = new Set(candidates.ids);

  for (const [id, reason] of plan.kept) {
    const node = nodes.get(id)!;
    if (node.state.condemnedAt !== null) {
      report.reprieved.push(id);
      if (!dryRun) await store.reprieveArtifact(id, node.state.condemnedAt);
    }
    if (reason.kind === 'unexpired') continue;
    report.kept.push({ id, reason, why: describeKeepReason(reason) });
    // Only candidates sit in a bucket that is due; the others are re-read through them.
    if (!dryRun && candidateSet.has(id) && opts.recheckSeconds > 0) {
      await store.postponeCheck(id, new Date(now.getTime() + opts.recheckSeconds * 1000).toISOString());
    }
  }

  // With an incomplete graph, an artifact whose sources were not all read cannot be judged.
  const judged = plan.expired.filter((id) => complete || nodes.get(id)!.sources.every((s) => nodes.has(s)));
  for (const id of judged) {
    if (outOfTime()) {
      report.finished = false;
      return report;
    }
    const { state } = nodes.get(id)!;
    if (state.condemnedAt === null) {
      report.condemned.push(id);
      if (!dryRun) await store.condemnArtifact(id, state.artifact.version, nowIso);
    } else if (!closureCondemned(nodes, id)) {
      report.waiting.push(id);
    } else {
      report.deleted.push(id);
      if (!dryRun) {
        const failures: FollowUpFailure[] = [];
        await deleteCondemned(deps, store, state, opts.onFilesReleased, failures);
        if (failures.length) (report.followUpFailures ??= []).push(...failures);
      }
    }
  }

  if (!dryRun && report.finished) {
    // Drained buckets leave the list once well in the past: the current one, and the one before
    // (a create that computed its expiry just before the hour turned), may still gain entries.
    const settled = expiryBucket(new Date(now.getTime() - EXPIRY_BUCKET_MS).toISOString());
    for (const bucket of candidates.buckets) {
      if (bucket >= settled) continue;
      const left = await store.expiringArtifacts(bucket, '9999', 1);
      if (left.items.length === 0) await store.dropExpiryBucket(bucket);
    }
  }

  if (outOfTime()) {
    report.finished = false;
    return report;
  }
  await sweepBlobs(deps, store, report, opts.maxBlobs, opts.blobGraceSeconds, dryRun);
  return report;
}

async function sweepBlobs(deps: Deps, store: ExpiryStore, report: ExpiryReport, max: number, graceSeconds: number, dryRun: boolean): Promise<void> {
  const now = deps.clock.now();
  for (const { blob, since } of await store.blobCandidates(max)) {
    const row = await store.blobRow(blob);
    const referenced = await store.blobReferenced(blob);
    const step = sweepStep(row, referenced, now, graceSeconds, since);
    if (dryRun) {
      if (step === 'condemn') report.blobs.condemned.push(blob);
      if (step === 'delete' || step === 'finish-delete') report.blobs.deleted.push(blob);
      if (step === 'rescue') report.blobs.rescued.push(blob);
      continue;
    }
    switch (step) {
      case 'forget':
        await store.dropBlobCandidate(blob);
        break;
      case 'wait':
        break;
      case 'condemn':
        if (await store.setBlobRow(blob, row!, { state: 'condemned', condemnedAt: now.toISOString() })) report.blobs.condemned.push(blob);
        break;
      case 'rescue':
        if (await store.setBlobRow(blob, row!, { state: 'uploading' })) report.blobs.rescued.push(blob);
        await store.dropBlobCandidate(blob);
        break;
      case 'delete': {
        const deleting: BlobRow = { state: 'deleting', condemnedAt: row!.condemnedAt };
        if (!(await store.setBlobRow(blob, row!, deleting))) break;
        await finishBlobDelete(deps, store, blob, deleting);
        report.blobs.deleted.push(blob);
        break;
      }
      case 'finish-delete':
        await finishBlobDelete(deps, store, blob, row!);
        report.blobs.deleted.push(blob);
        break;
    }
  }
}

/** The object first, then the row: a new copy of the bytes can only start once the row is gone. */
async function finishBlobDelete(deps: Deps, store: ExpiryStore, blob: BlobRef, row: BlobRow): Promise<void> {
  await deps.files.delete(blobObjectKey(blob.sha256, blob.size));
  await store.setBlobRow(blob, row, undefined);
  await store.dropBlobCandidate(blob);
  await recordAudit(deps, 'system:expiry', 'blob.deleted', { sha256: blob.sha256, size: blob.size });
}

/** What artifact responses say about expiry (`retention`). */
export interface RetentionView {
  expire_at: string | null;
  expired: boolean;
  /** Whether something keeps it (for an unexpired artifact: its own expiry date does). */
  kept: boolean;
  /** Why, in words (the root that keeps it); null when nothing does. */
  kept_because: string | null;
  /** A pass condemned it: the next pass deletes it unless something keeps it by then. */
  condemned: boolean;
}

/** Artifacts read at most to explain one artifact's retention (its backward closure). */
const RETENTION_GRAPH_LIMIT = 200;

/**
 * Why an artifact is kept, as a pass would see it now. An unexpired one costs no read; an expired
 * one reads its backward closure (bounded: past the bound, it says it cannot tell).
 */
export async function artifactRetention(deps: Deps, store: RetentionGraphReader, artifact: { id: number; expireAt: string | null }): Promise<RetentionView> {
  const now = deps.clock.now();
  const view = { expire_at: artifact.expireAt };
  if (!artifact.expireAt || Date.parse(artifact.expireAt) > now.getTime()) {
    const reason: KeepReason = { kind: 'unexpired', expireAt: artifact.expireAt };
    return { ...view, expired: false, kept: true, kept_because: describeKeepReason(reason), condemned: false };
  }
  const { nodes, graph, complete } = await loadGraph(deps, store, [artifact.id], RETENTION_GRAPH_LIMIT);
  const condemned = nodes.get(artifact.id)?.state.condemnedAt != null;
  const reason = planArtifactExpiry(graph, now).kept.get(artifact.id);
  if (reason) return { ...view, expired: true, kept: true, kept_because: describeKeepReason(reason), condemned };
  return { ...view, expired: true, kept: false, kept_because: complete ? null : 'unknown: too many related artifacts to tell', condemned };
}
