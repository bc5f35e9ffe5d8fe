/**
 * Recurring runs survive a process dying between two writes (memory adapters, crashes injected into the
 * job repository): a run whose work request finished without the finish hook is finished by the reconcile
 * pass of the tick, exactly once; a workflow run whose tick died after starting the workflow is not
 * started twice, by a retried tick or by two racing ones.
 */
import { createSchedulingWorld, AMD64_METADATA, type SchedulingWorld } from '../support/scheduling';
import { startGitImportRun } from '../support/recurring';
import { createRecurringJob } from '../../shared/app/recurring-jobs';
import { recurringRunFinished } from '../../shared/app/recurring-runs';
import { releaseAnyRun, releaseDueRuns } from '../../shared/app/recurring-release';
import { reconcileRecurringRuns, RECURRING_RECONCILE_AFTER_MS } from '../../shared/app/recurring-reconcile';
import { recurringReleaseHandler } from '../../functions/recurring-release';
import { schedule } from '../../shared/app/scheduler';
import { completeWorkRequest, getNextForWorker } from '../../shared/app/workers';
import { createTemplate } from '../../shared/app/workflow-templates';
import type { RecurringJobWrite } from '../../shared/ports/recurring-jobs';

let world: SchedulingWorld;
const repo = () => world.deps.recurringJobs;
const job = async (id: number) => (await repo().get(id))!;

/** The next job write matching `when` fails as if the process had died before it. */
function dieBefore(when: (write: RecurringJobWrite) => boolean): void {
  const commit = repo().commit.bind(repo());
  let armed = true;
  repo().commit = async (write) => {
    if (armed && when(write)) {
      armed = false;
      throw new Error('the process died');
    }
    return commit(write);
  };
}

beforeEach(async () => {
  world = await createSchedulingWorld();
  world.deps.clock.current = new Date('2026-12-01T00:00:00Z');
});

describe('a run whose work request finished without its finish hook', () => {
  async function runLosingTheFinishHook() {
    const { j, wr, worker } = await startGitImportRun(world);
    world.deps.clock.advance(60_000);
    // The finish writes the job with its result: that write is lost.
    dieBefore((write) => write.result != null);
    await completeWorkRequest(world.deps, await worker.caller(), wr.id, { result: 'success', outputData: { recurring_status: 'SUCCESS_NOCHANGE' } });
    expect((await world.deps.workRequests.get(wr.id))!.status).toBe('completed');
    expect((await job(j.id)).run).toMatchObject({ id: 1, state: 'RUNNING' });
    return { j, wr: (await world.deps.workRequests.get(wr.id))! };
  }

  test('is finished by the reconcile pass once it has been out a while, with its request\'s result, once', async () => {
    const { j, wr } = await runLosingTheFinishHook();
    // Too recent: the hook may still be on its way.
    expect(await reconcileRecurringRuns(world.deps)).toEqual([]);
    world.deps.clock.advance(RECURRING_RECONCILE_AFTER_MS);
    expect(await reconcileRecurringRuns(world.deps)).toEqual([j.id]);
    const after = await job(j.id);
    expect(after.run).toMatchObject({ id: 2, state: 'PENDING', releasedAt: null });
    expect((await repo().results(j.id, 10)).items).toEqual([expect.objectContaining({ status: 'SUCCESS_NOCHANGE', machine: wr.worker })]);
    expect((await repo().events(j.id, 10)).items.map((e) => e.type)).toEqual(['CREATE', 'START', 'FINISH']);
    // Idempotent: the pass and the hook again change nothing.
    expect(await reconcileRecurringRuns(world.deps)).toEqual([]);
    await recurringRunFinished(world.deps, wr);
    expect((await repo().results(j.id, 10)).items).toHaveLength(1);
    expect((await job(j.id)).version).toBe(after.version);
  });

  test('the tick handler runs the pass after releasing', async () => {
    const { j } = await runLosingTheFinishHook();
    world.deps.clock.advance(RECURRING_RECONCILE_AFTER_MS);
    expect(await recurringReleaseHandler(() => world.deps)({})).toEqual({ released: [], reconciled: [j.id] });
  });

  test('a run still running is left alone; one whose request vanished is reclaimed (a new run due now)', async () => {
    const worker = await world.addWorker('bee.lan', { metadata: AMD64_METADATA });
    const j = await createRecurringJob(world.deps, await world.caller('owner'), { scope: 'debusine', workspace: 'priv', kind: 'git-import', target: { url: 'file:///srv/git/r.git' } });
    const [wrId] = await releaseDueRuns(world.deps);
    await schedule(world.deps);
    await getNextForWorker(world.deps, await worker.caller());
    world.deps.clock.advance(RECURRING_RECONCILE_AFTER_MS);
    expect(await reconcileRecurringRuns(world.deps)).toEqual([]);
    expect((await job(j.id)).run).toMatchObject({ id: 1, state: 'RUNNING' });
    world.deps.workRequests.items.delete(wrId!);
    expect(await reconcileRecurringRuns(world.deps)).toEqual([j.id]);
    expect((await repo().results(j.id, 10)).items).toEqual([expect.objectContaining({ status: 'RECLAIMED' })]);
    expect((await job(j.id)).run).toMatchObject({ id: 2, state: 'PENDING', dateDue: world.deps.clock.now().toISOString() });
  });
});

describe('a workflow run', () => {
  async function nightlyJob() {
    const owner = await world.caller('owner');
    await createTemplate(world.deps, owner, { scope: 'debusine', workspace: 'priv', name: 'nightly', taskName: 'noop', taskData: {}, priority: 0 });
    return createRecurringJob(world.deps, owner, { scope: 'debusine', workspace: 'priv', kind: 'workflow', target: { template: 'nightly', parameters: {} }, updateInterval: 86_400 });
  }
  const roots = () => [...world.deps.workRequests.items.values()].filter((wr) => wr.taskType === 'Workflow');

  test('whose tick died after starting the workflow is not started again by the next tick', async () => {
    const j = await nightlyJob();
    dieBefore((write) => write.job.run?.releasedAt != null);
    await expect(releaseDueRuns(world.deps)).rejects.toThrow('the process died');
    expect(roots()).toHaveLength(1);
    const [root] = roots();
    expect(root!.workflowData).toMatchObject({ recurring_job: { job: j.id, run: 1 } });
    // The next tick carries on with the workflow it had started.
    expect(await releaseDueRuns(world.deps)).toEqual([root!.id]);
    expect(roots()).toHaveLength(1);
    expect((await job(j.id)).run).toMatchObject({ workRequestId: root!.id, releasedAt: expect.any(String) });
    expect(await releaseDueRuns(world.deps)).toEqual([]);
    expect(roots()).toHaveLength(1);
  });

  test('two racing ticks start one workflow', async () => {
    const j = await nightlyJob();
    const seen = await job(j.id);
    const outcomes = await Promise.allSettled([releaseAnyRun(world.deps, seen), releaseAnyRun(world.deps, seen)]);
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    expect(roots()).toHaveLength(1);
    expect((await job(j.id)).run!.workRequestId).toBe(roots()[0]!.id);
  });
});
