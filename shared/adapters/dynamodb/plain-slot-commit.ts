/**
 * A work-request commit of one request and its own worker slot, written as two plain conditional
 * writes instead of one TransactWriteItems (a transaction bills every item twice: assignment and
 * completion of a noop request drop from 14 + 16 to 7 + 9 write units, bench/RESULTS-writes.md).
 *
 * The order keeps the worker's slot rule without the transaction:
 * - taking a slot (assignment): the worker's `assigned + 1` first, which also records the holder
 *   (`slot#<id>` = assignedAt, slot-writes.ts), then the request's versioned Put. When the Put's
 *   condition fails the slot is given back (only if this holder still holds it). Between the two
 *   writes the worker counts one slot more than it runs: never fewer, so it never runs more than its
 *   concurrency, and a request goes to one worker at most (the versioned Put decides).
 * - giving a slot back on a finish (completion, abort): the request's versioned Put first, then
 *   `assigned − 1` with the holder removed. Between the two the worker counts one slot too many.
 *
 * A function that dies between the two writes (or loses the answer to one) leaves a slot taken that
 * no request holds: `releaseOrphanedSlots` (the watchdog, every minute) gives it back once its holder
 * is older than ORPHANED_SLOT_AFTER_MS (longer than any function may run, so the second write of a
 * commit still under way can never land after it) and the request does not hold it. Commits of other
 * shapes (several requests, creations, child progress, unassignments) stay one transaction.
 */
import { type DynamoDBDocumentClient, PutCommand, type TransactWriteCommandInput, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { ConflictError } from '../../domain/errors';
import { childProgressDeltas } from '../../domain/child-progress';
import { isFinished, type WorkRequest } from '../../domain/work-requests';
import type { WorkRequestChanges } from '../../ports';
import { attempt, failedAt, type RawItem, rawNumber, rawString } from './errors';
import { indexKeys } from './keys';
import { giveBackSlot, SLOT_HOLDER_PREFIX, slotHolderAttribute, takeSlot } from './slot-writes';
import { listedWorkerItems } from './worker-listing';
import { activeOn } from './worker-holders';

type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

export interface RequestWrite {
  /** The versioned Put of the request, as the transaction would have carried it. */
  item: TransactItem;
  conflict: (old: RawItem | undefined) => ConflictError;
}

/**
 * Whether `changes` is one request and its own slot and nothing else: an assignment (+1), a request
 * created already assigned (+1, create-offer.ts), or a finish that gives the slot back (-1) of a
 * request outside any workflow (a child's finish also counts in its workflow's progress: three items,
 * one transaction). Unassignments stay transactions.
 */
export function writtenInTwoSteps(changes: WorkRequestChanges): boolean {
  const updates = changes.update ?? [];
  const creates = changes.create ?? [];
  const [slot, ...moreSlots] = changes.slots ?? [];
  if (!slot || moreSlots.length > 0 || updates.length + creates.length !== 1) return false;
  if ((changes.addReverseDependencies ?? []).length + (changes.removeReverseDependencies ?? []).length > 0) return false;
  const wr = writtenRequest(changes);
  if (slot.workRequestId !== wr.id || childProgressDeltas(creates, updates).size > 0 || (creates.length > 0 && wr.parent !== null)) return false;
  if (slot.delta === 1) return wr.worker === slot.worker && wr.assignedAt !== null;
  return updates[0]?.finishes === true && isFinished(wr);
}

/** The one request of a commit that `writtenInTwoSteps` accepted. */
const writtenRequest = (changes: WorkRequestChanges): WorkRequest => changes.update?.[0]?.workRequest ?? changes.create![0]!;

/**
 * Whether a create that failed its condition had landed already (an earlier attempt of the same Put whose
 * answer was lost, retried by the client): a new request's id is written by no one else.
 */
function ownCreateLanded(changes: WorkRequestChanges, old: RawItem | undefined): boolean {
  const created = changes.create?.[0];
  return created !== undefined && old !== undefined && rawString(old, 'worker') === created.worker && rawString(old, 'assignedAt') === created.assignedAt;
}

/** Writes a commit that `writtenInTwoSteps` accepted; throws the ConflictError of the write that failed. */
export async function writeInTwoSteps(doc: DynamoDBDocumentClient, tableName: string, changes: WorkRequestChanges, request: RequestWrite): Promise<void> {
  const slot = changes.slots![0]!;
  const wr = writtenRequest(changes);
  const putRequest = () => attempt(() => doc.send(new PutCommand({ ...request.item.Put!, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' })));
  if (slot.delta === 1) {
    const heldSince = wr.assignedAt!;
    const take = takeSlot(tableName, slot, heldSince);
    const taken = await attempt(() => doc.send(new UpdateCommand(take.item.Update!)));
    if (!taken.ok) throw take.conflict(failedAt(taken)?.item);
    // An error other than a failed condition propagates with the slot still held: the Put may have
    // landed, and only releaseOrphanedSlots (which reads the request) may decide.
    const put = await putRequest();
    if (put.ok || ownCreateLanded(changes, failedAt(put)?.item)) return;
    const back = giveBackSlot(tableName, slot.worker, { workRequestId: wr.id, heldSince });
    await attempt(() => doc.send(new UpdateCommand(back.item.Update!))).catch(() => undefined); // else releaseOrphanedSlots
    throw request.conflict(failedAt(put)?.item);
  }
  const put = await putRequest();
  if (!put.ok) throw request.conflict(failedAt(put)?.item);
  // The request is finished and stored: whatever happens to the give-back, the commit succeeded
  // (a failure leaves the slot to releaseOrphanedSlots).
  await giveBack(doc, tableName, slot.worker, wr.id).catch(() => undefined);
}

/**
 * `assigned − 1` removing this request's holder. A slot taken before holders existed (or by a
 * transaction without a request id) has none: it is given back all the same, as the request that
 * held it has just finished (releaseOrphanedSlots never gives back the slot of a request that
 * finished less than ORPHANED_SLOT_AFTER_MS ago, so it cannot have done it already).
 */
async function giveBack(doc: DynamoDBDocumentClient, tableName: string, worker: string, workRequestId: number): Promise<void> {
  const held = giveBackSlot(tableName, worker, { workRequestId, mustHold: true });
  const outcome = await attempt(() => doc.send(new UpdateCommand(held.item.Update!)));
  const old = failedAt(outcome)?.item;
  if (outcome.ok || !old || old[slotHolderAttribute(workRequestId)] !== undefined || (rawNumber(old, 'assigned') ?? 0) <= 0) return;
  const legacy = giveBackSlot(tableName, worker, { workRequestId });
  await attempt(() => doc.send(new UpdateCommand(legacy.item.Update!)));
}

/** Whether `wr` (read consistently) holds a slot of `worker` whose holder was taken at `heldSince`. */
function holdsSlot(wr: WorkRequest | undefined, worker: string, takenBefore: string): boolean {
  if (!wr) return false;
  if (activeOn(wr, worker)) return true;
  // Finished lately: its own give-back may still be under way.
  return isFinished(wr) && wr.completedAt !== null && wr.completedAt >= takenBefore;
}

/**
 * The watchdog's sweep: every enabled worker's holders taken before `takenBefore` (gsi1 `WORKERS`
 * and the worker items, worker-listing.ts), each checked against its request (consistent GetItem),
 * and given back on condition that the holder is still the one read. Returns how many were given back.
 * Cost per tick: one Query, one BatchGetItem per 100 workers, and one GetItem per slot held longer
 * than the bound (a long-running request).
 */
export async function releaseOrphanedSlots(
  doc: DynamoDBDocumentClient,
  tableName: string,
  takenBefore: string,
  readRequest: (id: number) => Promise<WorkRequest | undefined>,
): Promise<number> {
  const workers = await listedWorkerItems(doc, tableName, indexKeys.workers());
  let released = 0;
  for (const worker of workers) {
    for (const [attribute, heldSince] of Object.entries(worker)) {
      if (!attribute.startsWith(SLOT_HOLDER_PREFIX) || typeof heldSince !== 'string' || heldSince >= takenBefore) continue;
      const id = Number(attribute.slice(SLOT_HOLDER_PREFIX.length));
      const name = String(worker.name);
      if (holdsSlot(await readRequest(id), name, takenBefore)) continue;
      // The index lags, but the condition does not: a holder gone or taken again since fails it. The
      // request cannot come to hold the slot meanwhile: taking it again needs this holder gone.
      const back = giveBackSlot(tableName, name, { workRequestId: id, heldSince });
      if ((await attempt(() => doc.send(new UpdateCommand(back.item.Update!)))).ok) released++;
    }
  }
  return released;
}
