/**
 * Finding 7 (`callerForCreator`): work of a disabled user must not keep acting with its rights.
 * Each path that acts for a request's creator: a worker's lookup (403 "Creator disabled"), workflow
 * orchestration (held by the scheduler; a step already on its way ends in error `creator-disabled`),
 * event reactions that update collections, server tasks. Recurring releases: recurring-jobs-app.test.ts.
 * Once the user is enabled again, its work goes on.
 */
import { z } from 'zod';
import { callerForCreator, lookupContextForWorker } from '../../../shared/app/acting-as';
import { createCollection } from '../../../shared/app/collections';
import { runEventReactions } from '../../../shared/app/event-reactions';
import { schedule } from '../../../shared/app/scheduler';
import { setUserDisabled } from '../../../shared/app/tokens';
import { CreatorDisabledError } from '../../../shared/app/user-status';
import { orchestrate } from '../../../shared/app/workflow-orchestration';
import { startWorkflow } from '../../../shared/app/workflow-runs';
import { createTemplate } from '../../../shared/app/workflow-templates';
import { createWorkRequest } from '../../../shared/app/work-requests';
import { getNextForWorker } from '../../../shared/app/workers';
import { ForbiddenError } from '../../../shared/domain/errors';
import { registerWorkflow } from '../../../shared/workflows';
import { AMD64_METADATA, createSchedulingWorld, type SchedulingWorld } from '../../support/scheduling';
import { defaultScript, drive, type Script } from '../../support/workflows';

let w: SchedulingWorld;
beforeEach(async () => {
  w = await createSchedulingWorld();
});

const disable = (disabled: boolean) => setUserDisabled(w.deps, 'user:admin', 'contributor', disabled);
const get = async (id: number) => (await w.deps.workRequests.get(id))!;
const buildWorkers = () => Promise.all([w.addWorker('a.lan', { metadata: { ...AMD64_METADATA, 'mkdeb:available': true, 'mkdeb:version': 1 } })]);

async function startAs(templateName: string, taskName: string, taskData: Record<string, unknown> = {}) {
  await createTemplate(w.deps, await w.caller('owner'), { scope: 'debusine', workspace: 'priv', name: templateName, taskName });
  return startWorkflow(w.deps, await w.caller('contributor'), { scope: 'debusine', workspace: 'priv', templateName, taskData });
}

describe('callerForCreator', () => {
  it('refuses a disabled creator with 403 "Creator disabled", and acts for it again once enabled', async () => {
    await disable(true);
    const refused = callerForCreator(w.deps, 'user:contributor');
    await expect(refused).rejects.toBeInstanceOf(CreatorDisabledError);
    await expect(refused).rejects.toBeInstanceOf(ForbiddenError);
    await expect(refused).rejects.toThrow('user "contributor" is disabled');
    await disable(false);
    const acting = await callerForCreator(w.deps, 'user:contributor');
    expect(acting.kind === 'user' && acting.user.username).toBe('contributor');
  });
});

describe("a worker's lookups for a request", () => {
  it('answer 403 while the creator is disabled, and work again once it is enabled', async () => {
    const worker = await w.addWorker('a.lan');
    const wr = await w.submit('noop');
    await schedule(w.deps);
    expect((await getNextForWorker(w.deps, await worker.caller()))?.id).toBe(wr.id);
    // Disabled while its request runs: the request's lookups no longer act for it.
    await disable(true);
    await expect(lookupContextForWorker(w.deps, await worker.caller(), wr.id)).rejects.toThrow(CreatorDisabledError);
    await disable(false);
    const ctx = await lookupContextForWorker(w.deps, await worker.caller(), wr.id);
    expect(ctx.caller.kind === 'user' && ctx.caller.user.username).toBe('contributor');
  });
});

describe('workflow orchestration', () => {
  it("the scheduler holds a disabled creator's workflow; once enabled it is populated and completes", async () => {
    const wf = await startAs('n', 'noop');
    await disable(true);
    await drive(w, [], defaultScript(w));
    expect(await get(wf.id)).toMatchObject({ status: 'pending' });
    expect(w.deps.queues.orchestration).toEqual([]);
    await disable(false);
    await drive(w, [], defaultScript(w));
    expect(await get(wf.id)).toMatchObject({ status: 'completed', result: 'success' });
  });

  it('a populate already on its way when the creator is disabled fails the workflow with creator-disabled, creating nothing', async () => {
    const wf = await startAs('bl', 'build-and-lint', { package: 'hello', version: '1.0-1', architectures: ['amd64'] });
    await disable(true);
    await orchestrate(w.deps, { rootId: wf.id, kind: 'populate', workRequestId: wf.id });
    const failed = await get(wf.id);
    expect(failed).toMatchObject({ status: 'completed', result: 'error' });
    expect(failed.outputData?.errors?.[0]).toMatchObject({ code: 'creator-disabled', message: expect.stringMatching(/"contributor" is disabled/) });
    expect(await w.deps.workRequests.children(wf.id)).toEqual([]);
    // A replayed message finds it finished: nothing is retried forever.
    await orchestrate(w.deps, { rootId: wf.id, kind: 'populate', workRequestId: wf.id });
    expect((await get(wf.id)).version).toBe(failed.version);
  });

  /** A build-and-lint run whose creator is disabled while its last task (lintian) runs: its summarise callback is still to come. */
  async function disabledBeforeCallback() {
    const [worker] = await buildWorkers();
    const wf = await startAs('bl', 'build-and-lint', { package: 'hello', version: '1.0-1', architectures: ['amd64'] });
    const disableDuringLintian: Script = async (wr, on) => {
      if (wr.taskName === 'lintian') await disable(true);
      return defaultScript(w)(wr, on);
    };
    await drive(w, [worker!], disableDuringLintian);
    const callback = (await w.deps.workRequests.children(wf.id)).find((c) => c.workflowData.step === 'summarise')!;
    return { worker: worker!, wf, callback };
  }

  it('a callback waits while the creator is disabled; once enabled it runs and the workflow completes', async () => {
    const { worker, wf, callback } = await disabledBeforeCallback();
    expect(callback.status).toBe('pending');
    expect(await get(wf.id)).toMatchObject({ status: 'running' });
    await disable(false);
    await drive(w, [worker], defaultScript(w));
    const done = await get(wf.id);
    expect(done).toMatchObject({ status: 'completed', result: 'success' });
    expect(done.outputData).toMatchObject({ summary: { package: 'hello', architectures: { amd64: { result: 'success' } } } });
  });

  it('a callback already on its way when the creator is disabled ends with creator-disabled', async () => {
    const { wf, callback } = await disabledBeforeCallback();
    await orchestrate(w.deps, { rootId: wf.id, kind: 'callback', workRequestId: callback.id });
    const ended = await get(callback.id);
    expect(ended).toMatchObject({ status: 'completed', result: 'error' });
    expect(ended.outputData?.errors?.[0]).toMatchObject({ code: 'creator-disabled' });
    expect((await get(wf.id)).outputData?.['summary']).toBeUndefined();
  });
});

describe('event reactions that update collections', () => {
  it("do not write into the creator's collections while it is disabled (the failure names it); its workflow's own internal collection is still written", async () => {
    registerWorkflow({
      name: 'test-disabled-data',
      schema: z.strictObject({}),
      async populate(ctx) {
        const child = await ctx.ensureChild({ taskName: 'noop', taskData: { result: true }, workflowData: { step: 'only' } });
        const current = (await ctx.children()).find((c) => c.id === child.id)!;
        const note = (collection: string) => ({ action: 'update-collection-with-data', collection, category: 'conveyor:note', name_template: 'note', data: {} });
        await w.deps.workRequests.commit({
          update: [{
            workRequest: { ...current, eventReactions: { on_success: [note('notes@conveyor:notes'), note('internal@collections')] }, version: current.version + 1 },
            expectedVersion: current.version,
          }],
        });
      },
    });
    const notes = await createCollection(w.deps, await w.caller('contributor'), { scope: 'debusine', workspace: 'priv', name: 'notes', category: 'conveyor:notes' });
    const [worker] = await buildWorkers();
    const wf = await startAs('d', 'test-disabled-data');
    // Disabled while the child runs: its on_success reactions would write as the creator.
    await drive(w, [worker!], async () => {
      await disable(true);
      return 'success';
    });
    expect(await w.deps.collections.activeItems(notes.id)).toEqual([]);
    expect((await w.deps.collections.activeItems(wf.internalCollection!)).map((i) => i.name)).toEqual(['note']);
    const child = (await w.deps.workRequests.children(wf.id))[0]!;
    const effects = await runEventReactions(w.deps, await get(child.id), 'on_success');
    expect(effects.failures.map((f) => f.error)).toEqual([expect.any(CreatorDisabledError)]);
    await disable(false);
    expect((await runEventReactions(w.deps, await get(child.id), 'on_success')).failures).toEqual([]);
    expect((await w.deps.collections.activeItems(notes.id)).map((i) => i.name)).toEqual(['note']);
  });
});

describe('server tasks', () => {
  it("a disabled creator's server task stays pending; once enabled it is handed over", async () => {
    // servernoop is for administrators: the admin creates it, then is disabled.
    const task = await createWorkRequest(w.deps, await w.caller('admin'), { scope: 'debusine', workspace: 'priv', taskName: 'servernoop', taskData: { result: true } });
    await setUserDisabled(w.deps, 'user:owner', 'admin', true);
    await schedule(w.deps);
    expect(w.deps.queues.serverTasks).toEqual([]);
    expect((await get(task.id)).status).toBe('pending');
    await setUserDisabled(w.deps, 'user:owner', 'admin', false);
    await schedule(w.deps);
    expect(w.deps.queues.serverTasks.map((t) => t.workRequestId)).toEqual([task.id]);
  });
});
