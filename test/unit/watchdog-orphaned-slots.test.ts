/**
 * The watchdog's sweep of orphaned slots (plain-slot-commit.ts on DynamoDB): every tick asks the store
 * for the slots taken more than ORPHANED_SLOT_AFTER_MS ago, and wakes the scheduler when it freed one.
 */
import { ORPHANED_SLOT_AFTER_MS } from '../../shared/domain/free-slots';
import { FUNCTIONS } from '../../shared/manifest';
import { reclaimStale } from '../../shared/app/watchdog';
import { createSchedulingWorld } from '../support/scheduling';

it('asks for slots taken before now − 20 minutes, and sends a scheduler event only when some were given back', async () => {
  const w = await createSchedulingWorld();
  const asked: string[] = [];
  let released = 0;
  w.deps.workRequests.releaseOrphanedSlots = async (takenBefore) => (asked.push(takenBefore), released);
  const queue = w.deps.queues as unknown as { schedulerEvents: unknown[] };
  queue.schedulerEvents.length = 0;

  await reclaimStale(w.deps);
  expect(asked).toEqual([new Date(w.deps.clock.now().getTime() - ORPHANED_SLOT_AFTER_MS).toISOString()]);
  expect(queue.schedulerEvents).toEqual([]);

  released = 1;
  await reclaimStale(w.deps);
  expect(queue.schedulerEvents).toEqual([{ type: 'periodic' }]);
});

it('the memory store never leaves a slot orphaned: its commits are one atomic step', async () => {
  const w = await createSchedulingWorld();
  expect(await w.deps.workRequests.releaseOrphanedSlots(new Date().toISOString())).toBe(0);
});

it('is longer than the longest function timeout in the manifest, so no write of a commit in flight lands after it', () => {
  const longest = Math.max(...FUNCTIONS.map((f) => f.timeoutSeconds));
  expect(ORPHANED_SLOT_AFTER_MS).toBeGreaterThan(longest * 1000);
});
