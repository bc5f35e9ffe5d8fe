/** Drives workflows in memory: scheduler passes, orchestrator messages and scripted workers. */
import { orchestrate } from '../../shared/app/workflow-orchestration';
import { schedule } from '../../shared/app/scheduler';
import { completeWorkRequest, getNextForWorker } from '../../shared/app/workers';
import { createArtifact } from '../../shared/app/artifacts';
import type { FinalResult, WorkRequest } from '../../shared/domain/work-requests';
import type { SchedulingWorld } from './scheduling';

export type Script = (wr: WorkRequest, worker: Awaited<ReturnType<SchedulingWorld['addWorker']>>) => Promise<FinalResult>;

/** Default worker behaviour: mkdeb makes a binary package, lintian a report; everything succeeds. */
export const defaultScript =
  (w: SchedulingWorld): Script =>
  async (wr, worker) => {
    const caller = await worker.caller();
    if (wr.taskName === 'mkdeb') {
      await createArtifact(w.deps, caller, {
        scope: wr.scope,
        workspace: wr.workspace,
        category: 'debian:binary-package',
        data: { architecture: wr.taskData['architecture'], deb_fields: { Package: wr.taskData['package'], Architecture: wr.taskData['architecture'] } },
        files: {},
        workRequest: wr.id,
      });
    }
    if (wr.taskName === 'lintian') {
      await createArtifact(w.deps, caller, {
        scope: wr.scope,
        workspace: wr.workspace,
        category: 'debian:lintian',
        data: { summary: { tags_count_by_severity: { error: 0, warning: 1 } }, inputs: wr.dynamicTaskData },
        files: {},
        workRequest: wr.id,
      });
    }
    return 'success';
  };

/** Runs the system until nothing moves: orchestrator messages first (FIFO), then scheduling, then workers. */
export async function drive(w: SchedulingWorld, workers: Awaited<ReturnType<SchedulingWorld['addWorker']>>[], script: Script, maxRounds = 100): Promise<void> {
  for (let round = 0; round < maxRounds; round++) {
    let moved = false;
    while (w.deps.queues.orchestration.length) {
      moved = true;
      await orchestrate(w.deps, w.deps.queues.orchestration.shift()!);
    }
    const summary = await schedule(w.deps);
    if (summary.assigned.length || summary.completed.length || summary.started.length) moved = true;
    for (const worker of workers) {
      const wr = await getNextForWorker(w.deps, await worker.caller());
      if (!wr) continue;
      moved = true;
      const result = await script(wr, worker);
      await completeWorkRequest(w.deps, await worker.caller(), wr.id, { result });
    }
    if (!moved) return;
  }
  throw new Error('the system did not settle');
}
