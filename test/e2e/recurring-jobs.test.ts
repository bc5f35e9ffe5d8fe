/**
 * Recurring jobs end to end on the local stack (`conveyor dev`, every schedule each second) with a real
 * `conveyor worker`: a git-import job against a `file://` repository imports, then reports
 * SUCCESS_NOCHANGE, then SUCCESS after a new commit; a broken remote backs off 1×, 2×, 4×, 8× a 3 s
 * interval and turns FAILING at the 5th failure; try-again brings it back; a QUIESCING worker finishes
 * its run and goes OFFLINE (QUIESCED); a worker killed (SIGKILL) mid-import against a loopback remote that
 * never answers gets its run reclaimed (RECLAIMED, a new run due now). That test kills the only worker,
 * so it runs last.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { E2eHarness, WORKSPACE, requireTool } from './harness';
import { waitFor, type WorkerProcess } from './worker-process';

jest.setTimeout(600_000);

const h = new E2eHarness({ tmpPrefix: 'conveyor-e2e-recurring-', dirs: ['home', 'config', 'cache', 'git'] });
let worker: WorkerProcess;
let repo: string;

function git(...args: string[]): void {
  execFileSync('git', args, { cwd: repo, env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@e', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@e' } });
}

beforeAll(async () => {
  requireTool('git', ['--version'], 'the git-import task mirrors with git');
  await h.start({ CONVEYOR_DEV_SCHEDULE_SECONDS: '1', CONVEYOR_WATCHDOG_STALE_SECONDS: '15' });
  repo = join(h.work, 'git', 'repo');
  mkdirSync(repo, { recursive: true });
  git('init', '--quiet', '--initial-branch=main');
  writeFileSync(join(repo, 'README'), 'one\n');
  git('add', 'README');
  git('commit', '--quiet', '-m', 'one');
  worker = (await h.startWorkers(['recurring.e2e.test']))[0]!;
}, 240_000);

afterAll(() => h.stop(), 180_000);

async function createJob(url: string, updateInterval: number): Promise<any> {
  const res = await h.api('POST', 'recurring-job/', 'owner', { workspace: WORKSPACE, kind: 'git-import', target: { url }, update_interval: updateInterval });
  h.expectStatus(res, 201);
  return res.json;
}

async function waitForResults(id: number, count: number, timeoutMs = 120_000): Promise<any[]> {
  const page = await waitFor(
    `recurring job ${id} to have ${count} result(s)`,
    () => h.getJson(`recurring-job/${id}/results/?limit=100`),
    (p: any) => p.results.length >= count,
    { timeoutMs, describe: h.diagnostics },
  );
  return [...page.results].reverse(); // oldest first
}

test('git-import: imports, then SUCCESS_NOCHANGE, then SUCCESS after a new commit', async () => {
  const job = await createJob(`file://${repo}`, 86_400);
  const [first] = await waitForResults(job.id, 1);
  expect(first).toMatchObject({ status: 'SUCCESS', machine: worker.name, output_artifact: expect.any(Number), log_artifact: expect.any(Number) });
  const mirror = await h.getJson(`artifact/${first.output_artifact}/`);
  expect(mirror).toMatchObject({ category: 'conveyor:git-mirror', data: { refs: { 'refs/heads/main': expect.stringMatching(/^[0-9a-f]{40}$/) } } });

  h.expectStatus(await h.api('POST', `recurring-job/${job.id}/request/`, 'contributor'), 200);
  const second = (await waitForResults(job.id, 2))[1];
  expect(second).toMatchObject({ status: 'SUCCESS_NOCHANGE', requesting_user: 'user:contributor' });

  writeFileSync(join(repo, 'README'), 'two\n');
  git('commit', '--quiet', '-am', 'two');
  h.expectStatus(await h.api('POST', `recurring-job/${job.id}/request/`, 'contributor'), 200);
  const third = (await waitForResults(job.id, 3))[2];
  expect(third).toMatchObject({ status: 'SUCCESS' });
  const shown = await h.getJson(`recurring-job/${job.id}/`);
  expect(shown).toMatchObject({ review_status: 'REVIEWED', consecutive_failures: 0, run: { state: 'PENDING' } });
  expect(shown.last_results.map((r: any) => r.status)).toEqual(['SUCCESS', 'SUCCESS_NOCHANGE', 'SUCCESS']);
});

test('a broken remote backs off 1x, 2x, 4x, 8x the interval, turns FAILING at the 5th failure; try-again brings it back', async () => {
  const interval = 3;
  const job = await createJob(`file://${join(h.work, 'git', 'missing')}`, interval);
  const results = await waitForResults(job.id, 5, 240_000);
  expect(results.map((r) => r.status)).toEqual(Array(5).fill('FAILURE_REMOTE_BROKEN'));
  const starts = results.map((r) => Date.parse(r.date_job_started));
  for (let k = 1; k < 5; k++) {
    // The next run is due at started + interval × 2^(k−1); the tick (each second) and the worker add a little.
    const gap = (starts[k]! - starts[k - 1]!) / 1000;
    expect(gap).toBeGreaterThanOrEqual(interval * 2 ** (k - 1));
    expect(gap).toBeLessThan(interval * 2 ** (k - 1) + 20);
  }
  const failing = await h.getJson(`recurring-job/${job.id}/`);
  expect(failing).toMatchObject({ review_status: 'FAILING', run: null, next_due: null, consecutive_failures: 5 });

  const again = await h.api('POST', `recurring-job/${job.id}/try-again/`, 'owner');
  h.expectStatus(again, 200);
  expect(again.json).toMatchObject({ review_status: 'REVIEWED', run: { requesting_user: 'user:owner' } });
  expect((await waitForResults(job.id, 6))[5]).toMatchObject({ status: 'FAILURE_REMOTE_BROKEN', requesting_user: 'user:owner' });
  h.expectStatus(await h.api('PATCH', `recurring-job/${job.id}/`, 'owner', { review_status: 'SUSPENDED' }), 200);
});

test('a QUIESCING worker finishes what it runs, takes nothing new, then goes OFFLINE (QUIESCED)', async () => {
  const res = await h.api('POST', 'work-request/', 'contributor', { task_name: 'sleep', task_data: { seconds: 4 }, workspace: WORKSPACE });
  h.expectStatus(res, 200);
  await h.waitForWorkRequest(res.json.id, (wr) => wr.status === 'running', 'to run');
  const quiesced = await h.api('POST', `worker/${worker.name}/quiesce/`, 'admin', { message: 'e2e drain' });
  h.expectStatus(quiesced, 200);
  expect(quiesced.json).toMatchObject({ state: 'QUIESCING' });
  const job = await createJob(`file://${repo}`, 86_400);
  expect((await h.waitForFinished(res.json.id)).result).toBe('success');
  const events = await waitFor(
    `worker ${worker.name} to go OFFLINE`,
    () => h.getJson(`worker/${worker.name}/events/`, 'admin'),
    (p: any) => p.results.some((e: any) => e.type === 'OFFLINE'),
    { timeoutMs: 60_000, describe: h.diagnostics },
  );
  expect(events.results.map((e: any) => [e.type, e.items.OFFLINE_REASON ?? null])).toEqual([
    ['QUIESCE', null],
    ['OFFLINE', 'QUIESCED'],
  ]);
  // The job's run was released but not given to the OFFLINE worker.
  const shown = await h.getJson(`recurring-job/${job.id}/`);
  expect(shown.run).toMatchObject({ state: 'PENDING', released_at: expect.any(String) });
  expect((await h.getJson(`recurring-job/${job.id}/results/`)).results).toEqual([]);
  h.expectStatus(await h.api('POST', `worker/${worker.name}/online/`, 'admin'), 200);
  expect((await waitForResults(job.id, 1))[0]).toMatchObject({ status: 'SUCCESS' });
});

test('a worker killed (SIGKILL) mid-run: the watchdog reclaims the run, RECLAIMED, a new run due now', async () => {
  // A slow remote: an HTTP git server on loopback that takes the request and never answers, so
  // `git clone --mirror` is still waiting when the worker dies.
  const requests: IncomingMessage[] = [];
  const sockets = new Set<Socket>();
  const slowRemote = createServer((req) => requests.push(req));
  slowRemote.on('connection', (socket) => sockets.add(socket));
  await new Promise<void>((resolve) => slowRemote.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = slowRemote.address() as AddressInfo;
    const job = await createJob(`http://127.0.0.1:${port}/slow.git`, 86_400);
    await waitFor('git to ask the slow remote', async () => requests.length, (n) => n > 0, { timeoutMs: 120_000, describe: h.diagnostics });
    expect(worker.taskPids().length).toBeGreaterThan(0);
    const running = await h.getJson(`recurring-job/${job.id}/`);
    expect(running.run).toMatchObject({ state: 'RUNNING', machine: worker.name });
    expect((await worker.kill9()).signal).toBe('SIGKILL');
    const killedAt = Date.now();

    // No heartbeat for 15 s (CONVEYOR_WATCHDOG_STALE_SECONDS): the watchdog aborts the request as worker-failed.
    const [reclaimed] = await waitForResults(job.id, 1, 120_000);
    expect(reclaimed).toMatchObject({ status: 'RECLAIMED', machine: worker.name, log_artifact: null });
    const shown = await h.getJson(`recurring-job/${job.id}/`);
    expect(shown).toMatchObject({ review_status: 'REVIEWED', consecutive_failures: 1, run: { state: 'PENDING', machine: null } });
    // Due now: not after the reclaim, not an interval (a day) or a back-off away.
    expect(Date.parse(shown.run.date_due)).toBeGreaterThanOrEqual(killedAt - 1000);
    expect(Date.parse(shown.run.date_due)).toBeLessThanOrEqual(Date.now());
    const events = await h.getJson(`recurring-job/${job.id}/events/?limit=100`);
    expect(events.results.map((e: any) => e.type)).toContain('RECLAIM');
    h.expectStatus(await h.api('PATCH', `recurring-job/${job.id}/`, 'owner', { review_status: 'SUSPENDED' }), 200);
  } finally {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => slowRemote.close(resolve));
  }
});
