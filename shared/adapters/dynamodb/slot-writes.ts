/**
 * The worker slot changes of a work-request commit (one Update of the worker item each, inside the
 * commit's transaction), and the worker's entry in the free-slot index (gsi3 `FREESLOTS#<shard>` /
 * `<name>`, shared/domain/free-slots.ts) that they keep in the same write.
 */
import type { TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import { ConflictError } from '../../domain/errors';
import { freeSlotShard, takeFillsLastSlot } from '../../domain/free-slots';
import type { SlotChange } from '../../ports';
import { type RawItem, rawBool, rawNumber } from './errors';
import { indexKeys, keys } from './keys';
import { names } from './support';

type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

export interface SlotWrite {
  item: TransactItem;
  conflict: (old: RawItem | undefined) => ConflictError;
}

/**
 * The attribute of the worker item that records which request holds one of its slots
 * (`slot#<work request id>` = when the slot was taken). A slot taken outside a transaction
 * (shared/adapters/dynamodb/plain-slot-commit.ts) is named by its holder, so that a slot whose
 * request write never landed, or whose give-back never ran, can be found and given back
 * (`releaseOrphanedSlots`), and a give-back never runs twice for the same holder.
 */
export const SLOT_HOLDER_PREFIX = 'slot#';

export function slotHolderAttribute(workRequestId: number): string {
  return `${SLOT_HOLDER_PREFIX}${workRequestId}`;
}

/** The gsi3 attributes that put a worker in the free-slot index. */
export function freeSlotIndexAttributes(name: string): { gsi3pk: string; gsi3sk: string } {
  return { gsi3pk: indexKeys.freeSlots(freeSlotShard(name)), gsi3sk: name };
}

/**
 * `assigned + 1`, on an enabled worker under its concurrency. When the caller's read says this
 * fills the last slot, the entry is removed too, on condition that the worker is at least as full
 * as read (assigned not lower, concurrency not higher): otherwise a slot freed since would be lost.
 */
export function takeSlot(tableName: string, slot: SlotChange, heldSince?: string): SlotWrite {
  const worker = slot.worker;
  const fills = slot.seen !== undefined && takeFillsLastSlot(slot.seen);
  const values: Record<string, unknown> = { ':one': 1, ':true': true };
  const attributeNames = names('pk', 'assigned', 'enabled', 'concurrency', ...(fills ? ['gsi3pk', 'gsi3sk'] : []));
  let condition = 'attribute_exists(#pk) AND #enabled = :true AND #assigned < #concurrency';
  let set = '#assigned = #assigned + :one';
  if (fills) {
    condition += ' AND #assigned >= :seenAssigned AND #concurrency <= :seenConcurrency';
    values[':seenAssigned'] = slot.seen!.assigned;
    values[':seenConcurrency'] = slot.seen!.concurrency;
  }
  const holder = slot.workRequestId !== undefined && heldSince !== undefined ? slotHolderAttribute(slot.workRequestId) : undefined;
  if (holder) {
    // One holder per request: a holder left behind by a write that died is released by the watchdog first.
    attributeNames['#holder'] = holder;
    values[':heldSince'] = heldSince;
    condition += ' AND attribute_not_exists(#holder)';
    set += ', #holder = :heldSince';
  }
  return {
    item: {
      Update: {
        TableName: tableName,
        Key: keys.worker(worker),
        UpdateExpression: `SET ${set}${fills ? ' REMOVE #gsi3pk, #gsi3sk' : ''}`,
        ConditionExpression: condition,
        ExpressionAttributeNames: attributeNames,
        ExpressionAttributeValues: values,
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    },
    conflict: (old) => {
      if (!old) return new ConflictError('Worker not found', `worker "${worker}" does not exist`);
      if (holder && old[holder] !== undefined) {
        return new ConflictError('Worker changed', `worker "${worker}" still holds a slot for work request ${slot.workRequestId}; try again later`);
      }
      if (rawBool(old, 'enabled') !== true) return new ConflictError('Worker disabled', `worker "${worker}" is disabled`);
      const assigned = rawNumber(old, 'assigned');
      const concurrency = rawNumber(old, 'concurrency');
      if (fills && assigned !== undefined && concurrency !== undefined && assigned < concurrency) {
        return new ConflictError('Worker changed', `worker "${worker}" has more free slots than read (${assigned} of ${concurrency} in use); reload and try again`);
      }
      return new ConflictError('Worker at capacity', `worker "${worker}" has no free slot (${assigned ?? '?'} of ${concurrency ?? '?'} in use)`);
    },
  };
}

/**
 * `assigned − 1` on a worker holding a slot. A slot is now free, so the worker (re-)enters the
 * free-slot index whatever else holds: the scheduler drops it again if it cannot take work.
 */
export function giveBackSlot(tableName: string, worker: string, holder?: { workRequestId: number; mustHold?: boolean; heldSince?: string }): SlotWrite {
  const index = freeSlotIndexAttributes(worker);
  const attributeNames = names('pk', 'assigned', 'gsi3pk', 'gsi3sk');
  const values: Record<string, unknown> = { ':one': 1, ':zero': 0, ':freePk': index.gsi3pk, ':freeSk': index.gsi3sk };
  let condition = 'attribute_exists(#pk) AND #assigned > :zero';
  let remove = '';
  if (holder) {
    // REMOVE of an absent attribute is a no-op: a slot taken before holders existed is given back alike.
    attributeNames['#holder'] = slotHolderAttribute(holder.workRequestId);
    remove = ' REMOVE #holder';
    if (holder.heldSince !== undefined) {
      condition += ' AND #holder = :heldSince';
      values[':heldSince'] = holder.heldSince;
    } else if (holder.mustHold) condition += ' AND attribute_exists(#holder)';
  }
  return {
    item: {
      Update: {
        TableName: tableName,
        Key: keys.worker(worker),
        UpdateExpression: `SET #assigned = #assigned - :one, #gsi3pk = :freePk, #gsi3sk = :freeSk${remove}`,
        ConditionExpression: condition,
        ExpressionAttributeNames: attributeNames,
        ExpressionAttributeValues: values,
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    },
    conflict: (old) =>
      old
        ? new ConflictError('Worker holds no slot', `worker "${worker}" has no slot in use to give back`)
        : new ConflictError('Worker not found', `worker "${worker}" does not exist`),
  };
}
