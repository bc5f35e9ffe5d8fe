/**
 * Workflows end to end on the local stack (`conveyor dev`) with two REAL `conveyor worker`
 * processes: the `build-and-lint` template over HTTP, runs started over HTTP and with the CLI, the
 * fan-out over architectures (a `mkdeb` build with dpkg-deb and a `lintian` check per architecture,
 * joined by promises in the internal collection), a synchronization point and the `summarise`
 * callback; REANA run numbers and lookups; aborting a run; and a `send-notification` event
 * reaction delivered to the local mailbox.
 *
 * The stack runs with every schedule firing each second and a 30 s watchdog; the workers heartbeat
 * every second. The tests run in order and share the stack, the workers and the template.
 *
 * lintian and dpkg-deb must be installed (CI installs lintian through .ci/run): without them the
 * tests fail rather than skip.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { E2eHarness, WORKSPACE, isFinished, requireTool, type CliResult } from './harness';
import type { FetchClientResponse } from './http-client';
import { sleep, waitFor } from './worker-process';

jest.setTimeout(480_000);

const TEMPLATE = 'bl';
const STACK_ENV = { CONVEYOR_DEV_SCHEDULE_SECONDS: '1', CONVEYOR_WATCHDOG_STALE_SECONDS: '30' };
const RUN_TIMEOUT_MS = 240_000;
const NEEDS_TOOLS = "the workflow e2e tests need Debian's lintian and dpkg-deb on the workers; CI installs them via .ci/run (apt-get install lintian)";

const h = new E2eHarness({ tmpPrefix: 'conveyor-e2e-workflows-', dirs: ['home', 'config', 'cache', 'src'], bodyChars: 800, stackLogChars: 8000 });
const { workers, expectStatus, diagnostics } = h;

beforeAll(async () => {
  requireTool('lintian', ['--version'], NEEDS_TOOLS);
  requireTool('dpkg-deb', ['--version'], NEEDS_TOOLS);
  await h.start(STACK_ENV);
  await h.startWorkers(['wf-worker-a.e2e.test', 'wf-worker-b.e2e.test']);
}, 240_000);

afterAll(() => h.stop({ stopWorkers: 'log' }), 180_000);

// ------------------------------------------------------------------------------------ helpers

interface TreeNode {
  work_request: any;
  children: TreeNode[];
}

/** Every node of a workflow tree, depth first. */
function flatten(nodes: TreeNode[]): any[] {
  return nodes.flatMap((n) => [n.work_request, ...flatten(n.children)]);
}

/** A one-line summary of each child: what a timeout prints. */
function treeSummary(tree: { workflow: any; children: TreeNode[] }): string {
  const wf = tree.workflow;
  return [
    `${wf.id} ${wf.task_name} ${wf.status}/${wf.result} run=${JSON.stringify(wf.run)}`,
    ...flatten(tree.children).map((c) => `  ${c.id} ${c.task_type}/${c.task_name} ${c.status}/${c.result} worker=${c.worker_name} deps=${c.dependencies}`),
  ].join('\n');
}

function waitForTree(id: number, done: (tree: any) => boolean, what: string, timeoutMs = RUN_TIMEOUT_MS): Promise<any> {
  return waitFor(`workflow ${id} ${what}`, () => h.getJson(`workflow/${id}/`), done, {
    timeoutMs,
    describe: () => diagnostics(),
  }).catch(async (err: Error) => {
    // The tree, readably, on top of the last JSON.
    const last = await h.getJson(`workflow/${id}/`).catch(() => undefined);
    throw new Error(`${err.message}\n--- tree ---\n${last ? treeSummary(last) : '(unavailable)'}`);
  });
}

const waitForRunEnd = (id: number, timeoutMs?: number) => waitForTree(id, (t) => isFinished(t.workflow), 'to finish', timeoutMs);

/** Ids of the root `build-and-lint` requests in the workspace (children have other task names). */
async function rootWorkflowIds(): Promise<number[]> {
  const body = await h.getJson(`work-request/?workspace=${WORKSPACE}&task_name=build-and-lint&limit=200`);
  return (body.results as any[]).map((wr) => wr.id as number).sort((a, b) => a - b);
}

function startRun(taskData: Record<string, unknown>, user = 'contributor'): Promise<FetchClientResponse> {
  return h.api('POST', 'workflow/', user, { template_name: TEMPLATE, workspace: WORKSPACE, task_data: taskData });
}

/** `conveyor ARGS` from the work dir's `src`, with the stack's data dir (for admin commands); fails unless it exits 0. */
async function cliOk(args: string[], opts: { user?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  const result = await h.cli(args, { ...opts, cwd: join(h.work, 'src'), env: { CONVEYOR_DATA_DIR: h.stack!.dataDir } });
  if (result.code !== 0) throw new Error(`conveyor ${args.join(' ')} exited with ${result.code ?? result.signal}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  return result;
}

// ------------------------------------------------------------------------------------ tests

describe('the build-and-lint workflow on two real workers', () => {
  let templateId: number;
  /** Run 1 (started over HTTP in the second test, followed in the third). */
  let run1: any;

  it('registered both workers', async () => {
    expect(workers.map((w) => w.name).sort()).toEqual(['wf-worker-a-e2e-test', 'wf-worker-b-e2e-test']);
  });

  it('templates over HTTP: an owner creates one, a duplicate and a contributor are refused, list and get', async () => {
    const fixed = { package: 'hello', fail_on_severity: 'none' };
    const created = await h.api('POST', 'workflow-template/', 'owner', { name: TEMPLATE, task_name: 'build-and-lint', task_data: fixed, workspace: WORKSPACE });
    expectStatus(created, 201);
    expect(created.json).toMatchObject({
      id: expect.any(Number),
      name: TEMPLATE,
      task_name: 'build-and-lint',
      task_data: fixed,
      workspace: WORKSPACE,
      scope: 'debusine',
      priority: 0,
    });
    expect(created.json.url).toMatch(new RegExp(`/api/1\\.0/workflow-template/${created.json.id}/$`));
    templateId = created.json.id;

    // Same name in the same workspace: refused, whoever asks.
    const duplicate = await h.api('POST', 'workflow-template/', 'owner', { name: TEMPLATE, task_name: 'build-and-lint', task_data: {}, workspace: WORKSPACE });
    expect(duplicate.status).toBeGreaterThanOrEqual(400);
    expect(duplicate.status).toBeLessThan(500);
    expect(duplicate.headers['content-type']).toBe('application/problem+json');

    // Only owners register templates.
    const byContributor = await h.api('POST', 'workflow-template/', 'contributor', { name: 'bl-contrib', task_name: 'build-and-lint', workspace: WORKSPACE });
    expectStatus(byContributor, 403);

    // Fixed data the workflow's schema refuses: 400, naming the field.
    const invalid = await h.api('POST', 'workflow-template/', 'owner', { name: 'bl-bad', task_name: 'build-and-lint', task_data: { fail_on_severity: 'loud' }, workspace: WORKSPACE });
    expectStatus(invalid, 400);
    expect(Object.keys(invalid.json.validation_errors ?? {})).toContain('task_data.fail_on_severity');

    const page = await h.getJson(`workflow-template/?workspace=${WORKSPACE}`, 'contributor');
    expect(page).toMatchObject({ next: null, previous: null, cursor: null });
    const list = page.results;
    expect(list.map((t: any) => t.name)).toEqual([TEMPLATE]); // neither the duplicate nor the refused ones
    expect(list[0]).toMatchObject({ id: templateId, task_name: 'build-and-lint', task_data: fixed });

    expect(await h.getJson(`workflow-template/${templateId}/`, 'contributor')).toEqual(created.json);
    // Invisible to a non-member.
    expectStatus(await h.api('GET', `workflow-template/${templateId}/`, 'outsider'), 404);
  });

  it('starts run 1 over HTTP (the template wins on shared keys); an unknown template is 404, invalid data 400 and creates nothing', async () => {
    const res = await startRun({ version: '1.0-1', architectures: ['amd64', 'i386'], package: 'ignored' });
    expectStatus(res, 201);
    run1 = res.json;
    expect(run1).toMatchObject({
      id: expect.any(Number),
      task_type: 'Workflow',
      task_name: 'build-and-lint',
      workspace: WORKSPACE,
      created_by: expect.stringContaining('contributor'),
      parent: null,
      run: { name: TEMPLATE, number: '1', status: expect.any(String) },
      internal_collection: expect.any(Number),
    });
    expect(run1.task_data).toMatchObject({ package: 'hello', version: '1.0-1', architectures: ['amd64', 'i386'], fail_on_severity: 'none' });
    expect(run1.workflow_data).toMatchObject({ workflow_template_name: TEMPLATE });

    const before = await rootWorkflowIds();
    expect(before).toEqual([run1.id]);

    const unknown = await h.api('POST', 'workflow/', 'contributor', { template_name: 'no-such-template', workspace: WORKSPACE, task_data: { version: '1.0-1', architectures: ['amd64'] } });
    expectStatus(unknown, 404);

    const invalid = await startRun({ version: '1.0-1', architectures: [] });
    expectStatus(invalid, 400);
    expect(Object.keys(invalid.json.validation_errors ?? {})).toContain('task_data.architectures');
    const missing = await startRun({ architectures: ['amd64'] });
    expectStatus(missing, 400);
    expect(Object.keys(missing.json.validation_errors ?? {})).toContain('task_data.version');

    // Nothing was created (and no run number was taken: the CLI test below starts run 2).
    expect(await rootWorkflowIds()).toEqual(before);
  });

  it('runs to completion: two builds and two lintian checks joined by promises, a synchronization point and the summary', async () => {
    const tree = await waitForRunEnd(run1.id);
    const wf = tree.workflow;
    if (wf.status !== 'completed' || wf.result !== 'success') {
      // Say why: which child failed, with its errors, and what the workers and the stack logged.
      const why = flatten(tree.children)
        .filter((c) => c.status === 'aborted' || (c.result !== 'success' && c.result !== ''))
        .map((c) => `${c.id} ${c.task_name}: ${c.status}/${c.result} ${JSON.stringify(c.output_data?.errors ?? null)}`);
      throw new Error(`run 1 ended ${wf.status}/${wf.result}:\n${treeSummary(tree)}\n${why.join('\n')}\nroot errors: ${JSON.stringify(wf.output_data?.errors ?? null)}\n${diagnostics()}`);
    }
    expect({ status: wf.status, result: wf.result, run: wf.run }).toEqual({
      status: 'completed',
      result: 'success',
      run: { name: TEMPLATE, number: '1', status: 'finished' },
    });

    // The tree: 6 direct children, all completed/success.
    expect(tree.children).toHaveLength(6);
    const children = flatten(tree.children);
    expect(children).toHaveLength(6);
    for (const c of children) {
      expect({ id: c.id, status: c.status, result: c.result, parent: c.parent }).toEqual({ id: c.id, status: 'completed', result: 'success', parent: wf.id });
    }
    const kinds = children.map((c) => `${c.task_type}/${c.task_name}`).sort();
    expect(kinds).toEqual(['Internal/synchronization_point', 'Internal/workflow', 'Worker/lintian', 'Worker/lintian', 'Worker/mkdeb', 'Worker/mkdeb']);
    const byStep = Object.fromEntries(children.map((c) => [c.workflow_data.step, c]));
    expect(Object.keys(byStep).sort()).toEqual(['build-amd64', 'build-i386', 'checks-done', 'lintian-amd64', 'lintian-i386', 'summarise']);
    const workerNames = workers.map((w) => w.name);
    for (const arch of ['amd64', 'i386']) {
      const build = byStep[`build-${arch}`];
      const lint = byStep[`lintian-${arch}`];
      expect(build.task_data).toMatchObject({ package: 'hello', version: '1.0-1', architecture: arch });
      expect(workerNames).toContain(build.worker_name);
      expect(workerNames).toContain(lint.worker_name);
      // The check waited for its build (the promise's producer).
      expect(lint.dependencies).toContain(build.id);
      expect(build.artifacts).toHaveLength(1);
      expect(lint.artifacts).toHaveLength(1);
    }
    expect(byStep['checks-done'].dependencies.sort()).toEqual([byStep['lintian-amd64'].id, byStep['lintian-i386'].id].sort());
    expect(byStep['summarise'].dependencies).toEqual([byStep['checks-done'].id]);

    // The internal collection: the promises were replaced by the artifacts.
    const items = (await h.getJson(`collection/${wf.internal_collection}/items/`)).results as any[];
    const byName = Object.fromEntries(items.map((i) => [i.name, i]));
    expect(Object.keys(byName).sort()).toEqual(['build-amd64', 'build-i386', 'lintian-amd64', 'lintian-i386']);
    for (const arch of ['amd64', 'i386']) {
      const buildItem = byName[`build-${arch}`];
      const lintItem = byName[`lintian-${arch}`];
      expect(buildItem).toMatchObject({ child_type: 'artifact', category: 'debian:binary-package', artifact: byStep[`build-${arch}`].artifacts[0], removed_at: null });
      expect(lintItem).toMatchObject({ child_type: 'artifact', category: 'debian:lintian', artifact: byStep[`lintian-${arch}`].artifacts[0], removed_at: null });

      const buildArtifact = await h.getJson(`artifact/${buildItem.artifact}/`);
      expect(buildArtifact).toMatchObject({ category: 'debian:binary-package', workspace: WORKSPACE, complete: true, data: { architecture: arch, srcpkg_name: 'hello' } });
      expect(Object.keys(buildArtifact.files)).toEqual([`hello_1.0-1_${arch}.deb`]);
      const lintArtifact = await h.getJson(`artifact/${lintItem.artifact}/`);
      expect(lintArtifact).toMatchObject({ category: 'debian:lintian', workspace: WORKSPACE });

      // Each check's artifact is built-using its build's package.
      const relations = (await h.getJson(`artifact-relation/?artifact=${lintItem.artifact}`)) as any[];
      expect(relations).toContainEqual(expect.objectContaining({ artifact: lintItem.artifact, target: buildItem.artifact, type: 'built-using' }));
    }

    // The callback's summary on the root.
    const summary = wf.output_data?.summary;
    expect(summary).toMatchObject({ package: 'hello', version: '1.0-1' });
    expect(Object.keys(summary.architectures).sort()).toEqual(['amd64', 'i386']);
    for (const arch of ['amd64', 'i386']) {
      expect(summary.architectures[arch]).toMatchObject({ lintian_artifact: byName[`lintian-${arch}`].artifact, result: 'success' });
    }

    // Which workers built what (the scheduler may or may not spread the two builds).
    const placement = Object.fromEntries(children.filter((c) => c.task_type === 'Worker').map((c) => [c.workflow_data.step, c.worker_name]));
    console.log(`build-and-lint run 1 placement: ${JSON.stringify(placement)}`);
  });

  it('the CLI shows the latest run by name and starts run 2 from a YAML file, which completes; bl.1 still finds run 1', async () => {
    const show = await cliOk(['workflow', 'show', TEMPLATE, '--workspace', WORKSPACE]);
    const lines = show.stdout.split('\n');
    expect(lines[0]).toMatch(new RegExp(`^Workflow ${run1.id}\\s+build-and-lint\\s+completed \\(success\\)\\s+run ${TEMPLATE}\\.1 finished`));
    expect(show.stdout).toContain(`template  ${TEMPLATE}`);
    expect(show.stdout).toContain('Children:');
    for (const label of ['build amd64', 'build i386', 'lintian amd64', 'lintian i386', 'all checks done', 'summarise']) {
      const line = lines.find((l) => l.includes(JSON.stringify(label)));
      expect(line ?? `no line for ${label} in:\n${show.stdout}`).toMatch(/completed \(success\)/);
    }
    expect(lines.filter((l) => /Worker\/mkdeb/.test(l))).toHaveLength(2);
    expect(lines.filter((l) => /Worker\/lintian/.test(l))).toHaveLength(2);

    const params = join(h.work, 'src', 'params.yaml');
    writeFileSync(params, ['# run-time parameters', 'version: "2.0-1"', 'architectures:', '  - amd64', ''].join('\n'));
    const start = await cliOk(['workflow', 'start', TEMPLATE, '--workspace', WORKSPACE, '--data-file', 'params.yaml']);
    const m = /^Started workflow (\d+) \(bl\.2\)$/m.exec(start.stdout);
    if (!m) throw new Error(`unexpected output of workflow start: ${start.stdout}\n${start.stderr}`);
    const run2Id = Number(m[1]);
    expect(run2Id).toBeGreaterThan(run1.id);

    const tree = await waitForRunEnd(run2Id);
    expect(tree.workflow).toMatchObject({
      status: 'completed',
      result: 'success',
      task_data: { package: 'hello', version: '2.0-1', architectures: ['amd64'] },
      run: { name: TEMPLATE, number: '2', status: 'finished' },
    });
    // One architecture: build, check, synchronization point, callback.
    expect(flatten(tree.children).map((c) => `${c.task_name}:${c.status}/${c.result}`).sort()).toEqual([
      'lintian:completed/success',
      'mkdeb:completed/success',
      'synchronization_point:completed/success',
      'workflow:completed/success',
    ]);
    expect(Object.keys(tree.workflow.output_data.summary.architectures)).toEqual(['amd64']);

    // REANA lookups: NAME.1 is run 1, NAME (the latest) is now run 2, an unknown run is 404.
    const first = await h.getJson(`workflow/?workspace=${WORKSPACE}&name=${TEMPLATE}.1`);
    expect(first).toMatchObject({ id: run1.id, run: { name: TEMPLATE, number: '1', status: 'finished' } });
    const latest = await h.getJson(`workflow/?workspace=${WORKSPACE}&name=${TEMPLATE}`);
    expect(latest).toMatchObject({ id: run2Id, run: { number: '2' } });
    expectStatus(await h.api('GET', `workflow/?workspace=${WORKSPACE}&name=${TEMPLATE}.9`, 'contributor'), 404);

    // And the CLI by run number.
    const showFirst = await cliOk(['workflow', 'show', `${TEMPLATE}.1`, '--workspace', WORKSPACE]);
    expect(showFirst.stdout.split('\n')[0]).toMatch(new RegExp(`^Workflow ${run1.id}\\s`));
  });

  describe('abort', () => {
    /** Settles, then checks for a few more seconds that nothing comes back to life (a late populate, a dispatch). */
    async function expectAbortedAndQuiet(id: number): Promise<any> {
      const settled = await waitForTree(
        id,
        (t) => isFinished(t.workflow) && t.workflow.run?.status !== 'queued' && flatten(t.children).every(isFinished),
        'and every child to be finished after the abort',
      );
      await sleep(8_000);
      const later = await h.getJson(`workflow/${id}/`);
      const left = flatten(later.children).filter((c) => !isFinished(c));
      expect(left.map((c) => `${c.id} ${c.task_name} ${c.status}`)).toEqual([]);
      expect(flatten(later.children).length).toBe(flatten(settled.children).length);
      for (const c of flatten(later.children)) {
        // Aborted, or finished before the abort reached it.
        if (c.status === 'completed') expect({ id: c.id, result: c.result }).toEqual({ id: c.id, result: 'success' });
        else expect(c.status).toBe('aborted');
      }
      expect(later.workflow.status).toBe('aborted');
      return later;
    }

    it('a running run aborted before its workers finish: root aborted, run stopped, every child aborted or completed', async () => {
      const res = await startRun({ version: '3.0-1', architectures: ['amd64', 'i386'] });
      expectStatus(res, 201);
      const wf = res.json;
      // Run 3 when everything above passed.
      expect(wf.run).toMatchObject({ name: TEMPLATE, number: expect.stringMatching(/^\d+$/) });
      const number = wf.run.number as string;
      // Populated and running (REANA has no queued → stopped), nothing finished yet on the workers.
      const populated = await waitForTree(wf.id, (t) => (t.workflow.run?.status === 'running' && t.children.length === 6) || isFinished(t.workflow), 'to be populated', 60_000);
      expect(populated.workflow.status).toBe('running');
      const unfinished = flatten(populated.children).filter((c) => !isFinished(c));
      expect(unfinished.length).toBeGreaterThan(0);

      const aborted = await h.api('POST', `work-request/${wf.id}/abort/`, 'contributor');
      expectStatus(aborted, 200);
      expect(aborted.json).toMatchObject({ id: wf.id, status: 'aborted', aborted_by: expect.stringContaining('contributor'), run: { number, status: 'stopped' } });

      const later = await expectAbortedAndQuiet(wf.id);
      expect(later.workflow.run).toEqual({ name: TEMPLATE, number, status: 'stopped' });
      expect(flatten(later.children).some((c) => c.status === 'aborted')).toBe(true);
      // The callback never ran.
      expect(flatten(later.children).find((c) => c.workflow_data.step === 'summarise')).toMatchObject({ status: 'aborted' });
      expect(later.workflow.output_data?.summary).toBeUndefined();
      // A second abort is refused.
      expectStatus(await h.api('POST', `work-request/${wf.id}/abort/`, 'contributor'), 400);
    });

    it('a run aborted right after it was started: nothing is left pending, blocked or running', async () => {
      const res = await startRun({ version: '4.0-1', architectures: ['amd64'] });
      expectStatus(res, 201);
      const aborted = await h.api('POST', `work-request/${res.json.id}/abort/`, 'contributor');
      expectStatus(aborted, 200);
      expect(aborted.json).toMatchObject({ id: res.json.id, status: 'aborted' });
      // Still queued when aborted: REANA's table allows queued → failed but not queued → stopped.
      expect(['stopped', 'failed']).toContain(aborted.json.run.status);
      const later = await expectAbortedAndQuiet(res.json.id);
      expect(later.workflow.run.status).toBe(aborted.json.run.status);
    });
  });

  it('sends a notification to a channel when a work request succeeds (to the local mailbox)', async () => {
    const created = await cliOk(['admin', 'notification-channel', 'create', 'team', '--to', 'team@example.org']);
    expect(created.stdout).toMatch(/notification channel team \(to team@example\.org\)/);

    const res = await h.api('POST', 'work-request/', 'contributor', {
      task_name: 'noop',
      task_data: {},
      workspace: WORKSPACE,
      event_reactions: { on_success: [{ action: 'send-notification', channel: 'team' }] },
    });
    expectStatus(res, 200);
    const id = res.json.id as number;
    const done = await h.waitForFinished(id);
    expect({ status: done.status, result: done.result }).toEqual({ status: 'completed', result: 'success' });

    const mailbox = join(h.stack!.dataDir, 'mailbox');
    const subject = `Subject: WorkRequest ${id} completed in success`;
    const text = await waitFor(
      `a message in ${mailbox}`,
      async () => (existsSync(mailbox) ? readFileSync(mailbox, 'utf8') : ''),
      (t) => t.includes(subject),
      { timeoutMs: 60_000, describe: diagnostics },
    );
    // The message (mbox: each starts with a "From " line) that carries the subject.
    const message = text.split(/^(?=From \S+ )/m).find((m) => m.includes(subject))!;
    expect(message).toMatch(/^To: team@example\.org$/m);
    expect(message).toMatch(/^From: \S+@\S+$/m);
    expect(message).toContain(`Work request ${id} (Worker/noop) in debusine/${WORKSPACE} is completed with result success.`);
  });
});
