/**
 * Collections and their items in the main table. Layout, access patterns and races:
 * docs/data-model.md ("Collections and items").
 *
 * - `COL#<id>` / `C`: the collection.
 * - `WS#<scope>#<ws>` / `COL#<category>#<name>`: the claim of the name, holding a copy of the collection
 *   (collections never change after creation), so `getByName` and `list` are one consistent read.
 * - `COL#<id>` / `I#<itemId16>`: every version of every item (removal is soft: `removedAt`, `removedBy`).
 * - `COL#<id>` / `N#<name>`: a copy of the ACTIVE item of that name. Its existence is the "one active item
 *   per name" lock: adding without `replace` is conditioned on it not existing, replacing on it still
 *   being the item read.
 */
import { itemReferenceMarkers } from './work-request-expiry-keys';
import { type DynamoDBDocumentClient, GetCommand, TransactWriteCommand, type TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import type { Collection, CollectionItem } from '../../domain/collections';
import { pickFields } from '../../domain/fields';
import { ConflictError } from '../../domain/errors';
import type { CollectionRepository } from '../../ports';
import { attempt, firstFailure } from './errors';
import { ACTIVE_ITEMS, COLLECTION_NAMES, ITEM_HISTORY, collectionPk, keys, padId } from './keys';
import { compact, type Item, names, queryPartition } from './support';
import { queryPrefixPage } from './prefix-page';
import type { Page } from '../../ports';

type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/** Attempts of a replace or removal that keeps losing the race for the active item of a name. */
const MAX_RACE_ATTEMPTS = 8;

export class DynamoCollectionRepository implements CollectionRepository {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /** One transaction: the collection item and its name claim, both `attribute_not_exists(pk)`. */
  async create(collection: Collection): Promise<void> {
    const attrs = collectionAttributes(collection);
    const outcome = await attempt(() =>
      this.transact([
        {
          Put: {
            TableName: this.tableName,
            Item: { ...keys.collection(collection.id), entity: 'collection', ...attrs },
            ConditionExpression: 'attribute_not_exists(#pk)',
            ExpressionAttributeNames: names('pk'),
          },
        },
        {
          Put: {
            TableName: this.tableName,
            Item: {
              ...keys.collectionName(collection.scope, collection.workspace, collection.category, collection.name),
              entity: 'collection-name',
              ...attrs,
            },
            ConditionExpression: 'attribute_not_exists(#pk)',
            ExpressionAttributeNames: names('pk'),
          },
        },
      ]),
    );
    const failed = firstFailure(outcome);
    if (failed?.index === 0) throw new ConflictError('Collection exists', `collection ${collection.id} already exists`);
    if (failed) {
      throw new ConflictError(
        'Collection exists',
        `workspace "${collection.workspace}" already has a collection "${collection.name}@${collection.category}"`,
      );
    }
  }

  async get(id: number): Promise<Collection | undefined> {
    const res = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: keys.collection(id), ConsistentRead: true }));
    return res.Item && toCollection(res.Item);
  }

  /** One consistent GetItem of the name claim (which holds the whole collection). */
  async getByName(scope: string, workspace: string, name: string, category: string): Promise<Collection | undefined> {
    const res = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: keys.collectionName(scope, workspace, category, name), ConsistentRead: true }),
    );
    return res.Item && toCollection(res.Item);
  }

  /** Consistent Query of the workspace partition's name claims; sorted by name, then category. */
  async list(scope: string, workspace: string): Promise<Collection[]> {
    const items = await queryPartition(this.doc, this.tableName, keys.workspace(scope, workspace).pk, { beginsWith: COLLECTION_NAMES });
    return items
      .map(toCollection)
      .sort((a, b) => byCodeUnit(a.name, b.name) || byCodeUnit(a.category, b.category));
  }

  /** One page of the workspace partition's name claims (sort key: category, then name). */
  async listPage(scope: string, workspace: string, opts: { limit: number; cursor?: string; category?: string }): Promise<Page<Collection>> {
    const prefix = opts.category === undefined ? COLLECTION_NAMES : `${COLLECTION_NAMES}${opts.category}#`;
    const found = await queryPrefixPage(this.doc, this.tableName, keys.workspace(scope, workspace).pk, prefix, opts);
    return { items: found.items.map(toCollection), ...(found.next ? { next: found.next } : {}) };
  }

  /**
   * One transaction: the history row (`attribute_not_exists`) and the active row of the name —
   * `attribute_not_exists` when no item is active, else (with `replace`) `id = :old` together with the
   * soft removal of the old history row. A replace that loses a race reads again and retries.
   */
  async addItem(item: CollectionItem, opts: { replace: boolean }): Promise<void> {
    for (let attemptNo = 1; attemptNo <= MAX_RACE_ATTEMPTS; attemptNo++) {
      const old = opts.replace ? await this.activeItem(item.collectionId, item.name) : undefined;
      const writes: TransactItem[] = [
        {
          Put: {
            TableName: this.tableName,
            Item: { ...keys.collectionItem(item.collectionId, item.id), entity: 'collection-item', ...itemAttributes(item), ...artifactLinkIndex(item) },
            ConditionExpression: 'attribute_not_exists(#pk)',
            ExpressionAttributeNames: names('pk'),
          },
        },
        {
          Put: {
            TableName: this.tableName,
            Item: { ...keys.activeItem(item.collectionId, item.name), entity: 'collection-active', ...itemAttributes(item) },
            ...(old
              ? { ConditionExpression: '#id = :old', ExpressionAttributeNames: names('id'), ExpressionAttributeValues: { ':old': old.id } }
              : { ConditionExpression: 'attribute_not_exists(#pk)', ExpressionAttributeNames: names('pk') }),
          },
        },
      ];
      if (old) writes.push(this.softRemoval(old, item.createdAt, item.createdBy));
      // Which workflows the item (and the one it replaces) names: expiry keeps those requests.
      const references = [...itemReferenceMarkers(item), ...(old ? itemReferenceMarkers({ ...old, removedBy: item.createdBy }) : [])];
      for (const marker of new Map(references.map((m) => [`${m.pk}#${m.sk}`, m])).values()) writes.push({ Put: { TableName: this.tableName, Item: marker } });
      // An artifact an expiry pass condemned is frozen: no new item may retain it.
      if (item.artifactId !== null) writes.push(notCondemned(this.tableName, item.artifactId));
      const outcome = await attempt(() => this.transact(writes));
      const failed = firstFailure(outcome);
      if (!failed) return;
      if (item.artifactId !== null && failed.index === writes.length - 1) {
        throw new ConflictError('Artifact is expiring', `artifact ${item.artifactId} has expired and is being deleted`);
      }
      if (failed.index === 0) throw new ConflictError('Item exists', `collection item ${item.id} already exists`);
      if (!opts.replace) {
        throw new ConflictError('Item exists', `collection ${item.collectionId} already has an active item named "${item.name}"`);
      }
      // Replace lost a race (another add, replace or removal of that name): read again.
      await backoff(attemptNo);
    }
    throw concurrent(item.name);
  }

  /** One transaction: Delete the active row (`id = :id`) and mark its history row removed. */
  async removeItem(collectionId: number, name: string, at: string, by: string): Promise<CollectionItem | undefined> {
    for (let attemptNo = 1; attemptNo <= MAX_RACE_ATTEMPTS; attemptNo++) {
      const old = await this.activeItem(collectionId, name);
      if (!old) return undefined;
      const outcome = await attempt(() =>
        this.transact([
          {
            Delete: {
              TableName: this.tableName,
              Key: keys.activeItem(collectionId, name),
              ConditionExpression: '#id = :id',
              ExpressionAttributeNames: names('id'),
              ExpressionAttributeValues: { ':id': old.id },
            },
          },
          this.softRemoval(old, at, by),
          ...itemReferenceMarkers({ ...old, createdBy: '', removedBy: by }).map((Item) => ({ Put: { TableName: this.tableName, Item } })),
        ]),
      );
      if (outcome.ok) return { ...old, removedAt: at, removedBy: by };
      await backoff(attemptNo);
    }
    throw concurrent(name);
  }

  async activeItem(collectionId: number, name: string): Promise<CollectionItem | undefined> {
    const res = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: keys.activeItem(collectionId, name), ConsistentRead: true }));
    return res.Item && toItem(res.Item);
  }

  /** Consistent Query of the collection's `N#` rows, sorted by item id. */
  async activeItems(collectionId: number): Promise<CollectionItem[]> {
    return (await this.queryPrefix(collectionId, ACTIVE_ITEMS)).map(toItem).sort((a, b) => a.id - b.id);
  }

  /** One page of the collection's `N#` rows (sort key: the item's name). */
  async activeItemsPage(collectionId: number, opts: { limit: number; cursor?: string }): Promise<Page<CollectionItem>> {
    const found = await queryPrefixPage(this.doc, this.tableName, collectionPk(collectionId), ACTIVE_ITEMS, opts);
    return { items: found.items.map(toItem), ...(found.next ? { next: found.next } : {}) };
  }

  /** Every version of the collection's items (removed ones included), by id; not part of the port (expiry, tests). */
  async history(collectionId: number): Promise<CollectionItem[]> {
    return (await this.queryPrefix(collectionId, ITEM_HISTORY)).map(toItem);
  }

  private queryPrefix(collectionId: number, prefix: string): Promise<Item[]> {
    return queryPartition(this.doc, this.tableName, collectionPk(collectionId), { beginsWith: prefix });
  }

  /** Marks a history row removed, conditioned on it existing and still being active. */
  private softRemoval(old: CollectionItem, at: string, by: string): TransactItem {
    const retention = itemRetentionIndex(old, at);
    return {
      Update: {
        TableName: this.tableName,
        Key: keys.collectionItem(old.collectionId, old.id),
        // The retention index entry: the expiry pass looks at the removed item from now on.
        UpdateExpression: 'SET #removedAt = :at, #removedBy = :by, #gsi3pk = :retentionPk, #gsi3sk = :retentionSk',
        ConditionExpression: 'attribute_exists(#pk) AND attribute_not_exists(#removedAt)',
        ExpressionAttributeNames: names('pk', 'removedAt', 'removedBy', 'gsi3pk', 'gsi3sk'),
        ExpressionAttributeValues: { ':at': at, ':by': by, ':retentionPk': retention.gsi3pk, ':retentionSk': retention.gsi3sk },
      },
    };
  }

  private transact(items: TransactItem[]) {
    return this.doc.send(new TransactWriteCommand({ TransactItems: items }));
  }
}

/** A short jittered pause before reading again, so that racers spread out. */
function backoff(attemptNo: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * attemptNo));
}

function concurrent(name: string): ConflictError {
  return new ConflictError('Concurrent update', `the active item "${name}" kept changing; try again`);
}

const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Stored attributes of a collection; `data` as JSON text, a null `workflowId` not stored. */
export function collectionAttributes(c: Collection): Item {
  return compact({
    id: c.id,
    scope: c.scope,
    workspace: c.workspace,
    name: c.name,
    category: c.category,
    dataJson: JSON.stringify(c.data ?? {}),
    retainsArtifacts: c.retainsArtifacts,
    workflowId: c.workflowId ?? undefined,
    fullHistoryRetentionPeriod: c.fullHistoryRetentionPeriod ?? undefined,
    metadataOnlyRetentionPeriod: c.metadataOnlyRetentionPeriod ?? undefined,
    createdAt: c.createdAt,
    version: c.version,
  });
}

export function toCollection(item: Item): Collection {
  return {
    id: Number(item.id),
    scope: String(item.scope),
    workspace: String(item.workspace),
    name: String(item.name),
    category: String(item.category),
    data: JSON.parse(String(item.dataJson ?? '{}')) as Record<string, unknown>,
    retainsArtifacts: item.retainsArtifacts as Collection['retainsArtifacts'],
    workflowId: item.workflowId === undefined || item.workflowId === null ? null : Number(item.workflowId),
    ...(typeof item.fullHistoryRetentionPeriod === 'number' ? { fullHistoryRetentionPeriod: item.fullHistoryRetentionPeriod } : {}),
    ...(typeof item.metadataOnlyRetentionPeriod === 'number' ? { metadataOnlyRetentionPeriod: item.metadataOnlyRetentionPeriod } : {}),
    createdAt: String(item.createdAt),
    version: Number(item.version),
  };
}

/**
 * gsi1 of an item's history row that links an artifact: `ARTLINKS#<artifact>` / `<collection16>#<item16>`,
 * so expiry finds every item (active or removed) that still links an artifact with one Query.
 */
export function artifactLinkIndex(i: Pick<CollectionItem, 'artifactId' | 'collectionId' | 'id'>): Item {
  if (i.artifactId === null) return {};
  return { gsi1pk: `ARTLINKS#${i.artifactId}`, gsi1sk: `${padId(i.collectionId)}#${padId(i.id)}` };
}

export const ITEM_RETENTION_SHARDS = 4;

/**
 * gsi3 of a removed item's history row: `ITEMRET#<collection % 4>` / `<next retention check>#<item16>`
 * (shared/adapters/dynamodb/item-retention-store.ts). Written at removal with the removal time; the
 * expiry pass moves it along its collection's retention periods, and removes it when nothing more
 * will happen to the item.
 */
export function itemRetentionIndex(item: Pick<CollectionItem, 'collectionId' | 'id'>, checkAt: string): { gsi3pk: string; gsi3sk: string } {
  return { gsi3pk: `ITEMRET#${item.collectionId % ITEM_RETENTION_SHARDS}`, gsi3sk: `${new Date(checkAt).toISOString()}#${padId(item.id)}` };
}

function notCondemned(tableName: string, artifactId: number): TransactItem {
  return {
    ConditionCheck: {
      TableName: tableName,
      Key: keys.artifact(artifactId),
      ConditionExpression: 'attribute_not_exists(#condemnedAt)',
      ExpressionAttributeNames: names('condemnedAt'),
    },
  };
}

/** Stored attributes of an item; null references and removal fields are not stored. */
export function itemAttributes(i: CollectionItem): Item {
  return compact({
    ...pickFields(i, ['id', 'collectionId', 'name', 'childType', 'category']),
    artifactId: i.artifactId ?? undefined,
    collectionRef: i.collectionRef ?? undefined,
    dataJson: JSON.stringify(i.data ?? {}),
    ...pickFields(i, ['createdAt', 'createdBy']),
    removedAt: i.removedAt ?? undefined,
    removedBy: i.removedBy ?? undefined,
  });
}

export function toItem(item: Item): CollectionItem {
  const optionalNumber = (v: unknown) => (v === undefined || v === null ? null : Number(v));
  const optionalString = (v: unknown) => (v === undefined || v === null ? null : String(v));
  return {
    id: Number(item.id),
    collectionId: Number(item.collectionId),
    name: String(item.name),
    childType: item.childType as CollectionItem['childType'],
    category: String(item.category),
    artifactId: optionalNumber(item.artifactId),
    collectionRef: optionalNumber(item.collectionRef),
    data: JSON.parse(String(item.dataJson ?? '{}')) as Record<string, unknown>,
    createdAt: String(item.createdAt),
    createdBy: String(item.createdBy),
    removedAt: optionalString(item.removedAt),
    removedBy: optionalString(item.removedBy),
  };
}
