/**
 * A recurring git-import job whose first run is released, scheduled and started on a worker: the
 * starting point of the tests of what happens to a run once its work request runs.
 */
import { createRecurringJob } from '../../shared/app/recurring-jobs';
import { releaseDueRuns } from '../../shared/app/recurring-release';
import { schedule } from '../../shared/app/scheduler';
import { getNextForWorker } from '../../shared/app/workers';
import { AMD64_METADATA, type SchedulingWorld } from './scheduling';

export async function startGitImportRun(world: SchedulingWorld) {
  const worker = await world.addWorker('bee.lan', { metadata: AMD64_METADATA });
  const j = await createRecurringJob(world.deps, await world.caller('owner'), { scope: 'debusine', workspace: 'priv', kind: 'git-import', target: { url: 'file:///srv/git/r.git' }, updateInterval: 3600 });
  await releaseDueRuns(world.deps);
  await schedule(world.deps);
  const wr = (await getNextForWorker(world.deps, await worker.caller()))!;
  return { j, wr, worker };
}
