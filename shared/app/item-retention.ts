/**
 * The collection-item step of the expiry pass (Debusine's `full_history_retention_period` and
 * `metadata_only_retention_period`, reference/debusine.md §6): a removed item keeps its artifact
 * link for the first period, then only its metadata for the second, then it goes. Dropping the
 * link is what lets the artifact expire (a linked item retains it, removed or not).
 *
 * Bounded: the items come from the retention index, due ones only, at most `maxItems` a pass. An
 * item whose collection keeps it forever leaves the index the first time it is looked at; one that
 * is not due yet (its collection's periods grew) moves to its new check time. So a pass reads what
 * is due, not what is stored. Every change is conditional on the item read.
 */
import { collectionItemRetention, describeItemRetention, nextItemRetentionCheck, retentionPeriodsOf } from '../domain/expiry';
import type { Collection, CollectionItem } from '../domain/collections';
import type { Deps } from '../ports';
import type { ItemRetentionStore } from '../ports/item-retention';
import { recordAudit } from './audit';
import { dueInBounds } from './bounded-steps';

export interface ItemRef {
  collection: number;
  item: number;
  name: string;
}

export interface KeptItem extends ItemRef {
  why: string;
}

export interface ItemRetentionReport {
  /** Removed items that lost (a dry run: would lose) their artifact link: metadata only now. */
  linkDropped: (ItemRef & { artifact: number })[];
  /** Removed items deleted (would be deleted). */
  deleted: ItemRef[];
  /** Removed items looked at and kept as they are, with why. */
  kept: KeptItem[];
  /** False when the limit stopped the step: the rest waits in the index. */
  finished: boolean;
}

export const DEFAULT_MAX_ITEMS = 500;

const refOf = (i: CollectionItem): ItemRef => ({ collection: i.collectionId, item: i.id, name: i.name });

export async function applyItemRetention(
  deps: Deps,
  store: ItemRetentionStore,
  opts: { dryRun: boolean; maxItems?: number; outOfTime?: () => boolean },
): Promise<ItemRetentionReport> {
  const report: ItemRetentionReport = { linkDropped: [], deleted: [], kept: [], finished: true };
  const now = deps.clock.now();
  const due = await dueInBounds(report, (dueBy, max) => store.removedItemsDue(dueBy, max), { now, max: opts.maxItems ?? DEFAULT_MAX_ITEMS, outOfTime: opts.outOfTime });
  const collections = new Map<number, Collection | undefined>();
  for (const item of due) {
    if (!collections.has(item.collectionId)) collections.set(item.collectionId, await deps.collections.get(item.collectionId));
    const collection = collections.get(item.collectionId);
    // A collection that is gone (none are deleted today) leaves its items to no rule: forget them.
    const periods = collection ? retentionPeriodsOf(collection) : { fullHistoryRetentionPeriod: null, metadataOnlyRetentionPeriod: null };
    let step = collectionItemRetention(item, periods, now);
    if (step === 'drop-artifact-link' && item.artifactId === null) step = 'keep'; // metadata only already
    if (step === 'delete') {
      report.deleted.push(refOf(item));
      if (!opts.dryRun && (await store.deleteRemovedItem(item))) {
        await recordAudit(deps, 'system:expiry', 'collection-item.deleted', { collection: item.collectionId, item: item.id, name: item.name, removed_at: item.removedAt });
      }
    } else if (step === 'drop-artifact-link') {
      const artifact = item.artifactId!;
      report.linkDropped.push({ ...refOf(item), artifact });
      const next = nextItemRetentionCheck({ ...item, artifactId: null }, periods);
      if (!opts.dryRun && (await store.dropArtifactLink(item, next))) {
        await recordAudit(deps, 'system:expiry', 'collection-item.link-dropped', { collection: item.collectionId, item: item.id, name: item.name, artifact, removed_at: item.removedAt });
      }
    } else {
      report.kept.push({ ...refOf(item), why: describeItemRetention(item, periods) });
      if (!opts.dryRun) await store.recheckRemovedItem(item, nextItemRetentionCheck(item, periods));
    }
  }
  return report;
}
