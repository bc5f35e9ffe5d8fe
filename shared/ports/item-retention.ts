/**
 * What the collection-item retention step of the expiry pass (shared/app/item-retention.ts) needs
 * from storage: removed items come from a retention index keyed by their next check time, never
 * from a scan. Every change is conditional on the item read (still removed at the same instant,
 * still linking the same artifact). Adapters: dynamodb/item-retention-store.ts, memory/item-retention-store.ts.
 */
import type { CollectionItem } from '../domain/collections';

export interface ItemRetentionStore {
  /** Removed items whose retention check time is at or before `upTo`, oldest check first, at most `limit`. */
  removedItemsDue(upTo: string, limit: number): Promise<CollectionItem[]>;
  /**
   * Metadata only from now on: the item stops linking its artifact (so it retains it no more) and
   * is next looked at `nextCheck` (null: never again).
   */
  dropArtifactLink(item: CollectionItem, nextCheck: string | null): Promise<boolean>;
  /** Deletes the removed item's row. */
  deleteRemovedItem(item: CollectionItem): Promise<boolean>;
  /** Moves the item's next check to `at` (null: leaves the index, its collection keeps it forever). */
  recheckRemovedItem(item: CollectionItem, at: string | null): Promise<boolean>;
}
