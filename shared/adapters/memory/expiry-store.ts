/**
 * In-memory ExpiryStore over the memory repositories, with the conditions of the DynamoDB adapter
 * (condemnation and blob rows change only from the state the caller read).
 */
import { blobKey } from '../../domain/artifacts';
import type { BlobRow } from '../../domain/blob-gc';
import { expiryBucket, type RetainingLink, type WorkRequestInputs } from '../../domain/expiry';
import { inputArtifactsOf } from '../../tasks/inputs';
import type { Page } from '../../ports';
import type { ArtifactExpiryState, BlobRef, ExpiringArtifact, ExpiryStore } from '../../ports/expiry';
import type { MemoryDeps } from './index';
import { MemoryItemRetentionStore } from './item-retention-store';
import { MemoryTokenExpiryStore } from './token-expiry-store';
import { MemoryWorkRequestExpiryStore } from './work-request-expiry-store';
import { MemoryWorkspaceExpiryStore } from './workspace-expiry-store';

const clone = <T>(v: T): T => structuredClone(v);

export { inputArtifactsOf };

export class MemoryExpiryStore implements ExpiryStore {
  /** Blob candidates by key, with when they became candidates. */
  candidates = new Map<string, { blob: BlobRef; at: string }>();

  readonly items: MemoryItemRetentionStore;
  readonly tokens: MemoryTokenExpiryStore;
  readonly workRequests: MemoryWorkRequestExpiryStore;
  readonly workspaces: MemoryWorkspaceExpiryStore;

  constructor(private readonly deps: MemoryDeps) {
    this.items = new MemoryItemRetentionStore(deps.collections);
    this.tokens = new MemoryTokenExpiryStore(deps.identity);
    this.workRequests = new MemoryWorkRequestExpiryStore(deps);
    this.workspaces = new MemoryWorkspaceExpiryStore(deps);
  }

  private get repo() {
    return this.deps.artifacts;
  }

  async indexReady() {
    return true;
  }
  async expiryBuckets(upToBucket: string, limit: number) {
    return [...this.repo.expiryBucketList]
      .filter((b) => b <= upToBucket)
      .sort()
      .slice(0, limit);
  }
  async dropExpiryBucket(bucket: string) {
    this.repo.expiryBucketList.delete(bucket);
  }
  async expiringArtifacts(bucket: string, upTo: string, limit: number, cursor?: string): Promise<Page<ExpiringArtifact>> {
    const all = [...this.repo.expiryIndex.entries()]
      .filter(([, at]) => expiryBucket(at) === bucket && at <= upTo)
      .sort(([a, x], [b, y]) => (x < y ? -1 : x > y ? 1 : a - b))
      .map(([id, expireAt]) => ({ id, expireAt }));
    const start = cursor ? Number(cursor) : 0;
    return { items: all.slice(start, start + limit), next: start + limit < all.length ? String(start + limit) : undefined };
  }
  async postponeCheck(id: number, until: string) {
    if (this.repo.artifacts.has(id)) this.repo.indexExpiry(id, until);
  }

  async artifactState(id: number): Promise<ArtifactExpiryState | undefined> {
    const found = await this.repo.get(id);
    return found && { ...found, condemnedAt: this.repo.condemned.get(id) ?? null };
  }

  async retainingLinks(artifactId: number): Promise<RetainingLink[]> {
    const links: RetainingLink[] = [];
    for (const item of this.deps.collections.items.values()) {
      if (item.artifactId !== artifactId) continue;
      const collection = this.deps.collections.collections.get(item.collectionId);
      if (!collection) continue;
      const workflow = collection.workflowId === null ? undefined : this.deps.workRequests.items.get(collection.workflowId);
      links.push({
        artifactId,
        collectionId: collection.id,
        retains: collection.retainsArtifacts,
        workflowId: collection.workflowId,
        workflowStatus: workflow?.status ?? null,
      });
    }
    return links;
  }

  async workRequestInputs(artifactId: number): Promise<WorkRequestInputs[]> {
    return [...this.deps.workRequests.items.values()]
      .filter((wr) => inputArtifactsOf(wr).includes(artifactId))
      .map((wr) => ({ workRequestId: wr.id, status: wr.status, artifactIds: [artifactId] }));
  }

  async condemnArtifact(id: number, version: number, at: string) {
    const artifact = this.repo.artifacts.get(id);
    if (!artifact || artifact.version !== version || this.repo.condemned.has(id)) return false;
    this.repo.condemned.set(id, at);
    return true;
  }
  async reprieveArtifact(id: number, condemnedAt: string) {
    if (this.repo.condemned.get(id) !== condemnedAt) return false;
    this.repo.condemned.delete(id);
    return true;
  }
  async deleteCondemnedArtifact(id: number, condemnedAt: string) {
    if (this.repo.condemned.get(id) !== condemnedAt) return undefined;
    const blobs = [...(this.repo.files.get(id)?.values() ?? [])].map((f) => ({ sha256: f.sha256, size: f.size }));
    this.repo.forget(id);
    for (const item of this.deps.collections.items.values()) if (item.artifactId === id) item.artifactId = null;
    return { blobs };
  }

  async addBlobCandidates(blobs: BlobRef[], at: string) {
    for (const blob of blobs) {
      const key = blobKey(blob.sha256, blob.size);
      if (!this.candidates.has(key)) this.candidates.set(key, { blob: clone(blob), at });
    }
  }
  async blobCandidates(limit: number) {
    return [...this.candidates.values()].slice(0, limit).map((c) => ({ blob: clone(c.blob), since: c.at }));
  }
  async dropBlobCandidate(blob: BlobRef) {
    this.candidates.delete(blobKey(blob.sha256, blob.size));
  }
  async blobRow(blob: BlobRef) {
    return clone(this.repo.blobs.get(blobKey(blob.sha256, blob.size)));
  }
  async blobReferenced(blob: BlobRef) {
    for (const files of this.repo.files.values()) {
      for (const f of files.values()) if (f.sha256 === blob.sha256 && f.size === blob.size) return true;
    }
    return false;
  }
  async setBlobRow(blob: BlobRef, from: BlobRow, to: BlobRow | undefined) {
    const key = blobKey(blob.sha256, blob.size);
    const current = this.repo.blobs.get(key);
    if (!current || current.state !== from.state || current.condemnedAt !== from.condemnedAt) return false;
    if (to) this.repo.blobs.set(key, clone(to));
    else this.repo.blobs.delete(key);
    return true;
  }
}
