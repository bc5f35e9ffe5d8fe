/**
 * The work-request side of expiry in the main table (docs/data-model.md, "Expiry"):
 * - the work-request expiry index: a finished root's `WR#<id>` / `EXPIRY` item carries gsi3
 *   `WREXP#<id % 4>` / `<check time>#<id16>`; written when the root is stored finished (conditional
 *   on its absence, so a pass's later check time stays), moved or removed by the pass;
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

export function rootExpiryKey(rootId: number) {
  return { pk: workRequestPk(rootId), sk: 'EXPIRY' };
}

export function rootExpiryEntry(rootId: number, checkAt: string) {
  return {
    ...rootExpiryKey(rootId),
    entity: 'workRequestExpiry',
    rootId,
    gsi3pk: `${WORK_REQUEST_EXPIRY_PREFIX}${rootId % WORK_REQUEST_EXPIRY_SHARDS}`,
    gsi3sk: `${new Date(checkAt).toISOString()}#${padId(rootId)}`,
  };
}

/** Puts the index entry of each finished root among `requests` unless it has one (a pass may have moved it). */
export async function writeRootExpiryEntries(doc: DynamoDBDocumentClient, tableName: string, requests: WorkRequest[]): Promise<void> {
  for (const wr of requests) {
    if (wr.parent !== null || !isFinished(wr)) continue;
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
