/**
 * Security finding 4: a task runs with a short-lived token scoped to its one work request (the
 * worker's own token never reaches it), with a minimal environment, and as another user when
 * the worker is told to (as root).
 */
import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnTaskProcess, taskEnvironment } from '../../../cli/worker/task-process';
import { schedule } from '../../../shared/app/scheduler';
import { TASK_TOKEN_TTL_MS } from '../../../shared/app/task-tokens';
import { getNextForWorker } from '../../../shared/app/workers';
import { createSchedulingWorld, type SchedulingWorld } from '../../support/scheduling';
import { workApiClient, type WorkApiClient } from '../../support/work-api';
import { httpClient } from '../../support/world';

let world: SchedulingWorld;
let http: WorkApiClient;
beforeEach(async () => {
  world = await createSchedulingWorld();
  const work = workApiClient(world.deps);
  const artifacts = httpClient(world.deps);
  // Artifact routes through the artifact API's client, the rest through the work API's.
  http = (method, url, opts = {}) => (url.startsWith('/api/1.0/artifact/') ? artifacts(method, url, opts) : work(method, url, opts)) as never;
});

async function runningRequest() {
  const worker = await world.addWorker('w.lan');
  const wr = await world.submit('noop', { result: true });
  await schedule(world.deps);
  const running = await getNextForWorker(world.deps, await worker.caller());
  expect(running?.id).toBe(wr.id);
  return { worker, wr };
}

describe('task tokens', () => {
  it('are issued to the worker running the request only, and act for that request only', async () => {
    const { worker, wr } = await runningRequest();
    expect((await http('POST', `/api/1.0/work-request/${wr.id}/task-token/`, { token: world.keys['contributor'], body: {} })).status).toBe(403);
    const other = await world.addWorker('other.lan');
    expect((await http('POST', `/api/1.0/work-request/${wr.id}/task-token/`, { token: other.key, body: {} })).status).toBe(404);
    const issued = await http('POST', `/api/1.0/work-request/${wr.id}/task-token/`, { token: worker.key, body: {} });
    expect(issued.status).toBe(201);
    expect(issued.headers['cache-control']).toBe('no-store');
    expect(Date.parse(issued.json.expire_at) - world.deps.clock.now().getTime()).toBe(TASK_TOKEN_TTL_MS);
    const task = issued.json.token as string;
    expect(task).toMatch(/^[0-9a-f]{64}$/);

    // Its own request's outputs: yes. Another request's: no.
    const own = await http('POST', '/api/1.0/artifact/', { token: task, body: { category: 'testing', data: {}, files: {}, work_request: wr.id } });
    expect(own.status).toBe(201);
    const second = await world.submit('noop', { result: true });
    const foreign = await http('POST', '/api/1.0/artifact/', { token: task, body: { category: 'testing', data: {}, files: {}, work_request: second.id } });
    expect(foreign.status).toBe(403);
    // None of the worker's own calls.
    expect((await http('GET', '/api/1.0/work-request/get-next-for-worker/', { token: task })).status).toBe(403);
    expect((await http('PUT', `/api/1.0/work-request/${wr.id}/completed/`, { token: task, body: { result: 'success' } })).status).toBe(403);
    expect((await http('POST', `/api/1.0/work-request/${wr.id}/heartbeat/`, { token: task, body: {} })).status).toBe(403);
    expect((await http('PUT', '/api/1.0/worker/dynamic-metadata/', { token: task, body: {} })).status).toBe(403);
    expect((await http('GET', '/api/1.0/worker/queue/', { token: task })).status).toBe(403);
    expect((await http('POST', `/api/1.0/work-request/${wr.id}/task-token/`, { token: task, body: {} })).status).toBe(403);
    // Reads: its own workspace, not another private one (the worker's token passes every display check).
    expect((await http('GET', `/api/1.0/artifact/${own.json.id}/`, { token: task })).status).toBe(200);
    const listed = await http('GET', '/api/1.0/artifact/?workspace=pub', { token: task });
    expect(listed.status).toBe(200);

    // Dies with the request: once it is completed the token is refused.
    expect((await http('PUT', `/api/1.0/work-request/${wr.id}/completed/`, { token: worker.key, body: { result: 'success' } })).status).toBe(200);
    expect((await http('GET', `/api/1.0/artifact/${own.json.id}/`, { token: task })).status).toBe(401);
  });

  it('a task token does not see private workspaces other than its request\'s', async () => {
    const { worker, wr } = await runningRequest();
    const task = (await http('POST', `/api/1.0/work-request/${wr.id}/task-token/`, { token: worker.key, body: {} })).json.token as string;
    const elsewhere = await http('POST', '/api/1.0/artifact/', { token: world.keys['admin'], body: { category: 'testing', workspace: 'System', data: {}, files: {} } });
    expect(elsewhere.status).toBe(201);
    expect((await http('GET', `/api/1.0/artifact/${elsewhere.json.id}/`, { token: worker.key })).status).toBe(200);
    expect((await http('GET', `/api/1.0/artifact/${elsewhere.json.id}/`, { token: task })).status).toBe(404);
  });
});

describe('the task process', () => {
  it('gets a minimal environment: no credentials or worker settings, HOME and TMPDIR in its directory', () => {
    const env = taskEnvironment(
      { PATH: '/usr/bin', LANG: 'C.UTF-8', AWS_SECRET_ACCESS_KEY: 'secret', CONVEYOR_TOKEN: 'x', CONVEYOR_ACTIVATION_TOKEN: 'y', HOME: '/root', SSH_AUTH_SOCK: '/s' },
      '/w/work',
      7,
    );
    expect(env).toEqual({ PATH: '/usr/bin', LANG: 'C.UTF-8', HOME: '/w/work', TMPDIR: '/w/work', CONVEYOR_WORK_REQUEST_ID: '7' });
  });

  const asRoot = process.getuid?.() === 0 ? it : it.skip;
  asRoot('runs as the --task-user when the worker is root: its directory is handed over', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'conveyor-task-user-'));
    chmodSync(parent, 0o711);
    try {
      const dir = join(parent, 'wr-1');
      const handle = await spawnTaskProcess(
        { workRequest: { id: 1, task_name: 'noop', task_data: { result: true } }, dir, server: 'http://127.0.0.1:9', token: 'c'.repeat(64), runAs: { uid: 65534, gid: 65534 } },
        () => {},
      );
      const exit = await handle.done;
      expect(statSync(join(dir, 'request.json')).uid).toBe(65534);
      expect(statSync(join(dir, 'outcome.json')).uid).toBe(65534); // written by the task itself
      expect(exit).toMatchObject({ exitCode: 0, outcome: { result: 'success' } });
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  }, 30_000);
});
