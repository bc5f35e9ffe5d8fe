/**
 * WorkRequestExpiryStore on the main table: due roots from gsi3 `WREXP#<0..3>` (one Query per shard,
 * up to now), item references from the request's own partition (`ITEMREF#`), deletes by partition.
 * No Scan. Keys: work-request-expiry-keys.ts. An entry is the root's own item, or (written before the
 * entry moved there, or by the backfill) a legacy `EXPIRY` item: each is moved and removed where it is.
 */
import { DeleteCommand, type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Collection } from '../../domain/collections';
import type { WorkRequest } from '../../domain/work-requests';
import type { WorkRequestExpiryStore } from '../../ports/work-request-expiry';
import { inputArtifactsOf } from '../../tasks/inputs';
import { dueEntries } from './due-index';
import { inputPinKey } from './expiry-pins';
import { childLinkKey } from './work-request-repository';
import { ITEM_REFERENCES, WORK_REQUEST_EXPIRY_PREFIX, WORK_REQUEST_EXPIRY_SHARDS, rootExpiryIndexKey, rootExpiryKey } from './work-request-expiry-keys';
import { attempt } from './errors';
import { collectionPk, keys, workRequestPk } from './keys';
import { batchDelete, deleteIfUnchanged, type Item, names, queryAll } from './support';

export class DynamoWorkRequestExpiryStore implements WorkRequestExpiryStore {
  /** Roots whose due entry (read by dueRoots) is a legacy `EXPIRY` item: moved and removed there. */
  private readonly legacyEntries = new Set<number>();

  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async dueRoots(upTo: string, limit: number): Promise<number[]> {
    const entries = await dueEntries(this.doc, this.tableName, WORK_REQUEST_EXPIRY_PREFIX, WORK_REQUEST_EXPIRY_SHARDS, upTo, limit);
    // A legacy entry item names its root; a backfilled root may have both entries: looked at once.
    for (const e of entries) if (e.rootId !== undefined) this.legacyEntries.add(Number(e.rootId));
    return [...new Set(entries.map((e) => Number(e.rootId ?? e.id)))];
  }

  /**
   * The entry is moved (or removed) where it is, by an UpdateItem of its gsi3 key on condition that
   * it still carries an expiry key: on the request item (a request retried since is back in the
   * scheduling index: left alone), or on a legacy entry item, which is deleted instead of emptied.
   * No version bump: a concurrent versioned write of the request is not refused, it puts the entry
   * back at the completion time (the pass looks again, harmless).
   */
  async recheckRoot(rootId: number, at: string | null): Promise<void> {
    const legacy = this.legacyEntries.delete(rootId);
    if (legacy && at === null) {
      await this.doc.send(new DeleteCommand({ TableName: this.tableName, Key: rootExpiryKey(rootId) }));
      return;
    }
    const moved = at === null ? undefined : rootExpiryIndexKey(rootId, at);
    await attempt(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: legacy ? rootExpiryKey(rootId) : keys.workRequest(rootId),
          UpdateExpression: moved ? 'SET gsi3pk = :pk, gsi3sk = :sk' : 'REMOVE gsi3pk, gsi3sk',
          ConditionExpression: 'begins_with(gsi3pk, :prefix)',
          ExpressionAttributeValues: { ':prefix': WORK_REQUEST_EXPIRY_PREFIX, ...(moved && { ':pk': moved.gsi3pk, ':sk': moved.gsi3sk }) },
        }),
      ),
    );
  }

  /** One Query of the request's `ITEMREF#` markers, then a GetItem of each marked item outside the own collection (a marker may outlive its item). */
  async referencedFromOutside(workRequestId: number, ownCollections: ReadonlySet<number>): Promise<boolean> {
    const markers = await this.partition(workRequestId, ITEM_REFERENCES);
    const by = `workflow:${workRequestId}`;
    for (const marker of markers) {
      const collectionId = Number(marker.collectionId);
      if (ownCollections.has(collectionId)) continue;
      const res = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: keys.collectionItem(collectionId, Number(marker.itemId)), ConsistentRead: true }));
      if (res.Item && (res.Item.createdBy === by || res.Item.removedBy === by)) return true;
    }
    return false;
  }

  /**
   * The request row first (DeleteItem conditional on its version: nothing else goes when it fails;
   * a root's own index entry goes with it), then the rest of its partition (a legacy index entry
   * among them), the links naming it in other partitions and its input pins. A pass that stops half
   * way does not come back to the rest (a gone root's entry is dropped), as before the entry moved.
   */
  async deleteWorkRequest(wr: WorkRequest): Promise<boolean> {
    if (!(await deleteIfUnchanged(this.doc, this.tableName, keys.workRequest(wr.id), { version: wr.version }))) return false;
    const own = (await this.partition(wr.id, '')).filter((i) => i.sk !== 'W');
    await batchDelete(this.doc, this.tableName, [
      ...own.map((i) => ({ pk: String(i.pk), sk: String(i.sk) })),
      ...wr.dependencies.map((dependency) => keys.reverseDependency(dependency, wr.id)),
      ...[...new Set(inputArtifactsOf(wr))].map((artifact) => inputPinKey(artifact, wr.id)),
      ...(wr.parent !== null ? [childLinkKey(wr.parent, wr.id)] : []),
    ]);
    this.legacyEntries.delete(wr.id);
    return true;
  }

  /** Every row of the collection's partition (items, active rows), then its name claim. */
  async deleteCollection(collection: Collection): Promise<void> {
    const rows = await queryAll(this.doc, {
      TableName: this.tableName,
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: names('pk'),
      ExpressionAttributeValues: { ':pk': collectionPk(collection.id) },
      ConsistentRead: true,
    });
    await batchDelete(this.doc, this.tableName, [
      ...rows.filter((r) => r.sk !== 'C').map((r) => ({ pk: String(r.pk), sk: String(r.sk) })),
      keys.collectionName(collection.scope, collection.workspace, collection.category, collection.name),
      keys.collection(collection.id),
    ]);
  }

  private partition(id: number, prefix: string): Promise<Item[]> {
    return queryAll(this.doc, {
      TableName: this.tableName,
      KeyConditionExpression: prefix ? '#pk = :pk AND begins_with(#sk, :prefix)' : '#pk = :pk',
      ExpressionAttributeNames: prefix ? names('pk', 'sk') : names('pk'),
      ExpressionAttributeValues: prefix ? { ':pk': workRequestPk(id), ':prefix': prefix } : { ':pk': workRequestPk(id) },
      ConsistentRead: true,
    });
  }
}
