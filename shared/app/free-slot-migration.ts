/**
 * Schema revision 0003: workers stored before the free-slot index existed have no entry in it, and a
 * scheduling pass no longer reads every worker, so an idle worker waiting on its queue would never
 * be offered work. Rewriting each enabled worker that may take work applies the index rule
 * (shared/domain/free-slots.ts) in its versioned update.
 */
import { freeSlotOnUpdate } from '../domain/free-slots';
import type { Deps } from '../ports';
import { ignoreConflict } from './concurrency';

export const freeSlotIndexMigration = {
  rev: '0003_free_slot_index',
  description: 'connected workers with a free slot are in the free-slot index that scheduling passes read',
  async upgrade(deps: Deps): Promise<number> {
    let changed = 0;
    for (const worker of await deps.workers.list()) {
      if (freeSlotOnUpdate(worker) !== 'add') continue;
      // A worker changed meanwhile went through the same rule in that change: nothing is lost.
      await deps.workers.update({ ...worker, version: worker.version + 1 }, worker.version).then(() => changed++, ignoreConflict);
    }
    return changed;
  },
  /** Earlier versions never read the index: its entries stay, unread, and are checked again on the next upgrade. */
  async downgrade(): Promise<number> {
    return 0;
  },
};
