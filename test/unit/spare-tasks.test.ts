/**
 * Warm task processes (cli/worker/spare-tasks.ts, issue 12): a request handed to a spare runs in
 * that spare, in its own directory and environment as a fresh process would; every task gets its
 * own process; a spare that died is replaced by a fresh spawn; closing kills the spares; a spare
 * whose worker is gone exits by itself.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SpareTasks } from '../../cli/worker/spare-tasks';
import { SPARE_ARG } from '../../cli/worker/spare-protocol';
import type { TaskSpec } from '../../cli/worker/task-process';

jest.setTimeout(60_000);

const tsx = pathToFileURL(require.resolve('tsx')).href;
/** The stand-in runner that reports where and as what it ran. */
const envRunner = { command: process.execPath, args: ['--import', tsx, join(__dirname, '../fixtures/spare-env-runner.ts')] };

let dir: string;
const pools: SpareTasks[] = [];
beforeEach(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'conveyor-spares-')));
});
afterEach(() => {
  for (const pool of pools.splice(0)) pool.close();
  rmSync(dir, { recursive: true, force: true });
});

const pool = (size: number, runner?: { command: string; args: string[] }): SpareTasks => {
  const p = new SpareTasks({ size, ...(runner ? { runner } : {}) });
  pools.push(p);
  return p;
};

const spec = (id: number, task_data: Record<string, unknown> = { result: true }): TaskSpec => ({
  workRequest: { id, task_name: 'noop', task_data },
  dir: join(dir, `wr-${id}`),
  server: 'http://127.0.0.1:9',
  token: '',
});

async function waitFor(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('spare task processes', () => {
  it('hands a request to the waiting spare: it runs there, in the request directory and environment; the next request gets another process', async () => {
    const spares = pool(1, envRunner);
    spares.warm();
    const [sparePid] = spares.sparePids();
    expect(sparePid).toBeDefined();
    // Let the spare finish loading before the request arrives.
    await new Promise((r) => setTimeout(r, 1500));
    const lines: string[] = [];
    const first = await spares.spawn(spec(5), (l) => lines.push(l));
    const exit = await first.done;
    expect(exit).toMatchObject({ exitCode: 0, outcome: { result: 'success' } });
    const ran = exit.outcome!.output_data as Record<string, unknown>;
    const workDir = join(dir, 'wr-5', 'work');
    expect(ran).toMatchObject({ pid: sparePid, cwd: workDir, home: workDir, tmpdir: workDir, work_request_id: '5' });
    expect(lines).toEqual(['handed over']);
    expect(ran['title']).toBe('conveyor task-runner: work request 5');
    expect(spares.starts).toEqual({ warm: 1, fresh: 0 });

    // A new spare was started for the next request: one process per task, never reused.
    const [nextSpare] = spares.sparePids();
    expect(nextSpare).toBeDefined();
    expect(nextSpare).not.toBe(sparePid);
    const second = await (await spares.spawn(spec(6), () => {})).done;
    expect((second.outcome!.output_data as Record<string, unknown>)).toMatchObject({ pid: nextSpare, work_request_id: '6' });
    expect(spares.starts).toEqual({ warm: 2, fresh: 0 });
  });

  it('runs the real noop task through a spare of the real task runner', async () => {
    const spares = pool(1);
    spares.warm();
    const exit = await (await spares.spawn(spec(7, { result: false }), () => {})).done;
    expect(exit).toMatchObject({ exitCode: 0, outcome: { result: 'failure', resource_usage: { cpu_time: expect.any(Number) } } });
    expect(spares.starts.warm).toBe(1);
  });

  it('a spare that died is dropped: the request gets a fresh process, and a new spare is started', async () => {
    const spares = pool(1, envRunner);
    spares.warm();
    const [dead] = spares.sparePids();
    process.kill(-dead!, 'SIGKILL');
    await waitFor(() => spares.sparePids().length === 0, 'the dead spare to be dropped');
    const exit = await (await spares.spawn(spec(8), () => {})).done;
    const ran = exit.outcome!.output_data as Record<string, unknown>;
    expect(ran).toMatchObject({ work_request_id: '8', cwd: join(dir, 'wr-8', 'work') });
    expect(ran['pid']).not.toBe(dead);
    expect(spares.starts).toEqual({ warm: 0, fresh: 1 });
    expect(spares.sparePids()).toHaveLength(1);
  });

  it('close kills every spare and starts no more', async () => {
    const spares = pool(2, envRunner);
    spares.warm();
    const pids = spares.sparePids();
    expect(pids).toHaveLength(2);
    spares.close();
    await waitFor(() => pids.every((pid) => !alive(pid)), 'the spares to be gone');
    spares.warm();
    expect(spares.sparePids()).toEqual([]);
    // After close a request still runs, in a fresh process.
    const exit = await (await spares.spawn(spec(9), () => {})).done;
    expect(exit.outcome?.result).toBe('success');
    expect(spares.starts).toEqual({ warm: 0, fresh: 1 });
    expect(spares.sparePids()).toEqual([]);
  });

  it('a spare whose worker closed its stdin without a request exits at once, having run nothing', async () => {
    const child = spawn(envRunner.command, [...envRunner.args, SPARE_ARG], { stdio: ['pipe', 'pipe', 'pipe'] });
    const lines: string[] = [];
    child.stdout.on('data', (c: Buffer) => lines.push(c.toString()));
    child.stdin.end();
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(0);
    expect(lines).toEqual([]);
  });
});
