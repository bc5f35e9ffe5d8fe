/**
 * Random sequences of start, finish, reclaim, request, try-again and review changes, applied to the
 * recurring-job domain and to a small reference model written straight from §A.4 (results kept as a
 * list, the failure count recomputed from it the way Launchpad's SQL does). Both must agree on every
 * due date, review status, run state and event after every step, and refuse the same calls.
 */
import fc from 'fast-check';
import {
  createRecurringJob,
  finishJob,
  reclaimJob,
  requestImport,
  RecurringJobRuleError,
  startJob,
  tryFailingImportAgain,
  updateRecurringJob,
  type RecurringJob,
  type ResultStatus,
  type ReviewStatus,
} from '../../shared/domain/recurring-jobs';

const INTERVAL = 600; // seconds
const LIMIT = 5;
const SUCCESSES = ['SUCCESS', 'SUCCESS_NOCHANGE', 'SUCCESS_PARTIAL'];

interface Model {
  review: ReviewStatus;
  results: { status: string; started: number }[];
  run: { state: 'PENDING' | 'RUNNING'; due: number; requested: boolean; started: number | null } | null;
}

type Step =
  | { op: 'wait'; seconds: number }
  | { op: 'start' }
  | { op: 'finish'; status: ResultStatus }
  | { op: 'reclaim' }
  | { op: 'request' }
  | { op: 'try-again' }
  | { op: 'review'; status: ReviewStatus };

const FINISH_STATUSES: ResultStatus[] = ['SUCCESS', 'SUCCESS_NOCHANGE', 'SUCCESS_PARTIAL', 'FAILURE', 'FAILURE_REMOTE_BROKEN', 'FAILURE_FORBIDDEN'];
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant('wait' as const), seconds: fc.integer({ min: 1, max: 20_000 }) }) },
  { weight: 4, arbitrary: fc.constant<Step>({ op: 'start' }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('finish' as const), status: fc.constantFrom(...FINISH_STATUSES) }) },
  { weight: 1, arbitrary: fc.constant<Step>({ op: 'reclaim' }) },
  { weight: 1, arbitrary: fc.constant<Step>({ op: 'request' }) },
  { weight: 1, arbitrary: fc.constant<Step>({ op: 'try-again' }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('review' as const), status: fc.constantFrom<ReviewStatus>('REVIEWED', 'SUSPENDED', 'INVALID', 'NEW') }) },
);

/** consecutive_failure_count: results after the last success. */
function failureCount(m: Model): number {
  let n = 0;
  for (let i = m.results.length - 1; i >= 0 && !SUCCESSES.includes(m.results[i]!.status); i--) n++;
  return n;
}

function modelNewJob(m: Model, now: number, interval = INTERVAL): void {
  const last = m.results[m.results.length - 1];
  m.run = { state: 'PENDING', due: last ? Math.max(now, last.started + interval * 1000) : now, requested: false, started: null };
}

/** Applies one step to the model; returns the event types it logs, or 'refused'. */
function modelStep(m: Model, s: Step, now: number): string[] | 'refused' {
  switch (s.op) {
    case 'wait':
      return [];
    case 'start':
      if (!m.run || m.run.state !== 'PENDING' || m.run.due > now) return [];
      m.run = { ...m.run, state: 'RUNNING', started: now };
      return ['START'];
    case 'finish':
    case 'reclaim': {
      if (!m.run || m.run.state !== 'RUNNING') return 'refused';
      const status = s.op === 'finish' ? s.status : 'RECLAIMED';
      m.results.push({ status, started: m.run.started! });
      m.run = null;
      if (s.op === 'reclaim') {
        if (m.review === 'REVIEWED') modelNewJob(m, now, 0);
        return ['RECLAIM'];
      }
      const n = failureCount(m);
      const events: string[] = [];
      let interval = INTERVAL;
      if (n >= LIMIT) {
        events.push('MODIFY');
        m.review = 'FAILING';
      } else if (status === 'SUCCESS_PARTIAL') interval = 0;
      else if (n > 0) interval = INTERVAL * 2 ** (n - 1);
      if (m.review === 'REVIEWED') modelNewJob(m, now, interval);
      return [...events, 'FINISH'];
    }
    case 'request':
      if (!m.run || m.run.state !== 'PENDING' || m.run.requested) return 'refused';
      m.run = { ...m.run, requested: true, due: Math.min(m.run.due, now) };
      return ['REQUEST'];
    case 'try-again':
      if (m.review !== 'FAILING') return 'refused';
      m.review = 'REVIEWED';
      modelNewJob(m, now);
      m.run = { ...m.run!, requested: true, due: Math.min(m.run!.due, now) };
      return ['MODIFY', 'REQUEST'];
    case 'review': {
      if (s.status === m.review) return [];
      m.review = s.status;
      if (s.status !== 'REVIEWED' && m.run?.state === 'PENDING') m.run = null;
      if (s.status === 'REVIEWED' && !m.run) modelNewJob(m, now);
      return ['MODIFY'];
    }
  }
}

function domainStep(job: RecurringJob, s: Step, now: Date): { job: RecurringJob; events: string[] } | 'refused' {
  try {
    let change;
    switch (s.op) {
      case 'wait':
        return { job, events: [] };
      case 'start':
        if (!job.run || job.run.state !== 'PENDING' || Date.parse(job.run.dateDue) > now.getTime()) return { job, events: [] };
        change = startJob(job, { name: 'bee', state: 'ONLINE' }, now);
        break;
      case 'finish':
        change = finishJob(job, s.status, now);
        break;
      case 'reclaim':
        change = reclaimJob(job, now);
        break;
      case 'request':
        change = requestImport(job, 'user:bob', now);
        break;
      case 'try-again':
        change = tryFailingImportAgain(job, 'user:bob', now);
        break;
      case 'review':
        change = updateRecurringJob(job, { reviewStatus: s.status }, 'user:owner', now);
        break;
    }
    return { job: change.job, events: change.events.map((e) => e.type) };
  } catch (err) {
    if (err instanceof RecurringJobRuleError) return 'refused';
    throw err;
  }
}

test('the domain agrees with the §A.4 reference model on every step', () => {
  fc.assert(
    fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
      let now = Date.parse('2026-12-01T00:00:00Z');
      let job = createRecurringJob(
        { id: 1, scope: 's', workspace: 'w', owner: 'user:o', kind: 'git-import', target: { url: 'file:///r' }, updateInterval: INTERVAL },
        new Date(now),
      ).job;
      const model: Model = { review: 'REVIEWED', results: [], run: null };
      modelNewJob(model, now);
      for (const s of steps) {
        if (s.op === 'wait') now += s.seconds * 1000;
        const expected = modelStep(model, s, now);
        const actual = domainStep(job, s, new Date(now));
        if (expected === 'refused' || actual === 'refused') {
          expect(actual).toBe(expected);
          continue;
        }
        job = actual.job;
        expect(actual.events).toEqual(expected);
        expect(job.reviewStatus).toBe(model.review);
        expect(job.consecutiveFailures).toBe(failureCount(model));
        expect(job.resultCount).toBe(model.results.length);
        if (model.run === null) expect(job.run).toBeNull();
        else {
          expect(job.run).not.toBeNull();
          expect(job.run!.state).toBe(model.run.state);
          expect(Date.parse(job.run!.dateDue)).toBe(model.run.due);
          expect(job.run!.requestingUser !== null).toBe(model.run.requested);
        }
      }
    }),
    { numRuns: 300 },
  );
});
