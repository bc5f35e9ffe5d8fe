/**
 * The free-slot index: the workers a scheduling pass looks at. A pass reads this index instead of
 * every registered worker, so its reads grow with the workers that may take work, not with all of
 * them, and a pass with no free slot reads a few empty partitions.
 *
 * The index may hold a worker that cannot take work (a superset): a write adds the worker whenever
 * a slot may have become free (a slot given back, an update of a worker that looks eligible), and
 * removes it only when it knows for sure (a slot write that fills the last slot, an update that
 * makes it ineligible). The scheduler checks every entry it reads (`freeSlotVerdict`) and drops the
 * ones that cannot take work. A worker must never be missing while it can take work: that would
 * starve it (its own get-next still pulls work, but idle dispatch would skip it).
 */
import type { Worker } from './workers';
import { CONNECTION_TIMEOUT_MS } from './workers';

/**
 * Partitions of the index: a worker lives in shard `hash(name) % FREE_SLOT_SHARDS`, and every pass
 * queries each shard, so a pass with no free slot costs one Query per shard. One for now: each slot
 * taken or given back writes an entry, so one partition takes ≈ 250–500 requests/s (by worker item
 * size), about where the per-scope listing index (gsi1 `WRS#<scope>`) tops out anyway
 * (docs/scale.md). Raising it re-homes each worker on its next write, and readers query every
 * shard below it, so nothing is stranded; lowering it would strand entries.
 */
export const FREE_SLOT_SHARDS = 1;

export function freeSlotShard(name: string): number {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
  return h % FREE_SLOT_SHARDS;
}

/**
 * Whether the worker may be scheduled at all, apart from its slots and its last sign of life: enabled,
 * connected (hello said, goodbye not), and its machine ONLINE or QUIESCING (a pass visits a
 * quiescing machine so that it goes OFFLINE once its work is done).
 */
export function eligibleForWork(w: Pick<Worker, 'enabled' | 'connectedAt' | 'machineState'>): boolean {
  return w.enabled && w.connectedAt !== null && w.machineState !== 'OFFLINE';
}

/**
 * What a versioned update of the worker does to its entry. `assigned` on the updated object may be
 * stale (slot changes do not bump the version), so a full-looking worker keeps its entry as it is:
 * the slot writes own that case.
 */
export function freeSlotOnUpdate(w: Worker): 'add' | 'remove' | 'keep' {
  if (!eligibleForWork(w)) return 'remove';
  return w.assigned < w.concurrency ? 'add' : 'keep';
}

/**
 * How old a slot holder must be before the watchdog may give its slot back when its request does
 * not hold it (shared/adapters/dynamodb/plain-slot-commit.ts): longer than the longest function
 * timeout (900 s, shared/manifest.ts), so that no write of the commit that took it can still land.
 */
export const ORPHANED_SLOT_AFTER_MS = 20 * 60_000;

/** A slot +1 whose caller read the worker at `seen` removes the entry when it fills the last slot. */
export function takeFillsLastSlot(seen: { assigned: number; concurrency: number }): boolean {
  return seen.assigned + 1 >= seen.concurrency;
}

/**
 * What the scheduler does with an entry it read: use it, or drop it. A stale worker (no sign of life
 * for CONNECTION_TIMEOUT_MS) is also marked disconnected, so that its next request says hello again
 * and puts it back (see markSeen in shared/app/workers.ts).
 */
export type FreeSlotVerdict = 'usable' | 'stale' | 'full' | 'ineligible';

export function freeSlotVerdict(w: Worker, now: Date): FreeSlotVerdict {
  if (!eligibleForWork(w)) return 'ineligible';
  if (!w.lastSeenAt || now.getTime() - Date.parse(w.lastSeenAt) >= CONNECTION_TIMEOUT_MS) return 'stale';
  if (w.assigned >= w.concurrency) return 'full';
  return 'usable';
}
