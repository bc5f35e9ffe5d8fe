/** In-memory WorkRequestExpiryStore over the memory repositories, with the DynamoDB adapter's conditions. */
import type { Collection } from '../../domain/collections';
import { isFinished, type WorkRequest } from '../../domain/work-requests';
import type { WorkRequestExpiryStore } from '../../ports/work-request-expiry';
import type { MemoryDeps } from './index';

export class MemoryWorkRequestExpiryStore implements WorkRequestExpiryStore {
  constructor(private readonly deps: MemoryDeps) {}

  private get repo() {
    return this.deps.workRequests;
  }

  /** As the DynamoDB index: a finished root enters at its completion, until a pass moves it. */
  private checkOf(wr: WorkRequest): string | null {
    if (wr.parent !== null || !isFinished(wr)) return null;
    return this.repo.expiryChecks.has(wr.id) ? this.repo.expiryChecks.get(wr.id)! : new Date(wr.completedAt ?? wr.createdAt).toISOString();
  }

  async dueRoots(upTo: string, limit: number): Promise<number[]> {
    return [...this.repo.items.values()]
      .map((wr) => ({ id: wr.id, at: this.checkOf(wr) }))
      .filter((e): e is { id: number; at: string } => e.at !== null && e.at <= upTo)
      .sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.id - b.id))
      .slice(0, limit)
      .map((e) => e.id);
  }

  async recheckRoot(rootId: number, at: string | null): Promise<void> {
    if (this.repo.items.has(rootId)) this.repo.expiryChecks.set(rootId, at);
  }

  async referencedFromOutside(workRequestId: number, ownCollections: ReadonlySet<number>): Promise<boolean> {
    const by = `workflow:${workRequestId}`;
    for (const item of this.deps.collections.items.values()) {
      if (ownCollections.has(item.collectionId)) continue;
      if (item.createdBy === by || item.removedBy === by) return true;
    }
    return false;
  }

  async deleteWorkRequest(wr: WorkRequest): Promise<boolean> {
    const stored = this.repo.items.get(wr.id);
    if (!stored || stored.version !== wr.version) return false;
    this.repo.items.delete(wr.id);
    this.repo.reverse.delete(wr.id);
    for (const dependency of wr.dependencies) this.repo.reverse.get(dependency)?.delete(wr.id);
    this.repo.progress.delete(wr.id);
    this.repo.expiryChecks.delete(wr.id);
    return true;
  }

  async deleteCollection(collection: Collection): Promise<void> {
    const collections = this.deps.collections;
    for (const [id, item] of collections.items) {
      if (item.collectionId !== collection.id) continue;
      collections.items.delete(id);
      collections.retentionChecks.delete(id);
    }
    collections.collections.delete(collection.id);
  }
}
