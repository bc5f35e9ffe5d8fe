/**
 * The retention index of removed collection items (docs/data-model.md, "Expiry"): a removed item's
 * history row carries gsi3 `ITEMRET#<collection % 4>` / `<next check>#<item16>` from its removal
 * (collection-repository.ts, softRemoval) until its collection's periods say nothing more will
 * happen to it. The pass Queries the four shards up to now: what it reads is what is due.
 */
import { DeleteCommand, type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { CollectionItem } from '../../domain/collections';
import type { ItemRetentionStore } from '../../ports/item-retention';
import { attempt } from './errors';
import { dueEntries } from './due-index';
import { keys } from './keys';
import { ITEM_RETENTION_SHARDS, itemRetentionIndex, toItem } from './collection-repository';
import { type Item, names } from './support';

export class DynamoItemRetentionStore implements ItemRetentionStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async removedItemsDue(upTo: string, limit: number): Promise<CollectionItem[]> {
    const rows = await dueEntries(this.doc, this.tableName, 'ITEMRET#', ITEM_RETENTION_SHARDS, upTo, limit);
    return rows.filter((r) => typeof r.removedAt === 'string').map(toItem);
  }

  dropArtifactLink(item: CollectionItem, nextCheck: string | null): Promise<boolean> {
    const next = nextCheck === null ? undefined : itemRetentionIndex(item, nextCheck);
    return this.update(
      item,
      next ? 'REMOVE #artifactId, #gsi1pk, #gsi1sk SET #gsi3sk = :next' : 'REMOVE #artifactId, #gsi1pk, #gsi1sk, #gsi3pk, #gsi3sk',
      next ? { ':next': next.gsi3sk } : {},
      ['artifactId', 'gsi1pk', 'gsi1sk', 'gsi3pk', 'gsi3sk'].filter((n) => next === undefined || n !== 'gsi3pk'),
    );
  }

  async deleteRemovedItem(item: CollectionItem): Promise<boolean> {
    const outcome = await attempt(() =>
      this.doc.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: keys.collectionItem(item.collectionId, item.id),
          ...this.unchanged(item, []),
        }),
      ),
    );
    return outcome.ok;
  }

  recheckRemovedItem(item: CollectionItem, at: string | null): Promise<boolean> {
    if (at === null) return this.update(item, 'REMOVE #gsi3pk, #gsi3sk', {}, ['gsi3pk', 'gsi3sk']);
    return this.update(item, 'SET #gsi3sk = :next', { ':next': itemRetentionIndex(item, at).gsi3sk }, ['gsi3sk']);
  }

  /** Conditional on the row still being the removed item read: same removal, same artifact link. */
  private unchanged(item: CollectionItem, extraNames: string[]) {
    const linked = item.artifactId === null ? 'attribute_not_exists(#artifactId)' : '#artifactId = :artifactId';
    return {
      ConditionExpression: `#removedAt = :removedAt AND ${linked}`,
      ExpressionAttributeNames: names('removedAt', 'artifactId', ...extraNames),
      ExpressionAttributeValues: { ':removedAt': item.removedAt, ...(item.artifactId === null ? {} : { ':artifactId': item.artifactId }) } as Item,
    };
  }

  private async update(item: CollectionItem, expression: string, values: Item, attrNames: string[]): Promise<boolean> {
    const condition = this.unchanged(item, attrNames);
    const outcome = await attempt(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.collectionItem(item.collectionId, item.id),
          UpdateExpression: expression,
          ...condition,
          ExpressionAttributeValues: { ...condition.ExpressionAttributeValues, ...values },
        }),
      ),
    );
    return outcome.ok;
  }
}
