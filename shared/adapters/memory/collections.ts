/**
 * In-memory CollectionRepository with the conditions of the DynamoDB adapter: unique
 * (workspace, name, category), one active item per name, soft removal, all-or-nothing adds.
 */
import type { Collection, CollectionItem } from '../../domain/collections';
import { ConflictError } from '../../domain/errors';
import type { CollectionRepository } from '../../ports';
import { clone, byCodeUnit, pageAfterKey } from './paging';

export class MemoryCollectionRepository implements CollectionRepository {
  collections = new Map<number, Collection>();
  /** Every version of every item, by item id. */
  items = new Map<number, CollectionItem>();
  /** The retention index: removed item id → its next retention check (as the DynamoDB gsi3 `ITEMRET#`). */
  retentionChecks = new Map<number, string>();

  /** `isCondemned`: whether expiry condemned an artifact (then no item may link it). */
  constructor(private readonly isCondemned: (artifactId: number) => boolean = () => false) {}

  private nameKey(c: Pick<Collection, 'scope' | 'workspace' | 'name' | 'category'>) {
    return `${c.scope}\u0000${c.workspace}\u0000${c.category}\u0000${c.name}`;
  }

  async create(collection: Collection) {
    if (this.collections.has(collection.id)) throw new ConflictError('Collection exists', `collection ${collection.id} already exists`);
    const key = this.nameKey(collection);
    if ([...this.collections.values()].some((c) => this.nameKey(c) === key)) {
      throw new ConflictError(
        'Collection exists',
        `workspace "${collection.workspace}" already has a collection "${collection.name}@${collection.category}"`,
      );
    }
    this.collections.set(collection.id, clone(collection));
  }
  async get(id: number) {
    return clone(this.collections.get(id));
  }
  async getByName(scope: string, workspace: string, name: string, category: string) {
    const key = this.nameKey({ scope, workspace, name, category });
    return clone([...this.collections.values()].find((c) => this.nameKey(c) === key));
  }
  async list(scope: string, workspace: string) {
    return [...this.collections.values()]
      .filter((c) => c.scope === scope && c.workspace === workspace)
      .sort((a, b) => byCodeUnit(a.name, b.name) || byCodeUnit(a.category, b.category))
      .map(clone);
  }
  private active(collectionId: number, name: string): CollectionItem | undefined {
    for (const i of this.items.values()) if (i.collectionId === collectionId && i.name === name && i.removedAt === null) return i;
    return undefined;
  }
  async addItem(item: CollectionItem, opts: { replace: boolean }) {
    if (this.items.has(item.id)) throw new ConflictError('Item exists', `collection item ${item.id} already exists`);
    if (item.artifactId !== null && this.isCondemned(item.artifactId)) {
      throw new ConflictError('Artifact is expiring', `artifact ${item.artifactId} has expired and is being deleted`);
    }
    const old = this.active(item.collectionId, item.name);
    if (old && !opts.replace) {
      throw new ConflictError('Item exists', `collection ${item.collectionId} already has an active item named "${item.name}"`);
    }
    if (old) {
      old.removedAt = item.createdAt;
      old.removedBy = item.createdBy;
      this.retentionChecks.set(old.id, item.createdAt);
    }
    this.items.set(item.id, clone(item));
  }
  async removeItem(collectionId: number, name: string, at: string, by: string) {
    const old = this.active(collectionId, name);
    if (!old) return undefined;
    old.removedAt = at;
    old.removedBy = by;
    this.retentionChecks.set(old.id, at);
    return clone(old);
  }
  async activeItem(collectionId: number, name: string) {
    return clone(this.active(collectionId, name));
  }
  async listPage(scope: string, workspace: string, opts: { limit: number; cursor?: string; category?: string }) {
    const mine = [...this.collections.values()].filter(
      (c) => c.scope === scope && c.workspace === workspace && (opts.category === undefined || c.category === opts.category),
    );
    return pageAfterKey(mine, (c) => `${c.category}#${c.name}`, opts.limit, opts.cursor);
  }
  async activeItemsPage(collectionId: number, opts: { limit: number; cursor?: string }) {
    const active = [...this.items.values()].filter((i) => i.collectionId === collectionId && i.removedAt === null);
    return pageAfterKey(active, (i) => i.name, opts.limit, opts.cursor);
  }
  async activeItems(collectionId: number) {
    return [...this.items.values()]
      .filter((i) => i.collectionId === collectionId && i.removedAt === null)
      .sort((a, b) => a.id - b.id)
      .map(clone);
  }
  /** Every version of the collection's items, removed ones included, by id (as the DynamoDB adapter's `history`). */
  async history(collectionId: number) {
    return [...this.items.values()]
      .filter((i) => i.collectionId === collectionId)
      .sort((a, b) => a.id - b.id)
      .map(clone);
  }
}
