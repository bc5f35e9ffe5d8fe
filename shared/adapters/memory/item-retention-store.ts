/**
 * In-memory ItemRetentionStore over MemoryCollectionRepository's items and retention index, with
 * the DynamoDB adapter's conditions (the item must still be the removed item read).
 */
import type { CollectionItem } from '../../domain/collections';
import type { ItemRetentionStore } from '../../ports/item-retention';
import type { MemoryCollectionRepository } from './collections';

export class MemoryItemRetentionStore implements ItemRetentionStore {
  constructor(private readonly collections: MemoryCollectionRepository) {}

  async removedItemsDue(upTo: string, limit: number): Promise<CollectionItem[]> {
    return [...this.collections.retentionChecks.entries()]
      .filter(([, at]) => at <= upTo)
      .sort(([a, x], [b, y]) => (x < y ? -1 : x > y ? 1 : a - b))
      .slice(0, limit)
      .flatMap(([id]) => {
        const item = this.collections.items.get(id);
        return item && item.removedAt !== null ? [structuredClone(item)] : [];
      });
  }

  async dropArtifactLink(item: CollectionItem, nextCheck: string | null): Promise<boolean> {
    const stored = this.unchanged(item);
    if (!stored) return false;
    stored.artifactId = null;
    this.recheck(item.id, nextCheck);
    return true;
  }

  async deleteRemovedItem(item: CollectionItem): Promise<boolean> {
    if (!this.unchanged(item)) return false;
    this.collections.items.delete(item.id);
    this.collections.retentionChecks.delete(item.id);
    return true;
  }

  async recheckRemovedItem(item: CollectionItem, at: string | null): Promise<boolean> {
    if (!this.unchanged(item)) return false;
    this.recheck(item.id, at);
    return true;
  }

  private unchanged(item: CollectionItem): CollectionItem | undefined {
    const stored = this.collections.items.get(item.id);
    return stored && stored.removedAt === item.removedAt && stored.artifactId === item.artifactId ? stored : undefined;
  }

  private recheck(id: number, at: string | null): void {
    if (at === null) this.collections.retentionChecks.delete(id);
    else this.collections.retentionChecks.set(id, at);
  }
}
