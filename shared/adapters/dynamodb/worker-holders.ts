/**
 * A worker's active requests (assigned to it, pending or running) read from its slot holders
 * (`slot#<id>` on the worker item, slot-writes.ts) instead of a per-worker index: the slot writes
 * that every assignment and finish already make keep the holders, so a request's own writes no
 * longer carry a gsi2 `WORKERWR#` entry (3 write units per request: added, rewritten, removed).
 *
 * Read: a consistent GetItem of the worker item (none when the caller passes the worker it has just
 * read: get-next's authentication), then a consistent BatchGetItem of its holders,
 * keeping those still assigned to the worker and not finished (a holder outlives its request's
 * finish by one write, and a holder left by a write that died is the watchdog's: plain-slot-commit.ts).
 *
 * Data written before (docs/decisions.md, "Active requests from slot holders"): a slot taken before
 * holders existed counts in `assigned` with no holder. While `assigned` exceeds the holders, the
 * legacy gsi2 `WORKERWR#<worker>` partition is queried too, and each request found there that is
 * still active on the worker without a holder is given one (a transaction: the request still
 * assigned to the worker and active, the holder absent), so the legacy slot is named from then on
 * and the request stays found after its next Put drops its gsi2 key.
 */
import { type DynamoDBDocumentClient, GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { WorkRequest } from '../../domain/work-requests';
import { attempt } from './errors';
import { GSI2, indexKeys, keys } from './keys';
import { SLOT_HOLDER_PREFIX, slotHolderAttribute } from './slot-writes';
import { type Item, names, queryAll } from './support';

/** Whether `wr` holds one of `worker`'s slots by its state: assigned to it and not finished. */
export function activeOn(wr: WorkRequest, worker: string): boolean {
  return wr.worker === worker && (wr.status === 'pending' || wr.status === 'running');
}

/** The ids named by the holders of a worker item. */
export function holderIds(workerItem: Item): number[] {
  return Object.keys(workerItem)
    .filter((attribute) => attribute.startsWith(SLOT_HOLDER_PREFIX))
    .map((attribute) => Number(attribute.slice(SLOT_HOLDER_PREFIX.length)));
}

/** The worker items behind the Worker objects read (toWorker): a caller that has just read its worker spares a read. */
const itemsRead = new WeakMap<object, Item>();

export function rememberItem<T extends object>(worker: T, item: Item): T {
  itemsRead.set(worker, item);
  return worker;
}

export async function activeFromHolders(
  doc: DynamoDBDocumentClient,
  tableName: string,
  worker: string,
  read: { many: (ids: number[]) => Promise<WorkRequest[]>; item: (item: Item) => WorkRequest; worker?: object; finished?: number | undefined },
): Promise<WorkRequest[]> {
  const known = read.worker && itemsRead.get(read.worker);
  const workerItem =
    known?.name === worker ? known : (await doc.send(new GetCommand({ TableName: tableName, Key: keys.worker(worker), ConsistentRead: true }))).Item;
  const held = workerItem ? holderIds(workerItem) : [];
  const legacySlots = !workerItem || Number(workerItem.assigned ?? 0) > held.length;
  // The request the caller has just finished is not active: its holder (still on a worker item read
  // before that finish) counts for the legacy check above, but the request is not read (a completion
  // pulling its next request spares a BatchGetItem when it held the worker's only slot).
  const toRead = held.filter((id) => id !== read.finished);
  const [fromHolders, legacy] = await Promise.all([read.many(toRead), legacySlots ? legacyIndexed(doc, tableName, worker) : []]);
  const found = new Map(fromHolders.filter((wr) => activeOn(wr, worker)).map((wr) => [wr.id, wr]));
  for (const item of legacy) {
    const wr = read.item(item);
    if (found.has(wr.id) || wr.id === read.finished || !activeOn(wr, worker)) continue;
    found.set(wr.id, wr);
    if (workerItem) await adoptLegacySlot(doc, tableName, wr);
  }
  return [...found.values()].sort((a, b) => a.id - b.id);
}

/** gsi2 `WORKERWR#<worker>` (eventually consistent): written by the code before holders. */
function legacyIndexed(doc: DynamoDBDocumentClient, tableName: string, worker: string): Promise<Item[]> {
  return queryAll(doc, {
    TableName: tableName,
    IndexName: GSI2,
    KeyConditionExpression: 'gsi2pk = :pk',
    ExpressionAttributeValues: { ':pk': indexKeys.workerActive(worker) },
  });
}

/**
 * Names the legacy slot of `wr` by its holder. A request assigned to a worker and active holds one
 * of its slots; one without a holder can only hold a slot taken before holders (a take since records
 * its holder first), so the holder names a slot already counted, and `assigned` is left alone. A lost
 * race (the request finished or moved, or a holder appeared) fails a condition and changes nothing.
 */
async function adoptLegacySlot(doc: DynamoDBDocumentClient, tableName: string, wr: WorkRequest): Promise<void> {
  await attempt(() =>
    doc.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            ConditionCheck: {
              TableName: tableName,
              Key: keys.workRequest(wr.id),
              ConditionExpression: '#worker = :w AND #status IN (:p, :r)',
              ExpressionAttributeNames: names('worker', 'status'),
              ExpressionAttributeValues: { ':w': wr.worker, ':p': 'pending', ':r': 'running' },
            },
          },
          {
            Update: {
              TableName: tableName,
              Key: keys.worker(wr.worker!),
              UpdateExpression: 'SET #h = :t',
              ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(#h)',
              ExpressionAttributeNames: { '#h': slotHolderAttribute(wr.id) },
              ExpressionAttributeValues: { ':t': wr.assignedAt ?? wr.createdAt },
            },
          },
        ],
      }),
    ),
  ).catch(() => undefined); // best effort: the next read tries again
}
