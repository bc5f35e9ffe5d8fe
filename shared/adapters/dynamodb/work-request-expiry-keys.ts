/**
 * The work-request side of expiry in the main table (docs/data-model.md, "Expiry"):
 * - the work-request expiry index: a finished root's own item (`WR#<id>` / `W`) carries gsi3
 *   `WREXP#<id % 4>` / `<check time>#<id16>` (`rootExpiryIndexAttributes`, part of every write of the
 *   request: the completion that finishes it replaces its `RUNNING#` key in the same write, no item of
 *   its own); the pass moves or removes it on the request item. Tables written before that hold the
 *   entry as an item of its own, `WR#<id>` / `EXPIRY` (`rootExpiryEntry`, "legacy": still read, moved
 *   and removed where it is, and written by the backfill for rows without the key);
 * - item references: `WR#<id>` / `ITEMREF#<collection16>#<item16>`, one per collection item whose
 *   creator or remover is `workflow:<id>`, written with the item (or its removal), so the pass can
 *   tell with one Query whether an item outside the tree's internal collection names a request.
 */
import { PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { CollectionItem } from '../../domain/collections';
import { isFinished, type WorkRequest } from '../../domain/work-requests';
import { attempt } from './errors';
import { padId, workRequestPk } from './keys';
import { names } from './support';

export const WORK_REQUEST_EXPIRY_SHARDS = 4;
export const WORK_REQUEST_EXPIRY_PREFIX = 'WREXP#';
export const ITEM_REFERENCES = 'ITEMREF#';

/** The gsi3 key of a root's entry in the work-request expiry index, checked at `checkAt`. */
export function rootExpiryIndexKey(rootId: number, checkAt: string): { gsi3pk: string; gsi3sk: string } {
  return {
    gsi3pk: `${WORK_REQUEST_EXPIRY_PREFIX}${rootId % WORK_REQUEST_EXPIRY_SHARDS}`,
    gsi3sk: `${new Date(checkAt).toISOString()}#${padId(rootId)}`,
  };
}

/**
 * The entry a finished root's own item carries when written (first checked at its completion), or
 * undefined for a request that is not a finished root. A later write of the finished root puts it
 * back at its completion time: the pass then looks once more, sooner than it asked (harmless).
 */
export function rootExpiryIndexAttributes(wr: WorkRequest): { gsi3pk: string; gsi3sk: string } | undefined {
  if (wr.parent !== null || !isFinished(wr)) return undefined;
  return rootExpiryIndexKey(wr.id, wr.completedAt ?? wr.createdAt);
}

/** The key of a legacy entry item (before the entry moved onto the request item). */
export function rootExpiryKey(rootId: number) {
  return { pk: workRequestPk(rootId), sk: 'EXPIRY' };
}

/** A legacy entry item: still written by the backfill for rows that carry no entry, and by a pass moving a legacy entry. */
export function rootExpiryEntry(rootId: number, checkAt: string) {
  return { ...rootExpiryKey(rootId), entity: 'workRequestExpiry', rootId, ...rootExpiryIndexKey(rootId, checkAt) };
}

/** The backfill: a legacy entry for a finished root whose row carries none (written before either form existed). */
export async function writeLegacyRootExpiryEntry(doc: DynamoDBDocumentClient, tableName: string, wr: WorkRequest, rowGsi3pk: unknown): Promise<void> {
  if (!rootExpiryIndexAttributes(wr) || String(rowGsi3pk).startsWith(WORK_REQUEST_EXPIRY_PREFIX)) return;
  await attempt(() =>
    doc.send(
      new PutCommand({
        TableName: tableName,
        Item: rootExpiryEntry(wr.id, wr.completedAt ?? wr.createdAt),
        ConditionExpression: 'attribute_not_exists(#pk)',
        ExpressionAttributeNames: names('pk'),
      }),
    ),
  );
}

/** The workflow a `workflow:<id>` creator or remover names, or undefined for a user. */
function workflowOf(by: string | null): number | undefined {
  const m = by === null ? null : /^workflow:(\d+)$/.exec(by);
  return m ? Number(m[1]) : undefined;
}

/** The reference markers of an item whose creator (and, once removed, remover) is a workflow. */
export function itemReferenceMarkers(item: Pick<CollectionItem, 'collectionId' | 'id' | 'createdBy' | 'removedBy'>) {
  const workflows = new Set([workflowOf(item.createdBy), workflowOf(item.removedBy)].filter((w): w is number => w !== undefined));
  return [...workflows].map((wf) => ({
    pk: workRequestPk(wf),
    sk: `${ITEM_REFERENCES}${padId(item.collectionId)}#${padId(item.id)}`,
    entity: 'itemReference',
    collectionId: item.collectionId,
    itemId: item.id,
  }));
}
