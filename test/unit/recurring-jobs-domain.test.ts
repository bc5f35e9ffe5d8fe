/**
 * Launchpad's acceptance behaviours 1-21 (reference/launchpad_reana.md §C) on the recurring-job domain,
 * plus the exit-status mapping and the log tail.
 */
import {
  createRecurringJob,
  deletePendingJob,
  finishJob,
  logTail,
  newJob,
  reclaimJob,
  requestImport,
  requestJob,
  resultStatusForExitCode,
  RecurringJobRuleError,
  startJob,
  tryFailingImportAgain,
  updateHeartbeat,
  updateRecurringJob,
  type RecurringJob,
  type ReviewStatus,
} from '../../shared/domain/recurring-jobs';
import { setOffline, setOnline, setQuiescing, type MachineStatus } from '../../shared/domain/machines';
import { getJobForMachine } from '../../shared/domain/recurring-dispatch';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const I = 21_600; // the git default, seconds
const T0 = new Date('2026-12-01T00:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const ONLINE: MachineStatus = { name: 'bee', state: 'ONLINE', offlineReason: null, heartbeat: null };

function job(id = 1, reviewStatus: ReviewStatus = 'REVIEWED', now = T0): RecurringJob {
  return createRecurringJob(
    { id, scope: 's', workspace: 'w', owner: 'user:alice', kind: 'git-import', target: { url: 'file:///srv/repo.git' }, reviewStatus },
    now,
  ).job;
}

function running(now = T0, j = job()): RecurringJob {
  return startJob(j, ONLINE, now).job;
}

function withDue(j: RecurringJob, dateDue: Date, requestingUser: string | null = null): RecurringJob {
  return { ...j, run: { ...j.run!, dateDue: dateDue.toISOString(), requestingUser } };
}

function expectRule(fn: () => unknown, rule: string): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(RecurringJobRuleError);
    expect((err as RecurringJobRuleError).rule).toBe(rule);
    return;
  }
  throw new Error(`expected the rule ${rule} to refuse the call`);
}

describe('Launchpad behaviours (§C 1-21)', () => {
  test('1. newJob on a REVIEWED job with no results: PENDING, due now', () => {
    const j = newJob({ ...job(), run: null }, at(HOUR));
    expect(j.job.run).toMatchObject({ state: 'PENDING', dateDue: at(HOUR).toISOString(), requestingUser: null });
  });

  test('2. latest result started at T with T+I > now: due T+I', () => {
    const started = at(0);
    const finished = finishJob(running(started), 'SUCCESS', at(HOUR)).job;
    const again = newJob({ ...finished, run: null }, at(2 * HOUR));
    expect(again.job.run!.dateDue).toBe(new Date(started.getTime() + I * 1000).toISOString());
  });

  test('3. newJob refused for a non-REVIEWED job or one that already has a run', () => {
    expectRule(() => newJob(job(1, 'NEW'), T0), 'CodeImportNotInReviewedState');
    expectRule(() => newJob(job(), T0), 'CodeImportJobAlreadyExists');
  });

  test('4. runs due -10d, -5d, -2d start in that order, RUNNING with a START event', () => {
    const now = at(20 * DAY);
    let world = {
      jobs: [withDue(job(1), at(18 * DAY)), withDue(job(2), at(10 * DAY)), withDue(job(3), at(15 * DAY))],
      machines: [ONLINE],
    };
    const order: number[] = [];
    for (let k = 0; k < 3; k++) {
      const out = getJobForMachine(world, 'bee', 10, now);
      world = out.world;
      expect(out.started!.run!.state).toBe('RUNNING');
      expect(out.events.map((e) => e.type)).toEqual(['START']);
      order.push(out.started!.id);
    }
    expect(order).toEqual([2, 3, 1]);
  });

  test('5. a requested run due -1d goes before an unrequested one due -5d', () => {
    const now = at(10 * DAY);
    const world = { jobs: [withDue(job(1), at(5 * DAY)), withDue(job(2), at(9 * DAY), 'user:bob')], machines: [ONLINE] };
    expect(getJobForMachine(world, 'bee', 10, now).started!.id).toBe(2);
  });

  test('6. only future-due runs: nothing is started', () => {
    const world = { jobs: [withDue(job(1), at(DAY))], machines: [ONLINE] };
    const out = getJobForMachine(world, 'bee', 10, T0);
    expect(out.started).toBeNull();
    expect(out.world.jobs[0]!.run!.state).toBe('PENDING');
  });

  test('7. an unknown machine is created ONLINE with an ONLINE event and receives a run', () => {
    const out = getJobForMachine({ jobs: [job()], machines: [] }, 'new-host', 1, T0);
    expect(out.world.machines).toEqual([expect.objectContaining({ name: 'new-host', state: 'ONLINE' })]);
    expect(out.events.map((e) => e.type)).toEqual(['ONLINE', 'START']);
    expect(out.started!.run!.machine).toBe('new-host');
  });

  test('8. an ONLINE machine at its limit gets nothing; its heartbeat is updated', () => {
    const busy = running(T0, job(1));
    const out = getJobForMachine({ jobs: [busy, job(2)], machines: [ONLINE] }, 'bee', 1, at(60_000));
    expect(out.started).toBeNull();
    expect(out.world.machines[0]!.heartbeat).toBe(at(60_000).toISOString());
  });

  test('9. a QUIESCING machine with no running job goes OFFLINE/QUIESCED and gets nothing', () => {
    const quiescing: MachineStatus = { ...ONLINE, state: 'QUIESCING' };
    const out = getJobForMachine({ jobs: [job()], machines: [quiescing] }, 'bee', 3, T0);
    expect(out.started).toBeNull();
    expect(out.world.machines[0]).toMatchObject({ state: 'OFFLINE', offlineReason: 'QUIESCED' });
    expect(out.events).toEqual([expect.objectContaining({ type: 'OFFLINE', items: { OFFLINE_REASON: 'QUIESCED' } })]);
  });

  test('10. an OFFLINE machine gets nothing and its heartbeat is unchanged', () => {
    const offline: MachineStatus = { ...ONLINE, state: 'OFFLINE', offlineReason: 'STOPPED', heartbeat: T0.toISOString() };
    const out = getJobForMachine({ jobs: [job()], machines: [offline] }, 'bee', 3, at(HOUR));
    expect(out.started).toBeNull();
    expect(out.world.machines[0]!.heartbeat).toBe(T0.toISOString());
  });

  test('11. requestJob on a run due tomorrow: due now, requester set, REQUEST event', () => {
    const change = requestJob(withDue(job(), at(DAY)), 'user:bob', T0);
    expect(change.job.run).toMatchObject({ dateDue: T0.toISOString(), requestingUser: 'user:bob' });
    expect(change.events).toEqual([expect.objectContaining({ type: 'REQUEST', person: 'user:bob' })]);
  });

  test('11b. requestJob on an overdue run keeps its due date', () => {
    const change = requestJob(withDue(job(), at(-DAY)), 'user:bob', T0);
    expect(change.job.run!.dateDue).toBe(at(-DAY).toISOString());
  });

  test('12. a second request is refused', () => {
    const once = requestJob(job(), 'user:bob', T0).job;
    expectRule(() => requestJob(once, 'user:carol', T0), 'CodeImportAlreadyRequested');
    expectRule(() => requestImport(running(), 'user:carol', T0), 'CodeImportAlreadyRunning');
    expectRule(() => requestImport({ ...job(), reviewStatus: 'SUSPENDED', run: null }, 'user:carol', T0), 'CodeImportNotInReviewedState');
  });

  test('13. updateHeartbeat sets heartbeat and log tail, and writes no event', () => {
    const change = updateHeartbeat(running(), 'line 5', at(30_000));
    expect(change.job.run).toMatchObject({ heartbeat: at(30_000).toISOString(), logtail: 'line 5' });
    expect(change.events).toEqual([]);
    expectRule(() => updateHeartbeat(job(), 'x', T0), 'CodeImportJobNotRunning');
  });

  test('14. finishJob(SUCCESS): a result with the log tail, next run at max(now, started + I), FINISH', () => {
    const r = updateHeartbeat(running(T0), 'done', at(HOUR)).job;
    const change = finishJob(r, 'SUCCESS', at(2 * HOUR), { logArtifact: 7 });
    expect(change.result).toMatchObject({ status: 'SUCCESS', logExcerpt: 'done', logArtifact: 7, machine: 'bee', dateJobStarted: T0.toISOString() });
    expect(change.job.run).toMatchObject({ state: 'PENDING', id: 2, dateDue: at(I * 1000).toISOString() });
    expect(change.job.dateLastSuccessful).toBe(at(2 * HOUR).toISOString());
    expect(change.events.map((e) => e.type)).toEqual(['FINISH']);
    const late = finishJob(r, 'SUCCESS', at(7 * HOUR));
    expect(late.job.run!.dateDue).toBe(at(7 * HOUR).toISOString());
  });

  test('15. finishJob(SUCCESS_PARTIAL): the next run is due now; date_last_successful untouched', () => {
    const change = finishJob(running(), 'SUCCESS_PARTIAL', at(HOUR));
    expect(change.job.run!.dateDue).toBe(at(HOUR).toISOString());
    expect(change.job.dateLastSuccessful).toBeNull();
  });

  test('16. failures 1-4 reschedule at started + I, 2I, 4I, 8I', () => {
    let j = job();
    const offsets: number[] = [];
    let now = T0.getTime();
    for (let k = 0; k < 4; k++) {
      const started = new Date(now);
      j = finishJob(startJob(j, ONLINE, started).job, 'FAILURE', new Date(now + 60_000)).job;
      offsets.push((Date.parse(j.run!.dateDue) - started.getTime()) / (I * 1000));
      now = Date.parse(j.run!.dateDue);
    }
    expect(offsets).toEqual([1, 2, 4, 8]);
  });

  test('17. the 5th consecutive failure marks the job FAILING with no run; MODIFY and notification', () => {
    let j = job();
    for (let k = 0; k < 4; k++) j = finishJob(startJob(withDue(j, T0), ONLINE, T0).job, 'FAILURE_REMOTE_BROKEN', T0).job;
    expect(j.reviewStatus).toBe('REVIEWED');
    const change = finishJob(startJob(withDue(j, T0), ONLINE, T0).job, 'FAILURE', T0);
    expect(change.job.reviewStatus).toBe('FAILING');
    expect(change.job.run).toBeNull();
    expect(change.turnedFailing).toBe(true);
    expect(change.events.map((e) => e.type)).toEqual(['MODIFY', 'FINISH']);
    expect(change.events[0]!.items).toMatchObject({ REVIEW_STATUS: 'FAILING', OLD_REVIEW_STATUS: 'REVIEWED' });
  });

  test('17b. a RECLAIMED result counts as a failure at the next finish', () => {
    const reclaimed = reclaimJob(running(), at(HOUR)).job;
    const change = finishJob(startJob(reclaimed, ONLINE, at(HOUR)).job, 'FAILURE', at(2 * HOUR));
    expect(change.job.consecutiveFailures).toBe(2);
    expect(change.job.run!.dateDue).toBe(at(HOUR + 2 * I * 1000).toISOString());
  });

  test('18. SUSPENDED while running: finishJob creates no run', () => {
    const suspended = updateRecurringJob(running(), { reviewStatus: 'SUSPENDED' }, 'user:owner', T0);
    expect(suspended.job.run!.state).toBe('RUNNING');
    expect(finishJob(suspended.job, 'SUCCESS', at(HOUR)).job.run).toBeNull();
    const invalid = updateRecurringJob(running(), { reviewStatus: 'INVALID' }, 'user:owner', T0).job;
    expect(finishJob(invalid, 'FAILURE', at(HOUR)).job.run).toBeNull();
  });

  test('19. a stale heartbeat is reclaimed on any machine call: RECLAIMED result, RECLAIM event, run due now', () => {
    const stale = running(T0, job(1));
    const out = getJobForMachine({ jobs: [stale], machines: [ONLINE, { ...ONLINE, name: 'other' }] }, 'other', 0, at(301_000));
    expect(out.results).toEqual([expect.objectContaining({ status: 'RECLAIMED', logArtifact: null, runId: 1 })]);
    expect(out.events[0]).toMatchObject({ type: 'RECLAIM', items: { RECLAIMED_JOB_ID: '1' } });
    expect(out.world.jobs[0]!.run).toMatchObject({ id: 2, state: 'PENDING', dateDue: at(301_000).toISOString() });
    const fresh = getJobForMachine({ jobs: [stale], machines: [ONLINE] }, 'bee', 0, at(299_000));
    expect(fresh.results).toEqual([]);
  });

  test('20. machine transitions: OFFLINE cannot quiesce, ONLINE cannot go online', () => {
    expectRule(() => setQuiescing({ ...ONLINE, state: 'OFFLINE' }, 'user:admin', T0), 'MachineStateTransition');
    expectRule(() => setOnline(ONLINE, T0), 'MachineStateTransition');
    expectRule(() => setOffline({ ...ONLINE, state: 'OFFLINE' }, 'STOPPED', T0), 'MachineStateTransition');
    expect(setQuiescing(ONLINE, 'user:admin', T0).events[0]).toMatchObject({ type: 'QUIESCE', person: 'user:admin' });
    expect(setOffline(ONLINE, 'STOPPED', T0).events[0]!.items).toEqual({ OFFLINE_REASON: 'STOPPED' });
  });

  test('21. tryFailingImportAgain: REVIEWED with a requested run due now', () => {
    const failing = updateRecurringJob({ ...job(), run: null }, { reviewStatus: 'FAILING' }, null, T0).job;
    const change = tryFailingImportAgain(failing, 'user:bob', at(HOUR));
    expect(change.job.reviewStatus).toBe('REVIEWED');
    expect(change.job.run).toMatchObject({ state: 'PENDING', requestingUser: 'user:bob', dateDue: at(HOUR).toISOString() });
    expect(change.events.map((e) => e.type)).toEqual(['MODIFY', 'REQUEST']);
    expectRule(() => tryFailingImportAgain(job(), 'user:bob', T0), 'CodeImportNotFailing');
  });
});

describe('the rest of the cycle', () => {
  test('a new REVIEWED job records CREATE and a run due now; a NEW one has no run', () => {
    const created = createRecurringJob({ id: 9, scope: 's', workspace: 'w', owner: 'user:a', kind: 'workflow', target: { template: 'nightly' } }, T0);
    expect(created.events).toEqual([expect.objectContaining({ type: 'CREATE', items: expect.objectContaining({ REVIEW_STATUS: 'REVIEWED', URL: 'nightly' }) })]);
    expect(created.job.run!.dateDue).toBe(T0.toISOString());
    expect(job(2, 'NEW').run).toBeNull();
  });

  test('leaving REVIEWED deletes the pending run; MODIFY records only what changed', () => {
    const change = updateRecurringJob(job(), { reviewStatus: 'SUSPENDED', updateInterval: null }, 'user:o', T0);
    expect(change.job.run).toBeNull();
    expect(change.events[0]!.items).toEqual({ CODE_IMPORT: '1', REVIEW_STATUS: 'SUSPENDED', OLD_REVIEW_STATUS: 'REVIEWED' });
    expect(updateRecurringJob(job(), {}, 'user:o', T0).events).toEqual([]);
    expectRule(() => deletePendingJob(job()), 'CodeImportIsReviewed');
  });

  test('a worker exit code maps to Launchpad result statuses', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 8, null].map(resultStatusForExitCode)).toEqual([
      'SUCCESS',
      'FAILURE',
      'SUCCESS_NOCHANGE',
      'SUCCESS_PARTIAL',
      'FAILURE_INVALID',
      'FAILURE_UNSUPPORTED_FEATURE',
      'FAILURE_FORBIDDEN',
      'FAILURE_REMOTE_BROKEN',
      'FAILURE',
      'FAILURE',
    ]);
  });

  test('the log tail is the last 5 lines', () => {
    expect(logTail('1\n2\n3\n4\n5\n6\n7\n')).toBe('3\n4\n5\n6\n7');
    expect(logTail('only')).toBe('only');
  });

  test('a RecurringJobRuleError is a 409 conflict naming the rule', () => {
    try {
      requestJob(running(), 'user:x', T0);
    } catch (err) {
      expect((err as RecurringJobRuleError).kind).toBe('conflict');
      expect((err as RecurringJobRuleError).title).toBe('CodeImportJobNotPending');
    }
    expect.assertions(2);
  });
});
