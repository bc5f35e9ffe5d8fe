/**
 * docs/security.md, "What each token can do": disabling a worker refuses its token at once and gives
 * its work back (what it was running is reclaimed and retried; what it had not started is unassigned),
 * so that another worker runs it.
 */
import { schedule } from '../../../shared/app/scheduler';
import { disableWorker, getNextForWorker } from '../../../shared/app/workers';
import { ForbiddenError } from '../../../shared/domain/errors';
import { createSchedulingWorld } from '../../support/scheduling';

it("a disabled worker's token is refused at once, and its running and assigned requests go to another worker", async () => {
  const w = await createSchedulingWorld();
  const bee = await w.addWorker('bee.lan', { concurrency: 2 });
  const running = await w.submit('noop');
  const assigned = await w.submit('noop');
  await schedule(w.deps);
  expect((await getNextForWorker(w.deps, await bee.caller()))?.id).toBe(running.id);
  const before = (await w.deps.workRequests.get(assigned.id))!;
  expect(before).toMatchObject({ status: 'pending', worker: bee.name });

  await disableWorker(w.deps, 'user:admin', bee.name);
  await expect(bee.caller()).rejects.toBeInstanceOf(ForbiddenError);
  const reclaimed = (await w.deps.workRequests.get(running.id))!;
  expect(reclaimed).toMatchObject({ status: 'aborted', outputData: { errors: [expect.objectContaining({ code: 'worker-failed', message: `worker ${bee.name} was disabled` })] } });
  const successor = (await w.deps.workRequests.get(reclaimed.supersededBy!))!;
  expect(successor).toMatchObject({ status: 'pending', worker: null });
  expect((await w.deps.workRequests.get(assigned.id))!).toMatchObject({ status: 'pending', worker: null });
  expect((await w.deps.workers.get(bee.name))!).toMatchObject({ enabled: false, assigned: 0 });

  const wasp = await w.addWorker('wasp.lan', { concurrency: 2 });
  const given = (await schedule(w.deps)).assigned;
  expect(given.map((a) => a.workRequestId).sort()).toEqual([successor.id, assigned.id].sort());
  expect(given.every((a) => a.worker === wasp.name)).toBe(true);
});
