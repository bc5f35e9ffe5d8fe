import { canRunTransition, RUN_STATUSES } from '../../shared/domain/run-status';
import { normaliseWorkflowName, parseRunLookup, workflowOutcome } from '../../shared/domain/workflows';
import { createTemplate } from '../../shared/app/workflow-templates';
import { findWorkflowRun, startWorkflow, workflowTree } from '../../shared/app/workflow-runs';
import { orchestrate } from '../../shared/app/workflow-orchestration';
import { abortWorkRequest, retryWorkRequest, unblockWorkRequest } from '../../shared/app/work-requests';
import { AMD64_METADATA, createSchedulingWorld, type SchedulingWorld } from '../support/scheduling';
import { defaultScript, drive, type Script } from '../support/workflows';
import { ForbiddenError, NotFoundError, ValidationError } from '../../shared/domain/errors';
import type { WorkRequest } from '../../shared/domain/work-requests';

let w: SchedulingWorld;
beforeEach(async () => {
  w = await createSchedulingWorld();
});

const owner = () => w.caller('owner');
const contributor = () => w.caller('contributor');

async function template(name: string, taskName: string, taskData: Record<string, unknown> = {}, priority = 0) {
  return createTemplate(w.deps, priority > 0 ? await w.caller('admin') : await owner(), { scope: 'debusine', workspace: 'priv', name, taskName, taskData, priority });
}
async function start(name: string, taskData: Record<string, unknown> = {}) {
  return startWorkflow(w.deps, await contributor(), { scope: 'debusine', workspace: 'priv', templateName: name, taskData });
}
const get = async (id: number) => (await w.deps.workRequests.get(id))!;
const children = (id: number) => w.deps.workRequests.children(id);
const workers = () => Promise.all([w.addWorker('a.lan', { metadata: { ...AMD64_METADATA, 'mkdeb:available': true, 'mkdeb:version': 1 } }), w.addWorker('b.lan', { metadata: { ...AMD64_METADATA, 'mkdeb:available': true, 'mkdeb:version': 1 } })]);

describe('REANA run statuses and numbers (launchpad_reana.md §C 22-26)', () => {
  it('22: enforces the transition table', () => {
    expect(canRunTransition('created', 'running')).toBe(false);
    expect(canRunTransition('queued', 'failed')).toBe(true);
    expect(canRunTransition('failed', 'running')).toBe(true);
    expect(canRunTransition('stopped', 'running')).toBe(false);
    expect(canRunTransition('running', 'running')).toBe(true);
    for (const s of RUN_STATUSES) expect(canRunTransition('deleted', s)).toBe(false);
  });

  it('23/25: numbers runs 1, 2, restarts 1.1, 1.2, next new run 3; looks them up', async () => {
    await template('wf', 'noop');
    const [a] = await workers();
    void a;
    const one = await start('wf');
    const two = await start('wf');
    expect([one.run, two.run].map((r) => `${r!.major}.${r!.minor}`)).toEqual(['1.0', '2.0']);
    // Fail run 1 so that it may restart (REANA: failed → running).
    await w.deps.workRequests.commit({ update: [{ workRequest: { ...(await get(one.id)), status: 'completed', result: 'failure', run: { ...one.run!, status: 'failed' }, version: (await get(one.id)).version + 1 }, expectedVersion: (await get(one.id)).version }] });
    const r1 = await retryWorkRequest(w.deps, await contributor(), one.id);
    expect(r1.run).toMatchObject({ major: 1, minor: 1, status: 'running' });
    await drive(w, [], defaultScript(w));
    await w.deps.workRequests.commit({ update: [{ workRequest: { ...(await get(one.id)), status: 'completed', result: 'failure', run: { ...(await get(one.id)).run!, status: 'failed' }, version: (await get(one.id)).version + 1 }, expectedVersion: (await get(one.id)).version }] });
    expect((await retryWorkRequest(w.deps, await contributor(), one.id)).run).toMatchObject({ major: 1, minor: 2 });
    const three = await start('wf');
    expect(three.run).toMatchObject({ major: 3, minor: 0 });
    const find = async (lookup: string) => (await findWorkflowRun(w.deps, await contributor(), { scope: 'debusine', workspace: 'priv', lookup })).id;
    expect(await find('wf')).toBe(three.id);
    expect(await find('wf.2')).toBe(two.id);
    expect(await find('wf.1.2')).toBe(one.id);
    await expect(find('wf.7')).rejects.toThrow(NotFoundError);
    expect(parseRunLookup('wf.1.1')).toEqual({ name: 'wf', run: { major: 1, minor: 1 } });
    expect(parseRunLookup('wf.x')).toEqual({ name: 'wf.x' });
  });

  it('26: refuses dotted, UUID and non-ASCII names; empty becomes "workflow"', () => {
    expect(() => normaliseWorkflowName('a.b')).toThrow(ValidationError);
    expect(() => normaliseWorkflowName('123e4567-e89b-42d3-a456-426614174000')).toThrow(ValidationError);
    expect(() => normaliseWorkflowName('wörk')).toThrow(ValidationError);
    expect(normaliseWorkflowName('')).toBe('workflow');
  });

  it('keeps the run status in step with the work request', async () => {
    await template('wf', 'noop');
    const wf = await start('wf');
    expect(wf.run!.status).toBe('queued');
    await drive(w, [], defaultScript(w));
    expect((await get(wf.id))).toMatchObject({ status: 'completed', result: 'success', run: { status: 'finished' } });
  });
});

describe('starting workflows (behaviours 32-33)', () => {
  it('32: merges run-time data under the template, creates the workflow and its internal collection', async () => {
    await template('bl', 'build-and-lint', { architectures: ['amd64'], package: 'hello' }, 5);
    const wf = await start('bl', { architectures: ['i386', 'arm64'], version: '1.0-1' });
    expect(wf).toMatchObject({ taskType: 'Workflow', taskName: 'build-and-lint', priorityBase: 5 });
    expect(wf.taskData).toMatchObject({ architectures: ['amd64'], package: 'hello', version: '1.0-1' });
    const collection = await w.deps.collections.get(wf.internalCollection!);
    expect(collection).toMatchObject({ name: `workflow-${wf.id}`, category: 'debusine:workflow-internal', retainsArtifacts: 'workflow' });
  });

  it('33: unknown template → 404; invalid data → 400 and nothing created', async () => {
    await expect(start('missing')).rejects.toThrow('Workflow template not found');
    await template('bl', 'build-and-lint');
    const before = w.deps.workRequests.items.size;
    await expect(start('bl', { package: 'hello' })).rejects.toThrow('Cannot create workflow');
    expect(w.deps.workRequests.items.size).toBe(before);
  });

  it('only owners write templates; a positive priority needs an admin', async () => {
    await expect(createTemplate(w.deps, await contributor(), { scope: 'debusine', workspace: 'priv', name: 'x', taskName: 'noop' })).rejects.toThrow(ForbiddenError);
    await expect(createTemplate(w.deps, await owner(), { scope: 'debusine', workspace: 'priv', name: 'x', taskName: 'noop', priority: 3 })).rejects.toThrow(ForbiddenError);
    await expect(createTemplate(w.deps, await owner(), { scope: 'debusine', workspace: 'priv', name: 'x', taskName: 'nope' })).rejects.toThrow(ValidationError);
    await template('x', 'noop');
    await expect(template('x', 'noop')).rejects.toThrow(/already exists/);
  });
});

describe('orchestration (behaviours 28-31)', () => {
  it('28: a workflow whose populate creates nothing completes with success', async () => {
    await template('n', 'noop');
    const wf = await start('n');
    await drive(w, [], defaultScript(w));
    expect(await get(wf.id)).toMatchObject({ status: 'completed', result: 'success' });
  });

  it('29/31: populate builds the graph: first stage pending, dependents blocked, priorities inherited', async () => {
    await template('bl', 'build-and-lint', {}, 0);
    const wf = await start('bl', { package: 'hello', version: '1.0-1', architectures: ['amd64', 'i386'] });
    await w.deps.workRequests.commit({ update: [{ workRequest: { ...(await get(wf.id)), priorityAdjustment: 7, version: (await get(wf.id)).version + 1 }, expectedVersion: (await get(wf.id)).version }] });
    await drive(w, [], defaultScript(w)); // no workers: only orchestration happens
    const kids = await children(wf.id);
    const by = (step: string) => kids.find((k) => k.workflowData.step === step)!;
    expect(kids.map((k) => k.workflowData.step).sort()).toEqual(['build-amd64', 'build-i386', 'checks-done', 'lintian-amd64', 'lintian-i386', 'summarise']);
    expect(by('build-amd64').status).toBe('pending');
    expect(by('lintian-amd64')).toMatchObject({ status: 'blocked', dependencies: [by('build-amd64').id] });
    expect(by('checks-done').dependencies.sort()).toEqual([by('lintian-amd64').id, by('lintian-i386').id].sort());
    expect(by('build-amd64').priorityBase).toBe(7);
    expect((await get(wf.id))).toMatchObject({ status: 'running', result: '', run: { status: 'running' } });
    const items = await w.deps.collections.activeItems(wf.internalCollection!);
    expect(items.map((i) => [i.name, i.category]).sort()).toEqual([
      ['build-amd64', 'debusine:promise'],
      ['build-i386', 'debusine:promise'],
      ['lintian-amd64', 'debusine:promise'],
      ['lintian-i386', 'debusine:promise'],
    ]);
  });

  it('populate is idempotent: replayed messages create no duplicate children', async () => {
    await template('bl', 'build-and-lint');
    const wf = await start('bl', { package: 'hello', version: '1.0-1', architectures: ['amd64'] });
    await drive(w, [], defaultScript(w));
    const count = (await children(wf.id)).length;
    for (let i = 0; i < 3; i++) await orchestrate(w.deps, { rootId: wf.id, kind: 'populate', workRequestId: wf.id });
    expect((await children(wf.id)).length).toBe(count);
  });

  it('runs build-and-lint to completion: artifacts replace promises and the callback summarises', async () => {
    await template('bl', 'build-and-lint');
    const wf = await start('bl', { package: 'hello', version: '1.0-1', architectures: ['amd64', 'i386'] });
    await drive(w, await workers(), defaultScript(w));
    const done = await get(wf.id);
    expect(done).toMatchObject({ status: 'completed', result: 'success', run: { status: 'finished' } });
    const items = await w.deps.collections.activeItems(wf.internalCollection!);
    expect(items.map((i) => [i.name, i.childType, i.category]).sort()).toEqual([
      ['build-amd64', 'artifact', 'debian:binary-package'],
      ['build-i386', 'artifact', 'debian:binary-package'],
      ['lintian-amd64', 'artifact', 'debian:lintian'],
      ['lintian-i386', 'artifact', 'debian:lintian'],
    ]);
    const lint = (await children(wf.id)).find((c) => c.workflowData.step === 'lintian-amd64')!;
    const build = items.find((i) => i.name === 'build-amd64')!;
    expect(lint.dynamicTaskData).toEqual({ input_source_artifact_id: null, input_binary_artifacts_ids: [build.artifactId] });
    expect(done.outputData?.['summary']).toMatchObject({ architectures: { amd64: { result: 'success', tags_count_by_severity: { error: 0, warning: 1 } }, i386: { result: 'success' } } });
    const tree = await workflowTree(w.deps, await contributor(), wf.id);
    expect(tree.children).toHaveLength(6);
  });

  it('30: a failed child fails the workflow; allow_failure lets it succeed; an aborted child aborts it', () => {
    const c = (status: WorkRequest['status'], result: WorkRequest['result'], allow = false, supersededBy: number | null = null) => ({ status, result, supersededBy, workflowData: allow ? { allow_failure: true } : {} });
    expect(workflowOutcome([c('completed', 'failure'), c('completed', 'success')])).toEqual({ status: 'completed', result: 'failure' });
    expect(workflowOutcome([c('completed', 'failure', true), c('completed', 'success')])).toEqual({ status: 'completed', result: 'success' });
    expect(workflowOutcome([c('aborted', ''), c('completed', 'success')])).toEqual({ status: 'aborted' });
    expect(workflowOutcome([c('aborted', '', false, 9), c('completed', 'success')])).toEqual({ status: 'completed', result: 'success' });
    expect(workflowOutcome([c('running', ''), c('completed', 'success')])).toBeUndefined();
  });

  it('30: a failing build fails the workflow (its check is aborted), and REANA records failed', async () => {
    await template('bl', 'build-and-lint');
    const wf = await start('bl', { package: 'hello', version: '1.0-1', architectures: ['amd64'] });
    const failBuild: Script = async (wr, worker) => (wr.taskName === 'mkdeb' ? 'failure' : defaultScript(w)(wr, worker));
    await drive(w, await workers(), failBuild);
    const done = await get(wf.id);
    // The check is aborted by the failed dependency, so Debusine's rule makes the workflow aborted; REANA calls that run failed (not stopped: nobody stopped it), so it may restart.
    expect(done).toMatchObject({ status: 'aborted', run: { status: 'failed' } });
  });
});

describe('control (behaviours 34-40)', () => {
  it('34: aborting a workflow aborts every unfinished descendant', async () => {
    await template('bl', 'build-and-lint');
    const wf = await start('bl', { package: 'hello', version: '1.0-1', architectures: ['amd64', 'i386'] });
    await drive(w, [], defaultScript(w));
    await abortWorkRequest(w.deps, await contributor(), wf.id);
    const kids = await children(wf.id);
    expect(kids.every((k) => k.status === 'aborted' && k.abortedBy === 'user:contributor')).toBe(true);
    expect(await get(wf.id)).toMatchObject({ status: 'aborted', run: { status: 'stopped' } });
  });

  it('36: retrying a failed child re-points its dependents and promises, and reopens the workflow', async () => {
    await template('bl', 'build-and-lint');
    const wf = await start('bl', { package: 'hello', version: '1.0-1', architectures: ['amd64'] });
    let failOnce = true;
    const script: Script = async (wr, worker) => {
      if (wr.taskName === 'lintian' && failOnce) {
        failOnce = false;
        return 'failure';
      }
      return defaultScript(w)(wr, worker);
    };
    const ws = await workers();
    await drive(w, ws, script);
    expect((await get(wf.id)).status).not.toBe('running');
    const failed = (await children(wf.id)).find((c) => c.workflowData.step === 'lintian-amd64' && c.result === 'failure')!;
    // Workflow retry: restart (failed → running, run 1.1), retry failed and aborted children, populate again.
    const sync = (await children(wf.id)).find((c) => c.workflowData.step === 'checks-done')!;
    expect(sync.status).toBe('aborted');
    const restarted = await retryWorkRequest(w.deps, await contributor(), wf.id);
    expect(restarted).toMatchObject({ status: 'running', run: { major: 1, minor: 1, status: 'running' } });
    const successor = (await children(wf.id)).find((c) => c.supersedes === failed.id)!;
    expect(successor).toBeDefined();
    const items = await w.deps.collections.activeItems(wf.internalCollection!);
    expect(items.find((i) => i.name === 'lintian-amd64')!.data['promise_work_request_id']).toBe(successor.id);
    await drive(w, ws, script);
    expect(await get(wf.id)).toMatchObject({ status: 'completed', result: 'success', run: { status: 'finished', minor: 1 } });
  });

  it('35: a successful workflow cannot be retried; a stopped run cannot restart', async () => {
    await template('n', 'noop');
    const wf = await start('n');
    await drive(w, [], defaultScript(w));
    await expect(retryWorkRequest(w.deps, await contributor(), wf.id)).rejects.toThrow('Cannot retry work request');
  });

  it('38-39: retry-with-delays adds a Wait/delay sibling and a successor that waits for it', async () => {
    await template('bl', 'build-and-lint');
    const wf = await start('bl', { package: 'hello', version: '1.0-1', architectures: ['amd64'] });
    await drive(w, [], defaultScript(w));
    const build = (await children(wf.id)).find((c) => c.workflowData.step === 'build-amd64')!;
    const withReaction = { ...build, eventReactions: { ...build.eventReactions, on_failure: [{ action: 'retry-with-delays', delays: ['5m', '30m'] }] }, version: build.version + 1 };
    await w.deps.workRequests.commit({ update: [{ workRequest: withReaction, expectedVersion: build.version }] });
    const ws = await workers();
    let fails = 1;
    await drive(w, ws, async (wr, worker) => (wr.taskName === 'mkdeb' && fails-- > 0 ? 'failure' : defaultScript(w)(wr, worker)));
    const kids = await children(wf.id);
    const delay = kids.find((c) => c.taskName === 'delay')!;
    const successor = kids.find((c) => c.supersedes === build.id)!;
    expect(delay).toMatchObject({ taskType: 'Wait', status: 'running' });
    expect(Date.parse(String(delay.taskData['delay_until']))).toBe(w.deps.clock.now().getTime() + 5 * 60_000);
    expect(successor).toMatchObject({ retryCount: 1, status: 'blocked' });
    expect(successor.dependencies).toContain(delay.id);
    w.deps.clock.advance(6 * 60_000);
    for (const wk of ws) await (await import('../../shared/app/workers')).updateDynamicMetadata(w.deps, await wk.caller(), { ...AMD64_METADATA, 'mkdeb:available': true, 'mkdeb:version': 1 });
    await drive(w, ws, defaultScript(w));
    expect(await get(wf.id)).toMatchObject({ status: 'completed', result: 'success' });
  });

  it('40: manual unblock accepts, rejects and logs notes', async () => {
    await template('bl', 'build-and-lint');
    const wf = await start('bl', { package: 'hello', version: '1.0-1', architectures: ['amd64'] });
    await drive(w, [], defaultScript(w));
    const lint = (await children(wf.id)).find((c) => c.workflowData.step === 'lintian-amd64')!;
    await w.deps.workRequests.commit({ update: [{ workRequest: { ...lint, unblockStrategy: 'manual', version: lint.version + 1 }, expectedVersion: lint.version }] });
    await expect(unblockWorkRequest(w.deps, await owner(), lint.id, {})).rejects.toThrow(ValidationError);
    await expect(unblockWorkRequest(w.deps, await contributor(), lint.id, { action: 'accept' })).rejects.toThrow(ForbiddenError);
    const noted = await unblockWorkRequest(w.deps, await owner(), lint.id, { notes: 'looks fine' });
    expect(noted.status).toBe('blocked');
    expect((noted.workflowData['manual_unblock'] as any).log).toHaveLength(1);
    expect((await unblockWorkRequest(w.deps, await owner(), lint.id, { action: 'accept' })).status).toBe('pending');
  });

  it('send-notification reactions mail the channel when a request finishes', async () => {
    await w.deps.channels.put({ name: 'team', method: 'email', data: { to: ['team@example.org'], from: 'conveyor@example.org' } });
    const { createWorkRequest } = await import('../../shared/app/work-requests');
    const wr = await createWorkRequest(w.deps, await contributor(), {
      scope: 'debusine',
      workspace: 'priv',
      taskName: 'noop',
      taskData: {},
      eventReactions: { on_success: [{ action: 'send-notification', channel: 'team' }] },
    });
    await drive(w, await workers(), defaultScript(w));
    expect(w.deps.notifier.sent).toEqual([
      expect.objectContaining({ to: ['team@example.org'], subject: `WorkRequest ${wr.id} completed in success` }),
    ]);
  });
});
