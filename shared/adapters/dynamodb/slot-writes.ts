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

/** The gsi3 attributes that put a worker in the free-slot index. */
export function freeSlotIndexAttributes(name: string): { gsi3pk: string; gsi3sk: string } {
  return { gsi3pk: indexKeys.freeSlots(freeSlotShard(name)), gsi3sk: name };
}

/**
 * `assigned + 1`, on an enabled worker under its concurrency. When the caller's read says this
 * fills the last slot, the entry is removed too, on condition that the worker is at least as full
 * as read (assigned not lower, concurrency not higher): otherwise a slot freed since would be lost.
 */
export function takeSlot(tableName: string, slot: SlotChange): SlotWrite {
  const worker = slot.worker;
  const fills = slot.seen !== undefined && takeFillsLastSlot(slot.seen);
  const values: Record<string, unknown> = { ':one': 1, ':true': true };
  let condition = 'attribute_exists(#pk) AND #enabled = :true AND #assigned < #concurrency';
  if (fills) {
    condition += ' AND #assigned >= :seenAssigned AND #concurrency <= :seenConcurrency';
    values[':seenAssigned'] = slot.seen!.assigned;
    values[':seenConcurrency'] = slot.seen!.concurrency;
  }
  return {
    item: {
      Update: {
        TableName: tableName,
        Key: keys.worker(worker),
        UpdateExpression: `SET #assigned = #assigned + :one${fills ? ' REMOVE #gsi3pk, #gsi3sk' : ''}`,
        ConditionExpression: condition,
        ExpressionAttributeNames: names('pk', 'assigned', 'enabled', 'concurrency', ...(fills ? ['gsi3pk', 'gsi3sk'] : [])),
        ExpressionAttributeValues: values,
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    },
    conflict: (old) => {
      if (!old) return new ConflictError('Worker not found', `worker "${worker}" does not exist`);
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
export function giveBackSlot(tableName: string, worker: string): SlotWrite {
  const index = freeSlotIndexAttributes(worker);
  return {
    item: {
      Update: {
        TableName: tableName,
        Key: keys.worker(worker),
        UpdateExpression: 'SET #assigned = #assigned - :one, #gsi3pk = :freePk, #gsi3sk = :freeSk',
        ConditionExpression: 'attribute_exists(#pk) AND #assigned > :zero',
        ExpressionAttributeNames: names('pk', 'assigned', 'gsi3pk', 'gsi3sk'),
        ExpressionAttributeValues: { ':one': 1, ':zero': 0, ':freePk': index.gsi3pk, ':freeSk': index.gsi3sk },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    },
    conflict: (old) =>
      old
        ? new ConflictError('Worker holds no slot', `worker "${worker}" has no slot in use to give back`)
        : new ConflictError('Worker not found', `worker "${worker}" does not exist`),
  };
}
