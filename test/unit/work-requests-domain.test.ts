import { canTransition, dependencySatisfied, priorityChangeProblem, retryProblem, STATUSES, successorRetryCount, unblockDecision, type WorkRequest } from '../../shared/domain/work-requests';
import { effectiveMetadata, taskAllowedByLists, workerNameCandidates, workerSlug } from '../../shared/domain/workers';
import { cannotRunReason, findTask, validateTaskData } from '../../shared/tasks';
import { lintianResult, parseLintianOutput } from '../../shared/tasks/lintian';
import { ValidationError } from '../../shared/domain/errors';

describe('state machine', () => {
  const legal = new Set(['blocked>pending', 'blocked>aborted', 'pending>running', 'pending>aborted', 'running>completed', 'running>aborted']);
  it.each(STATUSES.flatMap((from) => STATUSES.map((to) => [from, to] as const)))('%s → %s', (from, to) => {
    expect(canTransition(from, to)).toBe(legal.has(`${from}>${to}`));
  });
});

type Dep = Pick<WorkRequest, 'status' | 'result' | 'workflowData' | 'supersededBy'>;
const dep = (status: WorkRequest['status'], result: WorkRequest['result'] = '', allowFailure = false, supersededBy: number | null = null): Dep => ({
  status,
  result,
  workflowData: allowFailure ? { allow_failure: true } : {},
  supersededBy,
});
const blocked = { status: 'blocked' as const, unblockStrategy: 'deps' as const };

describe('unblocking (debusine.md §8 behaviours 21-26)', () => {
  it.each([
    ['21: success unblocks', [dep('completed', 'success')], 'unblock'],
    ['21: skipped unblocks', [dep('completed', 'skipped')], 'unblock'],
    ['22: failure aborts', [dep('completed', 'failure')], 'abort'],
    ['22: error aborts', [dep('completed', 'error')], 'abort'],
    ['22: aborted dependency aborts', [dep('aborted')], 'abort'],
    ['23: failure with allow_failure unblocks', [dep('completed', 'failure', true)], 'unblock'],
    ['23: aborted with allow_failure stays blocked', [dep('aborted', '', true)], 'wait'],
    ['25: one done, one running stays blocked', [dep('completed', 'success'), dep('running')], 'wait'],
    ['a superseded failure waits for its successor', [dep('completed', 'failure', false, 99), dep('pending')], 'wait'],
  ] as const)('%s', (_name, deps, expected) => {
    expect(unblockDecision(blocked, [...deps])).toBe(expected);
  });
  it('24: a manual-unblock request stays blocked when its dependency succeeds', () => {
    expect(unblockDecision({ status: 'blocked', unblockStrategy: 'manual' }, [dep('completed', 'success')])).toBe('wait');
  });
  it('only blocked requests move', () => {
    expect(unblockDecision({ status: 'pending', unblockStrategy: 'deps' }, [dep('completed', 'success')])).toBe('wait');
  });
  it('treats success and skipped as satisfied', () => {
    expect(dependencySatisfied(dep('completed', 'success'))).toBe(true);
    expect(dependencySatisfied(dep('running'))).toBe(false);
  });
});

describe('retries (behaviours 35, 37)', () => {
  const base = { status: 'aborted' as const, result: '' as const, supersededBy: null, retryCount: 0, taskType: 'Worker' as const };
  it('allows aborted and failed requests, refuses successful and superseded ones', () => {
    expect(retryProblem(base, 'manual')).toBeUndefined();
    expect(retryProblem({ ...base, status: 'completed', result: 'failure' }, 'manual')).toBeUndefined();
    expect(retryProblem({ ...base, status: 'completed', result: 'success' }, 'manual')).toBe('Only aborted or failed tasks can be retried');
    expect(retryProblem({ ...base, supersededBy: 5 }, 'manual')).toMatch(/already been retried/);
  });
  it('caps automatic retries at 3 and resets the count on a manual retry', () => {
    expect(retryProblem({ ...base, retryCount: 3 }, 'worker-failed')).toBe('Maximum number of automatic retries exceeded');
    expect(retryProblem({ ...base, retryCount: 2 }, 'worker-failed')).toBeUndefined();
    expect(successorRetryCount({ retryCount: 2 }, 'worker-failed')).toBe(3);
    expect(successorRetryCount({ retryCount: 3 }, 'manual')).toBe(0);
  });
});

describe('priority changes (behaviour 44)', () => {
  it('lets creators lower their own, only admins raise', () => {
    expect(priorityChangeProblem({ isAdmin: false, isCreator: true, value: -5 })).toBeUndefined();
    expect(priorityChangeProblem({ isAdmin: false, isCreator: true, value: 5 })).toMatch(/administrators/);
    expect(priorityChangeProblem({ isAdmin: false, isCreator: false, value: -5 })).toMatch(/creator/);
    expect(priorityChangeProblem({ isAdmin: true, isCreator: false, value: 500 })).toBeUndefined();
    expect(priorityChangeProblem({ isAdmin: true, isCreator: false, value: 1.5 })).toMatch(/integer/);
  });
});

describe('workers', () => {
  it('slugs FQDNs and numbers clashes (behaviours 1-2)', () => {
    expect(workerSlug('worker-bee.lan')).toBe('worker-bee-lan');
    expect(workerNameCandidates('worker-bee.lan').slice(0, 3)).toEqual(['worker-bee-lan', 'worker-bee-lan-2', 'worker-bee-lan-3']);
  });
  it('lets static metadata win (behaviour 10)', () => {
    expect(effectiveMetadata({ staticMetadata: { k: 1 }, dynamicMetadata: { k: 2, j: 3 } })).toEqual({ k: 1, j: 3 });
  });
  it('prefers the allowlist over the denylist (behaviours 13-14)', () => {
    expect(taskAllowedByLists({ tasks_allowlist: ['sbuild'], tasks_denylist: ['sbuild'] }, 'sbuild')).toBe(true);
    expect(taskAllowedByLists({ tasks_denylist: ['sbuild'] }, 'sbuild')).toBe(false);
    expect(taskAllowedByLists({ tasks_allowlist: ['noop'] }, 'sbuild')).toBe(false);
  });
});

describe('can_run_on (behaviour 15 and requirements)', () => {
  const noop = findTask('Worker', 'noop')!;
  const lintian = findTask('Worker', 'lintian')!;
  const sleep = findTask('Worker', 'sleep')!;
  const worker = (dynamicMetadata: Record<string, unknown>, staticMetadata: Record<string, unknown> = {}) => ({
    workerType: 'external' as const,
    dynamicMetadata: { 'system:worker_type': 'external', 'system:architectures': ['amd64'], 'system:host_architecture': 'amd64', ...dynamicMetadata },
    staticMetadata,
  });
  it.each([
    ['runs a noop on an external worker', noop, { result: true }, worker({}), undefined],
    ['needs the right worker type', noop, { result: true }, worker({ 'system:worker_type': 'celery' }), 'a Worker task needs a external worker'],
    ['needs the task version the worker has', noop, { result: true }, worker({ 'noop:version': 2 }), 'worker has noop version 2, need 1'],
    ['needs memory', noop, { result: true, required_memory: 2048 }, worker({ 'system:total_physical_memory': 1024 }), 'not enough memory'],
    ['has memory', noop, { result: true, required_memory: 2048 }, worker({ 'system:total_physical_memory': 4096 }), undefined],
    ['needs disk', noop, { result: true, required_disk: 10 }, worker({ 'system:free_disk': 5 }), 'not enough free disk'],
    ['needs lintian', lintian, { input: { binary_artifacts: [1] } }, worker({}), 'lintian:available is not true'],
    ['has lintian', lintian, { input: { binary_artifacts: [1] } }, worker({ 'lintian:available': true }), undefined],
    ['needs the host architecture', lintian, { input: { binary_artifacts: [1] }, host_architecture: 'arm64' }, worker({ 'lintian:available': true }), 'architecture arm64 not supported'],
    ['static metadata wins', lintian, { input: { binary_artifacts: [1] } }, worker({ 'lintian:available': true }, { 'lintian:available': false }), 'lintian:available is not true'],
    ['deny list', noop, { result: true }, worker({}, { tasks_denylist: ['noop'] }), 'excluded by the worker allow/deny lists'],
    // Debusine's can_run_on: a worker that lists its tasks' versions (Debusine 0.12.1's lists noop, not sleep) runs only those.
    ['needs the task listed', sleep, { seconds: 1 }, worker({ 'noop:version': 1, 'sbuild:version': 1 }), 'worker does not list sleep (no sleep:version)'],
    ['runs a listed task', sleep, { seconds: 1 }, worker({ 'noop:version': 1, 'sleep:version': 1 }), undefined],
    ['a worker listing no versions runs any task', sleep, { seconds: 1 }, worker({}), undefined],
  ] as const)('%s', (_name, task, data, w, reason) => {
    expect(cannotRunReason(task, validateTaskData(task, data), w)).toBe(reason);
  });
});

describe('task data', () => {
  it('refuses unknown keys and fills defaults', () => {
    expect(validateTaskData(findTask('Worker', 'noop')!, {})).toEqual({ result: true });
    expect(() => validateTaskData(findTask('Worker', 'noop')!, { result: true, colour: 'red' })).toThrow(ValidationError);
    try {
      validateTaskData(findTask('Worker', 'noop')!, { colour: 'red' });
    } catch (err) {
      expect((err as ValidationError).fieldErrors).toEqual({ 'task_data.colour': ['unknown field'] });
    }
    expect(() => validateTaskData(findTask('Worker', 'lintian')!, { input: {} })).toThrow(/source_artifact/);
  });
});

describe('lintian output', () => {
  const out = [
    'E: hello: bad-distribution-in-changes-file unstable',
    'W: hello source: missing-debian-watch-file',
    'I: hello: spelling-error-in-description teh the',
    'P: hello: no-homepage-field',
    'N: some explanation line',
    'O: hello: overridden-tag',
  ].join('\n');
  it('parses tags with severity, package and note', () => {
    const tags = parseLintianOutput(out);
    expect(tags.map((t) => [t.severity, t.package, t.tag])).toEqual([
      ['error', 'hello', 'bad-distribution-in-changes-file'],
      ['warning', 'hello', 'missing-debian-watch-file'],
      ['info', 'hello', 'spelling-error-in-description'],
      ['pedantic', 'hello', 'no-homepage-field'],
      ['overridden', 'hello', 'overridden-tag'],
    ]);
    expect(tags[2]!.note).toBe('teh the');
  });
  it('fails on the chosen severity or stronger', () => {
    const tags = parseLintianOutput('W: hello: some-warning');
    expect(lintianResult(tags, 'error')).toBe('success');
    expect(lintianResult(tags, 'warning')).toBe('failure');
    expect(lintianResult(tags, 'info')).toBe('failure');
    expect(lintianResult(tags, 'none')).toBe('success');
  });
});
