/**
 * Recurring jobs on the ordinary work-request machinery (memory adapters): the release tick reads due
 * runs only, a run is a work request on the same scheduler and workers, its completion finishes the job
 * and schedules the next run, the watchdog's reclaim reclaims it, and the roles hold.
 */
import { createSchedulingWorld, AMD64_METADATA, type SchedulingWorld } from '../support/scheduling';
import { createRecurringJob, requestRecurringJob, tryRecurringJobAgain, updateRecurringJobAs, recurringJobResults, recurringJobEvents, deleteRecurringJob } from '../../shared/app/recurring-jobs';
import { runWorkRequest } from '../../shared/app/recurring-runs';
import { releaseDueRuns } from '../../shared/app/recurring-release';
import { setUserDisabled } from '../../shared/app/tokens';
import { schedule } from '../../shared/app/scheduler';
import { reclaimStale } from '../../shared/app/watchdog';
import { completeWorkRequest, getNextForWorker } from '../../shared/app/workers';
import { ConflictError, ForbiddenError, ValidationError } from '../../shared/domain/errors';
import type { RecurringJob } from '../../shared/domain/recurring-jobs';
import { createTemplate } from '../../shared/app/workflow-templates';
import { drive } from '../support/workflows';

const MIN = 60_000;
let world: SchedulingWorld;
const repo = () => world.deps.recurringJobs;
const job = async (id: number) => (await repo().get(id))!;

async function newJob(as = 'owner', updateInterval = 600): Promise<RecurringJob> {
  return createRecurringJob(world.deps, await world.caller(as), {
    scope: 'debusine',
    workspace: 'priv',
    kind: 'git-import',
    target: { url: 'file:///srv/git/repo.git' },
    updateInterval,
  });
}

/** Releases due runs, schedules, and has the worker take and finish its run with this outcome. */
async function runOnce(worker: Awaited<ReturnType<SchedulingWorld['addWorker']>>, outputData: Record<string, unknown>, result: 'success' | 'failure' = 'success') {
  // The worker polls (a sign of life the scheduler needs after a long back-off), then takes its run.
  expect(await getNextForWorker(world.deps, await worker.caller())).toBeUndefined();
  await releaseDueRuns(world.deps);
  await schedule(world.deps);
  const wr = await getNextForWorker(world.deps, await worker.caller());
  expect(wr?.taskName).toBe('git-import');
  world.deps.clock.advance(MIN);
  await completeWorkRequest(world.deps, await worker.caller(), wr!.id, { result, outputData });
  return wr!;
}

beforeEach(async () => {
  world = await createSchedulingWorld();
  world.deps.clock.current = new Date('2026-12-01T00:00:00Z');
});

test('an owner creates a REVIEWED job due now; a contributor creates a NEW one; a viewer cannot', async () => {
  const owned = await newJob('owner');
  expect(owned).toMatchObject({ reviewStatus: 'REVIEWED', run: { state: 'PENDING', dateDue: '2026-12-01T00:00:00.000Z' } });
  expect((await newJob('contributor')).reviewStatus).toBe('NEW');
  await expect(newJob('viewer')).rejects.toBeInstanceOf(ForbiddenError);
  await expect(
    createRecurringJob(world.deps, await world.caller('owner'), { scope: 'debusine', workspace: 'priv', kind: 'git-import', target: { url: 'not a url' } }),
  ).rejects.toThrow(/target.url/);
  await expect(
    createRecurringJob(world.deps, await world.caller('owner'), { scope: 'debusine', workspace: 'priv', kind: 'svn', target: {} }),
  ).rejects.toBeInstanceOf(ValidationError);
  expect(repo().jobs.size).toBe(2);
});

test('the tick releases each due run once, as a work request; runs not due are not read', async () => {
  const due = await newJob();
  const later = await newJob();
  await repo().commit({ job: { ...later, run: { ...later.run!, dateDue: '2026-12-02T00:00:00.000Z' }, version: later.version + 1 }, expectedVersion: later.version });
  const before = repo().reads.dueRunsReturned;
  const released = await releaseDueRuns(world.deps);
  expect(released).toHaveLength(1);
  expect(repo().reads.dueRunsReturned - before).toBe(1);
  const wr = await world.deps.workRequests.get(released[0]!);
  expect(wr).toMatchObject({ taskType: 'Worker', taskName: 'git-import', status: 'pending', workflowData: { recurring_job: { job: due.id, run: 1 } } });
  expect((await job(due.id)).run).toMatchObject({ workRequestId: wr!.id, releasedAt: expect.any(String) });
  expect(await releaseDueRuns(world.deps)).toEqual([]);
});

test("a disabled owner's due run is skipped (put off one interval, reason recorded, no failure) until the owner is enabled again (REANA)", async () => {
  const due = await newJob();
  const owner = due.owner.slice('user:'.length);
  await setUserDisabled(world.deps, 'user:admin', owner, true);
  expect(await releaseDueRuns(world.deps)).toEqual([]);
  const skipped = await job(due.id);
  expect(skipped.run).toMatchObject({
    state: 'PENDING',
    releasedAt: null,
    dateDue: '2026-12-01T00:10:00.000Z',
    skipped: { at: '2026-12-01T00:00:00.000Z', reason: `${due.owner} is disabled` },
  });
  // A skip is not a failure: no result, the failure count (and its backoff) untouched.
  expect(skipped.consecutiveFailures).toBe(0);
  expect(skipped.resultCount).toBe(0);
  await setUserDisabled(world.deps, 'user:admin', owner, false);
  expect(await releaseDueRuns(world.deps)).toEqual([]);
  world.deps.clock.advance(10 * MIN);
  expect(await releaseDueRuns(world.deps)).toHaveLength(1);
});

test('a run requested by a user who is disabled since is skipped too: it would act for them', async () => {
  const due = await newJob();
  // Requested (a request releases at once; here its release was lost), then the requester is disabled.
  await repo().commit({ job: { ...due, run: { ...due.run!, requestingUser: 'user:contributor' }, version: due.version + 1 }, expectedVersion: due.version });
  await setUserDisabled(world.deps, 'user:admin', 'contributor', true);
  expect(await releaseDueRuns(world.deps)).toEqual([]);
  expect((await job(due.id)).run).toMatchObject({ requestingUser: 'user:contributor', releasedAt: null, skipped: { reason: 'user:contributor is disabled' } });
  await setUserDisabled(world.deps, 'user:admin', 'contributor', false);
  world.deps.clock.advance(10 * MIN);
  const [wrId] = await releaseDueRuns(world.deps);
  expect((await world.deps.workRequests.get(wrId!))!.createdBy).toBe('user:contributor');
});

test("held runs of a disabled owner do not fill the tick's batch ahead of the others", async () => {
  const created = await newJob();
  const held = { ...created, owner: 'user:contributor', version: created.version + 1 };
  await repo().commit({ job: held, expectedVersion: created.version });
  world.deps.clock.advance(MIN);
  const other = await newJob();
  await setUserDisabled(world.deps, 'user:admin', 'contributor', true);
  // One run per tick: the held (older) run is put off, so the next tick reaches the other one.
  expect(await releaseDueRuns(world.deps, { limit: 1 })).toEqual([]);
  expect(await releaseDueRuns(world.deps, { limit: 1 })).toHaveLength(1);
  expect((await job(other.id)).run!.releasedAt).not.toBeNull();
});

test('a run goes through the worker: START on get-next, then FINISH with the result and the next run', async () => {
  const worker = await world.addWorker('bee.lan', { metadata: AMD64_METADATA });
  const j = await newJob();
  const wr = await runOnce(worker, { recurring_status: 'SUCCESS', recurring_refs: { 'refs/heads/main': 'a'.repeat(40) }, recurring_log_tail: 'one\ntwo' });
  const after = await job(j.id);
  expect(after.run).toMatchObject({ id: 2, state: 'PENDING', dateDue: new Date(Date.parse('2026-12-01T00:00:00Z') + 600_000).toISOString() });
  expect(after.kindState).toEqual({ refs: { 'refs/heads/main': 'a'.repeat(40) } });
  const results = await recurringJobResults(world.deps, await world.caller('viewer'), j.id, 10);
  expect(results.items).toEqual([expect.objectContaining({ status: 'SUCCESS', machine: worker.name, logExcerpt: 'one\ntwo' })]);
  const events = await recurringJobEvents(world.deps, await world.caller('viewer'), j.id, 10);
  expect(events.items.map((e) => e.type)).toEqual(['CREATE', 'START', 'FINISH']);
  // The next run carries the refs of this one.
  world.deps.clock.advance(10 * MIN);
  const [next] = await releaseDueRuns(world.deps);
  expect((await world.deps.workRequests.get(next!))!.taskData['previous_refs']).toEqual({ 'refs/heads/main': 'a'.repeat(40) });
  expect(next).not.toBe(wr.id);
});

test('a worker without git (no git-import:available) is not given git-import runs; one with it is', async () => {
  const { 'git-import:available': _available, 'git-import:version': _version, ...withoutGit } = AMD64_METADATA;
  const gitless = await world.addWorker('nogit.lan', { metadata: withoutGit });
  const unprobed = await world.addWorker('old.lan', { metadata: { ...AMD64_METADATA, 'git-import:available': false } });
  await newJob();
  await releaseDueRuns(world.deps);
  await schedule(world.deps);
  expect(await getNextForWorker(world.deps, await gitless.caller())).toBeUndefined();
  expect(await getNextForWorker(world.deps, await unprobed.caller())).toBeUndefined();
  const withGit = await world.addWorker('git.lan', { metadata: AMD64_METADATA });
  await schedule(world.deps);
  expect((await getNextForWorker(world.deps, await withGit.caller()))?.taskName).toBe('git-import');
});

test('failures back off 1x, 2x, 4x, 8x; the 5th turns the job FAILING and notifies; try-again brings it back', async () => {
  await world.deps.channels.put({ name: 'recurring-jobs', method: 'email', data: { to: ['ops@example.org'] } });
  const worker = await world.addWorker('bee.lan', { metadata: AMD64_METADATA });
  const j = await newJob();
  const gaps: number[] = [];
  for (let k = 0; k < 5; k++) {
    const wr = await runOnce(worker, { recurring_status: 'FAILURE_REMOTE_BROKEN' }, 'failure');
    const current = await job(j.id);
    if (current.run) {
      gaps.push((Date.parse(current.run.dateDue) - Date.parse(wr.startedAt!)) / 600_000);
      world.deps.clock.current = new Date(current.run.dateDue);
    }
  }
  expect(gaps).toEqual([1, 2, 4, 8]);
  const failing = await job(j.id);
  expect(failing).toMatchObject({ reviewStatus: 'FAILING', run: null, consecutiveFailures: 5 });
  expect(world.deps.notifier.sent.map((m) => m.subject)).toEqual([`Recurring job ${j.id} (git-import) is FAILING`]);
  await expect(tryRecurringJobAgain(world.deps, await world.caller('contributor'), j.id)).rejects.toBeInstanceOf(ForbiddenError);
  const again = await tryRecurringJobAgain(world.deps, await world.caller('owner'), j.id);
  expect(again).toMatchObject({ reviewStatus: 'REVIEWED', run: { requestingUser: 'user:owner', releasedAt: expect.any(String) } });
  const wr = await world.deps.workRequests.get(again.run!.workRequestId!);
  expect(wr!.priorityBase).toBe(1);
});

test('the watchdog reclaims a silent run: RECLAIMED, a new run due now, no retry of the request', async () => {
  const worker = await world.addWorker('bee.lan', { metadata: AMD64_METADATA });
  const j = await newJob();
  await releaseDueRuns(world.deps);
  await schedule(world.deps);
  const wr = await getNextForWorker(world.deps, await worker.caller());
  world.deps.clock.advance(6 * MIN);
  expect(await reclaimStale(world.deps)).toEqual([wr!.id]);
  const after = await job(j.id);
  expect(after.run).toMatchObject({ id: 2, state: 'PENDING', dateDue: world.deps.clock.now().toISOString() });
  expect((await world.deps.workRequests.get(wr!.id))!.supersededBy).toBeNull();
  const results = await repo().results(j.id, 10);
  expect(results.items[0]).toMatchObject({ status: 'RECLAIMED', logArtifact: null });
  const events = await repo().events(j.id, 10);
  expect(events.items.at(-1)).toMatchObject({ type: 'RECLAIM', items: { RECLAIMED_JOB_ID: '1' } });
  // A late completion from the lost worker changes nothing.
  await expect(completeWorkRequest(world.deps, await worker.caller(), wr!.id, { result: 'success' })).rejects.toBeInstanceOf(ConflictError);
  expect((await repo().results(j.id, 10)).items).toHaveLength(1);
});

test('a second request is a 409 naming the rule; suspending withdraws the waiting request; delete', async () => {
  const j = await newJob();
  await requestRecurringJob(world.deps, await world.caller('contributor'), j.id);
  await expect(requestRecurringJob(world.deps, await world.caller('contributor'), j.id)).rejects.toMatchObject({ kind: 'conflict', title: 'CodeImportAlreadyRequested' });
  const released = await job(j.id);
  expect(released.run!.releasedAt).not.toBeNull();
  await expect(updateRecurringJobAs(world.deps, await world.caller('contributor'), j.id, { reviewStatus: 'SUSPENDED' })).rejects.toBeInstanceOf(ForbiddenError);
  const suspended = await updateRecurringJobAs(world.deps, await world.caller('owner'), j.id, { reviewStatus: 'SUSPENDED' });
  expect(suspended.run).toBeNull();
  expect((await world.deps.workRequests.get(released.run!.workRequestId!))!.status).toBe('aborted');
  await expect(updateRecurringJobAs(world.deps, await world.caller('owner'), j.id, { reviewStatus: 'BROKEN' })).rejects.toThrow(/review_status/);
  await deleteRecurringJob(world.deps, await world.caller('owner'), j.id);
  expect(await repo().get(j.id)).toBeUndefined();
});

test('runWorkRequest: a requested run gets the higher priority', () => {
  const base = {
    id: 1,
    scope: 's',
    workspace: 'w',
    owner: 'user:o',
    kind: 'git-import' as const,
    target: { url: 'file:///r' },
    updateInterval: null,
    reviewStatus: 'REVIEWED' as const,
    consecutiveFailures: 0,
    lastResultStartedAt: null,
    dateLastSuccessful: null,
    lastRunId: 1,
    resultCount: 0,
    kindState: {},
    createdAt: '2026-12-01T00:00:00.000Z',
    version: 1,
  };
  const run = { id: 1, state: 'PENDING' as const, dateCreated: base.createdAt, dateDue: base.createdAt, requestingUser: null, heartbeat: null, logtail: null, dateStarted: null, machine: null, workRequestId: null, releasedAt: null };
  expect(runWorkRequest({ ...base, run }, 5, new Date()).priorityBase).toBe(0);
  expect(runWorkRequest({ ...base, run: { ...run, requestingUser: 'user:x' } }, 5, new Date())).toMatchObject({ priorityBase: 1, createdBy: 'user:x' });
});

describe('workflow kind', () => {
  async function nightly(script: Parameters<typeof drive>[2], template = 'nightly') {
    const owner = await world.caller('owner');
    await createTemplate(world.deps, owner, { scope: 'debusine', workspace: 'priv', name: 'nightly', taskName: 'noop', taskData: {}, priority: 0 });
    const job = await createRecurringJob(world.deps, owner, { scope: 'debusine', workspace: 'priv', kind: 'workflow', target: { template, parameters: {} }, updateInterval: 86_400 });
    const worker = await world.addWorker('bee.lan', { metadata: AMD64_METADATA });
    const [rootId] = await releaseDueRuns(world.deps);
    await drive(world, [worker], script);
    return { job, rootId };
  }

  test('each run starts the template as a new workflow run; the result is the workflow\'s', async () => {
    const { job: j, rootId } = await nightly(async () => 'success');
    const root = (await world.deps.workRequests.get(rootId!))!;
    expect(root).toMatchObject({ taskType: 'Workflow', status: 'completed', result: 'success', run: { name: 'nightly', major: 1 }, workflowData: { recurring_job: { job: j.id, run: 1 } } });
    const after = await job(j.id);
    expect((await repo().results(j.id, 5)).items[0]).toMatchObject({ status: 'SUCCESS' });
    expect(after.run).toMatchObject({ id: 2, state: 'PENDING', dateDue: new Date(Date.parse(root.startedAt!) + 86_400_000).toISOString() });
    expect((await repo().events(j.id, 10)).items.map((e) => e.type)).toEqual(['CREATE', 'START', 'FINISH']);
  });

  test('a template that is gone makes a FAILURE_INVALID result without starting anything', async () => {
    const { job: j, rootId } = await nightly(async () => 'success', 'nightly');
    await world.deps.templates.delete((await world.deps.templates.getByName('debusine', 'priv', 'nightly'))!);
    world.deps.clock.advance(86_400_000);
    expect(rootId).toBeDefined();
    expect(await releaseDueRuns(world.deps)).toEqual([]);
    expect((await repo().results(j.id, 5)).items[0]).toMatchObject({ status: 'FAILURE_INVALID', logExcerpt: expect.stringMatching(/template/i) });
    expect((await job(j.id)).consecutiveFailures).toBe(1);
  });
});
