import {
  artifactExpireAt,
  bucketsToScan,
  collectionItemRetention,
  describeKeepReason,
  expiryBucket,
  explicitExpireAtProblem,
  isExpired,
  planArtifactExpiry,
  planWorkRequestExpiry,
  describeWorkRequestKeepReason,
  tokenExpired,
  workspaceExpired,
  type ExpiryGraph,
  type ExpiryWorkRequest,
} from '../../shared/domain/expiry';
import { blobClaimable, sweepStep, uploadClaim } from '../../shared/domain/blob-gc';

const T0 = new Date('2026-01-01T00:00:00.000Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);
const iso = (seconds: number) => at(seconds).toISOString();
const NOW = at(1000);
const EXPIRED = iso(10);
const FUTURE = iso(5000);

function graph(partial: Partial<ExpiryGraph>): ExpiryGraph {
  return { artifacts: [], relations: [], links: [], workRequests: [], ...partial };
}

describe('artifactExpireAt: the one computation of expire_at', () => {
  it('uses the artifact delay, else the workspace default; 0 or null means never', () => {
    expect(artifactExpireAt({ createdAt: T0, delaySeconds: 60, workspaceDefaultDelay: 3600 })).toBe(iso(60));
    expect(artifactExpireAt({ createdAt: T0, workspaceDefaultDelay: 3600 })).toBe(iso(3600));
    expect(artifactExpireAt({ createdAt: T0, delaySeconds: null, workspaceDefaultDelay: 3600 })).toBe(iso(3600));
    expect(artifactExpireAt({ createdAt: T0, delaySeconds: 0, workspaceDefaultDelay: 3600 })).toBeNull();
    expect(artifactExpireAt({ createdAt: T0, workspaceDefaultDelay: 0 })).toBeNull();
    expect(artifactExpireAt({ createdAt: T0, workspaceDefaultDelay: null })).toBeNull();
  });

  it("takes Debusine's explicit expire_at as given; null falls back to the default", () => {
    expect(artifactExpireAt({ createdAt: T0, expireAt: '2026-02-01T00:00:00Z', workspaceDefaultDelay: 60 })).toBe('2026-02-01T00:00:00.000Z');
    expect(artifactExpireAt({ createdAt: T0, expireAt: null, workspaceDefaultDelay: 60 })).toBe(iso(60));
  });

  it('refuses an explicit expire_at in the past or that is not a date', () => {
    expect(explicitExpireAtProblem(null, T0)).toBeUndefined();
    expect(explicitExpireAtProblem(iso(1), T0)).toBeUndefined();
    expect(explicitExpireAtProblem(iso(0), T0)).toBe('must be in the future');
    expect(explicitExpireAtProblem('yesterday', T0)).toMatch(/ISO 8601/);
    expect(explicitExpireAtProblem(42, T0)).toMatch(/ISO 8601/);
  });

  it('is expired at the instant, not before', () => {
    expect(isExpired(iso(10), at(9))).toBe(false);
    expect(isExpired(iso(10), at(10))).toBe(true);
    expect(isExpired(null, at(1e9))).toBe(false);
  });
});

describe('planArtifactExpiry: roots', () => {
  it('keeps an unexpired artifact and one that never expires; an expired lone one goes', () => {
    const plan = planArtifactExpiry(
      graph({ artifacts: [{ id: 1, expireAt: FUTURE }, { id: 2, expireAt: null }, { id: 3, expireAt: EXPIRED }] }),
      NOW,
    );
    expect(plan.kept.get(1)).toEqual({ kind: 'unexpired', expireAt: FUTURE });
    expect(plan.kept.get(2)).toEqual({ kind: 'unexpired', expireAt: null });
    expect(plan.expired).toEqual([3]);
  });

  it('keeps an expired artifact linked from a collection that retains always (even a removed item)', () => {
    const plan = planArtifactExpiry(
      graph({
        artifacts: [{ id: 1, expireAt: EXPIRED }],
        links: [{ artifactId: 1, collectionId: 7, retains: 'always', workflowId: null, workflowStatus: null }],
      }),
      NOW,
    );
    expect(plan.kept.get(1)).toEqual({ kind: 'retained-by-collection', collectionId: 7 });
    expect(plan.expired).toEqual([]);
  });

  it('a collection that never retains keeps nothing', () => {
    const plan = planArtifactExpiry(
      graph({
        artifacts: [{ id: 1, expireAt: EXPIRED }],
        links: [{ artifactId: 1, collectionId: 7, retains: 'never', workflowId: null, workflowStatus: null }],
      }),
      NOW,
    );
    expect(plan.expired).toEqual([1]);
  });

  it.each(['pending', 'running', 'blocked'] as const)('a workflow-retaining collection keeps while its workflow is %s', (status) => {
    const plan = planArtifactExpiry(
      graph({
        artifacts: [{ id: 1, expireAt: EXPIRED }],
        links: [{ artifactId: 1, collectionId: 7, retains: 'workflow', workflowId: 50, workflowStatus: status }],
      }),
      NOW,
    );
    expect(plan.kept.get(1)).toEqual({ kind: 'retained-by-workflow', collectionId: 7, workflowId: 50, workflowStatus: status });
  });

  it.each(['completed', 'aborted', null] as const)('a workflow-retaining collection lets go once its workflow is %s', (status) => {
    const plan = planArtifactExpiry(
      graph({
        artifacts: [{ id: 1, expireAt: EXPIRED }],
        links: [{ artifactId: 1, collectionId: 7, retains: 'workflow', workflowId: 50, workflowStatus: status }],
      }),
      NOW,
    );
    expect(plan.expired).toEqual([1]);
  });

  it.each(['pending', 'running', 'blocked'] as const)('keeps the inputs of a %s work request', (status) => {
    const plan = planArtifactExpiry(
      graph({ artifacts: [{ id: 1, expireAt: EXPIRED }], workRequests: [{ workRequestId: 9, status, artifactIds: [1] }] }),
      NOW,
    );
    expect(plan.kept.get(1)).toEqual({ kind: 'work-request-input', workRequestId: 9, status });
  });

  it.each(['completed', 'aborted'] as const)('does not keep the inputs of a %s work request', (status) => {
    const plan = planArtifactExpiry(
      graph({ artifacts: [{ id: 1, expireAt: EXPIRED }], workRequests: [{ workRequestId: 9, status, artifactIds: [1] }] }),
      NOW,
    );
    expect(plan.expired).toEqual([1]);
  });
});

describe('planArtifactExpiry: the closure over relations', () => {
  it('keeps the targets of kept artifacts, transitively, and says which root keeps them', () => {
    const plan = planArtifactExpiry(
      graph({
        artifacts: [
          { id: 1, expireAt: FUTURE },
          { id: 2, expireAt: EXPIRED },
          { id: 3, expireAt: EXPIRED },
        ],
        relations: [
          { artifact: 1, target: 2 },
          { artifact: 2, target: 3 },
        ],
      }),
      NOW,
    );
    expect(plan.kept.get(2)).toEqual({ kind: 'related-from', from: 1, root: 1 });
    expect(plan.kept.get(3)).toEqual({ kind: 'related-from', from: 2, root: 1 });
    expect(describeKeepReason(plan.kept.get(3)!)).toBe('related from kept artifact 2 (root: artifact 1)');
    expect(plan.expired).toEqual([]);
  });

  it('does not keep the sources of kept artifacts (relations keep only their targets)', () => {
    const plan = planArtifactExpiry(
      graph({
        artifacts: [
          { id: 1, expireAt: EXPIRED },
          { id: 2, expireAt: FUTURE },
        ],
        relations: [{ artifact: 1, target: 2 }],
      }),
      NOW,
    );
    expect(plan.expired).toEqual([1]);
  });

  it('an expired cycle nobody keeps goes whole', () => {
    const plan = planArtifactExpiry(
      graph({
        artifacts: [
          { id: 1, expireAt: EXPIRED },
          { id: 2, expireAt: EXPIRED },
        ],
        relations: [
          { artifact: 1, target: 2 },
          { artifact: 2, target: 1 },
        ],
      }),
      NOW,
    );
    expect(plan.expired).toEqual([1, 2]);
  });

  it('a retained artifact keeps what it relates to', () => {
    const plan = planArtifactExpiry(
      graph({
        artifacts: [
          { id: 1, expireAt: EXPIRED },
          { id: 2, expireAt: EXPIRED },
        ],
        relations: [{ artifact: 1, target: 2 }],
        workRequests: [{ workRequestId: 4, status: 'running', artifactIds: [1] }],
      }),
      NOW,
    );
    expect(plan.kept.get(2)).toEqual({ kind: 'related-from', from: 1, root: 1 });
  });

  it('describes every root kind', () => {
    expect(describeKeepReason({ kind: 'unexpired', expireAt: null })).toBe('never expires');
    expect(describeKeepReason({ kind: 'unexpired', expireAt: FUTURE })).toContain(FUTURE);
    expect(describeKeepReason({ kind: 'retained-by-collection', collectionId: 3 })).toContain('retains_artifacts=always');
    expect(describeKeepReason({ kind: 'retained-by-workflow', collectionId: 3, workflowId: 4, workflowStatus: 'running' })).toContain('workflow 4 is running');
    expect(describeKeepReason({ kind: 'work-request-input', workRequestId: 5, status: 'blocked' })).toContain('work request 5 (blocked)');
  });
});

describe('collectionItemRetention', () => {
  const periods = { fullHistoryRetentionPeriod: 100, metadataOnlyRetentionPeriod: 50 };
  it('keeps active items whatever the periods', () => {
    expect(collectionItemRetention({ removedAt: null }, periods, at(1e6))).toBe('keep');
  });
  it('drops the artifact link after the full-history period, the row after both', () => {
    expect(collectionItemRetention({ removedAt: iso(0) }, periods, at(99))).toBe('keep');
    expect(collectionItemRetention({ removedAt: iso(0) }, periods, at(100))).toBe('drop-artifact-link');
    expect(collectionItemRetention({ removedAt: iso(0) }, periods, at(149))).toBe('drop-artifact-link');
    expect(collectionItemRetention({ removedAt: iso(0) }, periods, at(150))).toBe('delete');
  });
  it('a null period means that stage never happens', () => {
    expect(collectionItemRetention({ removedAt: iso(0) }, { fullHistoryRetentionPeriod: null, metadataOnlyRetentionPeriod: 1 }, at(1e6))).toBe('keep');
    expect(collectionItemRetention({ removedAt: iso(0) }, { fullHistoryRetentionPeriod: 1, metadataOnlyRetentionPeriod: null }, at(1e6))).toBe(
      'drop-artifact-link',
    );
  });
});

describe('planWorkRequestExpiry', () => {
  const wr = (id: number, over: Partial<ExpiryWorkRequest> = {}): ExpiryWorkRequest => ({
    id,
    parent: null,
    status: 'completed',
    createdAt: iso(0),
    delaySeconds: 10,
    referencedFromOutside: false,
    ...over,
  });

  it('an expired finished request goes; unexpired, never-expiring or unfinished ones stay', () => {
    const plan = planWorkRequestExpiry([wr(1), wr(2, { delaySeconds: 5000 }), wr(3, { delaySeconds: 0 }), wr(4, { status: 'running' })], NOW);
    expect(plan.expired).toEqual([1]);
    expect(plan.kept.get(2)).toEqual({ kind: 'unexpired', expireAt: iso(5000) });
    expect(plan.kept.get(3)).toEqual({ kind: 'unexpired', expireAt: null });
    expect(plan.kept.get(4)).toEqual({ kind: 'unfinished', status: 'running' });
  });

  it('is kept when a collection item outside its internal collection references it', () => {
    expect(planWorkRequestExpiry([wr(1, { referencedFromOutside: true })], NOW).kept.get(1)).toEqual({ kind: 'referenced-by-collection-item' });
  });

  it('a kept child keeps its parent (and so its siblings); a kept parent keeps its children', () => {
    const plan = planWorkRequestExpiry(
      [wr(1), wr(2, { parent: 1, delaySeconds: 5000 }), wr(3, { parent: 1 }), wr(4, { parent: 3 }), wr(10), wr(11, { parent: 10 })],
      NOW,
    );
    expect(plan.kept.get(1)).toEqual({ kind: 'child-kept', child: 2 });
    expect(plan.kept.get(3)).toEqual({ kind: 'parent-kept', parent: 1 });
    expect(plan.kept.get(4)).toEqual({ kind: 'parent-kept', parent: 3 });
    expect(plan.expired).toEqual([10, 11]);
  });

  it('is kept while an unfinished request outside its tree depends on it, and says so', () => {
    const plan = planWorkRequestExpiry([wr(1, { unfinishedDependent: 9 }), wr(2, { parent: 1 })], NOW);
    expect(plan.kept.get(1)).toEqual({ kind: 'unfinished-dependent', dependent: 9 });
    expect(plan.kept.get(2)).toEqual({ kind: 'parent-kept', parent: 1 });
    expect(describeWorkRequestKeepReason(plan.kept.get(1)!)).toBe('unfinished work request 9 depends on it');
    expect(describeWorkRequestKeepReason({ kind: 'unexpired', expireAt: null })).toMatch(/never expires/);
  });
});

describe('workspaces and tokens', () => {
  const ws = { expirationDelay: 100, createdAt: iso(0), lastTaskCompletedAt: iso(500), hasUnfinishedTasks: false };
  it('a workspace goes expiration_delay after its last task completed', () => {
    expect(workspaceExpired(ws, at(599))).toBe(false);
    expect(workspaceExpired(ws, at(600))).toBe(true);
    expect(workspaceExpired({ ...ws, lastTaskCompletedAt: null }, at(100))).toBe(true);
  });
  it('never while a task is unfinished, or without a delay', () => {
    expect(workspaceExpired({ ...ws, hasUnfinishedTasks: true }, at(1e6))).toBe(false);
    expect(workspaceExpired({ ...ws, expirationDelay: null }, at(1e6))).toBe(false);
    expect(workspaceExpired({ ...ws, expirationDelay: 0 }, at(1e6))).toBe(false);
  });
  it('a token goes at its expire_at; one without stays', () => {
    expect(tokenExpired({ expireAt: iso(10) }, at(10))).toBe(true);
    expect(tokenExpired({ expireAt: iso(10) }, at(9))).toBe(false);
    expect(tokenExpired({}, at(1e9))).toBe(false);
  });
});

describe('the expiry index buckets', () => {
  it('puts an expiry time in its hour bucket', () => {
    expect(expiryBucket('2026-01-01T05:59:59.999Z')).toBe('2026-01-01T05');
    expect(expiryBucket('2026-01-01T06:00:00.000Z')).toBe('2026-01-01T06');
  });
  it('reads from the resume point up to now, at most maxBuckets', () => {
    const now = new Date('2026-01-01T03:10:00Z');
    expect(bucketsToScan(null, now, 10)).toEqual(['2026-01-01T03']);
    expect(bucketsToScan('2026-01-01T01', now, 10)).toEqual(['2026-01-01T01', '2026-01-01T02', '2026-01-01T03']);
    expect(bucketsToScan('2025-12-31T23', now, 2)).toEqual(['2025-12-31T23', '2026-01-01T00']);
  });
});

describe('blob garbage collection steps', () => {
  it('only a stored blob can be claimed without an upload', () => {
    expect(blobClaimable({ state: 'stored' })).toBe(true);
    expect(blobClaimable({ state: 'condemned', condemnedAt: iso(0) })).toBe(false);
    expect(blobClaimable({ state: 'deleting', condemnedAt: iso(0) })).toBe(false);
    expect(blobClaimable(undefined)).toBe(false);
  });
  it('an upload creates, keeps or rescues the row, and waits while a delete is under way', () => {
    expect(uploadClaim(undefined)).toBe('claim');
    expect(uploadClaim({ state: 'uploading' })).toBe('claim');
    expect(uploadClaim({ state: 'stored' })).toBe('already-stored');
    expect(uploadClaim({ state: 'condemned', condemnedAt: iso(0) })).toBe('claim');
    expect(uploadClaim({ state: 'deleting', condemnedAt: iso(0) })).toBe('retry-later');
  });
  it('condemns, waits out the grace period, then deletes; a reference rescues', () => {
    expect(sweepStep(undefined, false, NOW)).toBe('forget');
    // gone, but an upload of a deleted artifact may still claim it within the grace period
    expect(sweepStep(undefined, false, at(99), 100, iso(0))).toBe('wait');
    expect(sweepStep(undefined, false, at(100), 100, iso(0))).toBe('forget');
    expect(sweepStep({ state: 'stored' }, true, NOW)).toBe('forget');
    expect(sweepStep({ state: 'stored' }, false, NOW)).toBe('condemn');
    expect(sweepStep({ state: 'uploading' }, false, NOW)).toBe('condemn');
    expect(sweepStep({ state: 'uploading' }, true, NOW)).toBe('forget');
    expect(blobClaimable({ state: 'uploading' })).toBe(false);
    expect(sweepStep({ state: 'condemned', condemnedAt: iso(0) }, true, at(1e6))).toBe('rescue');
    expect(sweepStep({ state: 'condemned', condemnedAt: iso(0) }, false, at(99), 100)).toBe('wait');
    expect(sweepStep({ state: 'condemned', condemnedAt: iso(0) }, false, at(100), 100)).toBe('delete');
    expect(sweepStep({ state: 'deleting', condemnedAt: iso(0) }, true, NOW)).toBe('finish-delete');
  });
});
