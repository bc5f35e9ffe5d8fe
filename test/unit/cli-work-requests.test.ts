/** `conveyor work-request ...` against a fake API (fetch replaced). */
import { Command } from 'commander';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerClientCommands } from '../../cli/client/commands';
import { DEFAULT_UPLOAD_TUNING } from '../../cli/client/upload';
import type { WireWorkRequest } from '../../cli/client/wire';
import { newLogLines, registerWorkRequestCommands } from '../../cli/client/work-requests';
import { fakeApiFetch, type ApiCall } from '../support/fake-api';
import { wireWorkRequest as wr } from '../support/wire';

type Seen = ApiCall;

describe('conveyor work-request', () => {
  let seen: Seen[];
  let answer: (s: Seen) => { status: number; body?: unknown };
  let stdout: string;
  let sleeps: number[];
  let dir: string;

  beforeEach(() => {
    seen = [];
    stdout = '';
    sleeps = [];
    dir = mkdtempSync(join(tmpdir(), 'conveyor-cli-wr-'));
    answer = () => ({ status: 404, body: { title: 'Not found' } });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const run = async (...args: string[]): Promise<string> => {
    stdout = '';
    const program = new Command().exitOverride().configureOutput({ writeErr: () => {} });
    const fakeFetch = fakeApiFetch((s) => {
      seen.push(s);
      return answer(s);
    });
    registerWorkRequestCommands(program, {
      env: { CONVEYOR_SERVER: 'https://c.example', CONVEYOR_TOKEN: 't'.repeat(64) },
      cwd: () => dir,
      homeDir: dir,
      stdout: { write: (chunk: string) => (stdout += chunk) },
      stderr: { write: () => true },
      fetch: fakeFetch,
      uploadTuning: DEFAULT_UPLOAD_TUNING,
      sleep: async (ms) => {
        sleeps.push(ms);
      },
    });
    await program.parseAsync(['work-request', ...args], { from: 'user' });
    return stdout;
  };

  it('is registered with the client commands', () => {
    const program = new Command();
    registerClientCommands(program);
    const group = program.commands.find((c) => c.name() === 'work-request');
    expect(group?.commands.map((c) => c.name()).sort()).toEqual(['abort', 'create', 'list', 'priority', 'retry', 'show', 'unblock']);
  });

  it('creates a request from --data or --data-file and prints its id', async () => {
    answer = () => ({ status: 200, body: wr(12, { task_data: { result: false } }) });
    expect(await run('create', 'noop', '--data', '{"result": false}', '--workspace', 'team')).toBe('12\n');
    expect(seen[0]).toMatchObject({ method: 'POST', path: 'work-request/', body: { task_name: 'noop', task_data: { result: false }, workspace: 'team' } });
    expect(seen[0]!.headers.Token).toBe('t'.repeat(64));

    writeFileSync(join(dir, 'data.json'), '{"input": {"binary_artifacts": [3]}}');
    await run('create', 'lintian', '--data-file', 'data.json');
    expect(seen[1]!.body).toEqual({ task_name: 'lintian', task_data: { input: { binary_artifacts: [3] } } });
    expect(JSON.parse(await run('--json', 'create', 'noop'))).toMatchObject({ id: 12 });
    expect(seen[2]!.body).toEqual({ task_name: 'noop', task_data: {} });

    await expect(run('create', 'noop', '--data', '[1]')).rejects.toThrow('--data must be a JSON object');
    await expect(run('create', 'noop', '--data', '{')).rejects.toThrow('--data is not valid JSON');
    await expect(run('create', 'noop', '--data', '{}', '--data-file', 'data.json')).rejects.toThrow(/cannot be used with/);
    answer = () => ({ status: 400, body: { title: 'Invalid task_data', validation_errors: { 'task_data.bogus': ['unknown field'] } } });
    await expect(run('create', 'noop', '--data', '{"bogus": 1}')).rejects.toThrow('400 Invalid task_data\n  task_data.bogus: unknown field');
  });

  it('lists with filters, following cursors with --all', async () => {
    answer = (s) =>
      s.path.includes('cursor=c2')
        ? { status: 200, body: { results: [wr(1, { status: 'completed', result: 'success', worker: 1, worker_name: 'w1' })], next: null, cursor: null } }
        : { status: 200, body: { results: [wr(3), wr(2, { status: 'running', worker: 1, worker_name: 'w1' })], next: 'x', cursor: 'c2' } };
    const table = await run('list', '--workspace', 'team', '--status', 'running', '--task', 'noop', '--all');
    expect(seen[0]!.path).toBe('work-request/?workspace=team&status=running&task_name=noop&limit=50');
    expect(seen[1]!.path).toContain('cursor=c2');
    expect(table.split('\n')[0]).toMatch(/^ID\s+TASK\s+STATUS\s+RESULT\s+WORKER\s+CREATED\s+CREATED BY$/);
    expect(table).toMatch(/\n1\s+noop\s+completed\s+success\s+w1\s/);
    expect(table.trim().split('\n')).toHaveLength(4);

    seen = [];
    const limited = await run('list', '--limit', '2');
    expect(seen).toHaveLength(1);
    expect(seen[0]!.path).toBe('work-request/?limit=2');
    expect(limited).toContain('(more: raise --limit or use --all)');
    expect(JSON.parse(await run('--json', 'list', '--limit', '1')).map((w: WireWorkRequest) => w.id)).toEqual([3]);
    await expect(run('list', '--status', 'sleeping')).rejects.toThrow(/Allowed choices/);
  });

  it('shows a request', async () => {
    answer = () => ({
      status: 200,
      body: wr(7, { status: 'completed', result: 'failure', worker: 1, worker_name: 'w1', duration: 3, artifacts: [40], output_data: { runtime_statistics: { duration: 3 } }, logtail: ['noop: result failure'], heartbeat_at: '2030-01-01T00:00:02Z' }),
    });
    const shown = await run('show', '7');
    expect(shown).toContain('Work request 7  noop (Worker)\n');
    expect(shown).toMatch(/status\s+completed \(failure\)/);
    expect(shown).toMatch(/worker\s+w1/);
    expect(shown).toMatch(/artifacts\s+40/);
    expect(shown).toContain('Log tail (heartbeat at 2030-01-01T00:00:02Z):\n  noop: result failure\n');
    expect(JSON.parse(await run('--json', 'show', '7')).output_data).toEqual({ runtime_statistics: { duration: 3 } });
    await expect(run('show', 'x')).rejects.toThrow('Invalid work request id "x"');
  });

  it('follows a request: new log lines and status changes until it finishes', async () => {
    const states = [
      wr(8),
      wr(8),
      wr(8, { status: 'running', worker: 1, worker_name: 'w1', logtail: ['a', 'b'], heartbeat_at: 't1' }),
      wr(8, { status: 'running', worker: 1, worker_name: 'w1', logtail: ['b', 'c', 'd'], heartbeat_at: 't2' }),
      wr(8, { status: 'running', worker: 1, worker_name: 'w1', logtail: ['b', 'c', 'd'], heartbeat_at: 't2' }),
      wr(8, { status: 'completed', result: 'success', worker: 1, worker_name: 'w1', logtail: ['c', 'd', 'e'], heartbeat_at: 't3' }),
    ];
    answer = () => ({ status: 200, body: states.shift() });
    const out = await run('show', '8', '--follow');
    expect(out).toBe(
      [
        'Work request 8 (noop): pending',
        'Work request 8: running on w1',
        '  a',
        '  b',
        '  c',
        '  d',
        '  e',
        'Work request 8: completed (success) on w1',
        '',
      ].join('\n'),
    );
    expect(sleeps).toEqual([2000, 2000, 2000, 2000, 2000]);
    expect(seen.every((s) => s.method === 'GET' && s.path === 'work-request/8/')).toBe(true);
  });

  it('works out which log lines are new', () => {
    expect(newLogLines([], ['a'])).toEqual(['a']);
    expect(newLogLines(['a', 'b', 'c'], ['b', 'c', 'd'])).toEqual(['d']);
    expect(newLogLines(['a', 'b'], ['a', 'b'])).toEqual([]);
    expect(newLogLines(['a', 'b'], ['x', 'y'])).toEqual(['x', 'y']);
  });

  it('retries, aborts, unblocks and re-prioritises', async () => {
    answer = (s) => {
      if (s.path === 'work-request/5/retry/') return { status: 200, body: wr(6, { supersedes: 5 }) };
      if (s.path === 'work-request/5/abort/') return { status: 200, body: wr(5, { status: 'aborted', aborted_by: 'user:alice' }) };
      if (s.path === 'work-request/5/unblock/') return { status: 200, body: wr(5, { status: 'pending' }) };
      if (s.path === 'work-request/5/') return { status: 200, body: wr(5, { priority_adjustment: (s.body as { priority_adjustment: number }).priority_adjustment, effective_priority: (s.body as { priority_adjustment: number }).priority_adjustment }) };
      return { status: 404, body: { title: 'Not found' } };
    };
    expect(await run('retry', '5')).toBe('Retried work request 5 as 6\n');
    expect(seen[0]).toMatchObject({ method: 'POST', path: 'work-request/5/retry/' });
    expect(await run('abort', '5')).toBe('Work request 5: aborted\n');
    expect(await run('unblock', '5', '--accept', '--notes', 'looks fine')).toBe('Work request 5: pending\n');
    expect(seen[2]).toMatchObject({ method: 'POST', path: 'work-request/5/unblock/', body: { action: 'accept', notes: 'looks fine' } });
    await run('unblock', '5', '--reject');
    expect(seen[3]!.body).toEqual({ action: 'reject' });
    await expect(run('unblock', '5')).rejects.toThrow('Give --accept, --reject or --notes');
    await expect(run('unblock', '5', '--accept', '--reject')).rejects.toThrow(/cannot be used with/);
    expect(await run('priority', '5', '10')).toBe('Work request 5: priority 10 (adjustment 10)\n');
    expect(seen[seen.length - 1]).toMatchObject({ method: 'PATCH', path: 'work-request/5/', body: { priority_adjustment: 10 } });
    expect(await run('priority', '5', '-5')).toBe('Work request 5: priority -5 (adjustment -5)\n');
    await expect(run('priority', '5', 'high')).rejects.toThrow('Invalid priority adjustment "high"');
  });
});
