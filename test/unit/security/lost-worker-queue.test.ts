/** Finding 8: a worker's queue that was lost is created again when the worker asks for its channel. */
import { workerQueueAccess } from '../../../shared/app/workers';
import { createSchedulingWorld } from '../../support/scheduling';

it('GET worker/queue/ re-creates a lost queue', async () => {
  const world = await createSchedulingWorld();
  const worker = await world.addWorker('w.lan');
  const url = 'memory://queues/conveyor-worker-w-lan';
  expect(world.deps.workerChannels.queues.has(url)).toBe(true);
  world.deps.workerChannels.queues.delete(url); // the emulator restarted without it, or someone deleted it
  const access = await workerQueueAccess(world.deps, await worker.caller());
  expect(access.queueUrl).toBe(url);
  expect(world.deps.workerChannels.queues.has(url)).toBe(true);
});
