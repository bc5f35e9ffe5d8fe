/**
 * The compiled command line (build/compile.ts, run by npm's `prepare`): the CLI bundle runs
 * without tsx, the task-runner bundle runs a noop task to its outcome, every Lambda handler bundle
 * exports a handler, and bin/conveyor runs the bundle only while it is newer than the sources.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compile, REPO_ROOT } from '../../build/compile';
import { taskProcessSpawner } from '../../cli/worker/task-process';
import { FUNCTIONS } from '../../shared/manifest';

jest.setTimeout(180_000);

let out: string;
let files: string[];
beforeAll(async () => {
  // Inside the repository, so that the bundles find node_modules (the AWS SDK stays external).
  out = mkdtempSync(join(REPO_ROOT, '.compiled-test-'));
  files = await compile(out);
});
afterAll(() => rmSync(out, { recursive: true, force: true }));

it('builds the CLI, the task runner and one bundle per function', () => {
  expect(files).toEqual(expect.arrayContaining([join(out, 'cli.js'), join(out, 'task-runner.js'), ...FUNCTIONS.map((f) => join(out, f.entry.replace(/\.ts$/, '.js')))]));
});

it('the CLI bundle runs without tsx: --help and a subcommand help', () => {
  const help = execFileSync(process.execPath, [join(out, 'cli.js'), '--help'], { encoding: 'utf8' });
  expect(help).toMatch(/^Usage: conveyor/);
  expect(help).toMatch(/\bworker\b/);
  const worker = execFileSync(process.execPath, [join(out, 'cli.js'), 'worker', '--help'], { encoding: 'utf8' });
  expect(worker).toMatch(/--concurrency/);
});

it('the task-runner bundle runs a noop task to a success outcome, and a bad one to configure-failed', async () => {
  const spawnTask = taskProcessSpawner({ command: process.execPath, args: [join(out, 'task-runner.js')] });
  const run = async (taskName: string, taskData: Record<string, unknown>) => {
    const dir = mkdtempSync(join(tmpdir(), 'conveyor-runner-'));
    try {
      const lines: string[] = [];
      const handle = await spawnTask({ workRequest: { id: 1, task_name: taskName, task_data: taskData }, dir, server: 'http://127.0.0.1:9', token: 'unused' }, (l) => lines.push(l));
      return { exit: await handle.done, lines };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  const ok = await run('noop', {});
  expect(ok.exit).toMatchObject({ exitCode: 0, outcome: { result: 'success' } });
  const bad = await run('noop', { result: 'not-a-result' });
  expect(bad.exit.outcome).toMatchObject({ result: 'error', output_data: { errors: [expect.objectContaining({ code: 'configure-failed' })] } });
  // Any other task goes through the registry (task-registry.js, a second bundle loaded on demand).
  const other = await run('servernoop', {});
  expect(other.exit.outcome).toEqual({ result: 'error', output_data: { errors: [{ code: 'configure-failed', message: 'servernoop is not a Worker task this worker can run' }] }, resource_usage: expect.any(Object) });
});

it('task-runner.js is small: zod and the task registry are in task-registry.bundle.js, read only for other tasks than noop and sleep', () => {
  expect(statSync(join(out, 'task-runner.js')).size).toBeLessThan(16_000);
  expect(statSync(join(out, 'task-registry.bundle.js')).size).toBeGreaterThan(100_000);
  expect(readFileSync(join(out, 'task-runner.js'), 'utf8')).toContain('require("./task-registry.js")');
});

it('cli.js and task-runner.js run their bundle with a V8 code cache: written by the first run, used as is by the next', () => {
  const cacheDir = join(out, '.v8-cache');
  rmSync(cacheDir, { recursive: true, force: true });
  // `help`, not `--help`: a `--help` answered before is printed again without running the bundle (help-cache.ts).
  const help = () => execFileSync(process.execPath, [join(out, 'cli.js'), 'help'], { encoding: 'utf8' });
  const first = help();
  const cached = readdirSync(cacheDir).filter((name) => name.startsWith('cli.bundle.js-'));
  expect(cached).toEqual([expect.stringMatching(new RegExp(`-${process.version.replace(/\./g, '\\.')}-${process.arch}\\.bin$`))]);
  const written = statSync(join(cacheDir, cached[0]!)).mtimeMs;
  // The cache is rewritten only when V8 rejects it (or there is none): untouched means it was used.
  expect(help()).toBe(first);
  expect(readdirSync(cacheDir).filter((name) => name.startsWith('cli.bundle.js-'))).toEqual(cached);
  expect(statSync(join(cacheDir, cached[0]!)).mtimeMs).toBe(written);
  // A rejected cache (here: garbage of the same name) is replaced after the run, which still succeeds.
  writeFileSync(join(cacheDir, cached[0]!), 'not a code cache');
  expect(help()).toBe(first);
  expect(readFileSync(join(cacheDir, cached[0]!)).length).toBeGreaterThan(1000);
});

it('a --help answered before is printed again byte for byte, as the bundle itself prints it, without running it', () => {
  const run = (file: string, args: string[]) => spawnSync(process.execPath, [join(out, file), ...args], { encoding: 'utf8' });
  for (const words of [[], ['worker'], ['artifact', 'create'], ['dev'], ['admin', 'user']]) {
    const direct = run('cli.bundle.js', [...words, '--help']);
    expect(direct).toMatchObject({ status: 0, stderr: '' });
    const first = run('cli.js', [...words, '--help']);
    const kept = readdirSync(join(out, '.v8-cache')).filter((f) => f.startsWith('help-') && f.endsWith(`-pipe-${words.join('+') || '(program)'}.txt`));
    expect(kept).toHaveLength(1);
    const again = run('cli.js', [...words, '--help']);
    expect([first.status, first.stdout, first.stderr]).toEqual([0, direct.stdout, '']);
    expect([again.status, again.stdout, again.stderr]).toEqual([0, direct.stdout, '']);
    // Printed from the kept file: a marker written into it shows.
    writeFileSync(join(out, '.v8-cache', kept[0]!), `${direct.stdout}(kept)\n`);
    expect(run('cli.js', [...words, '--help']).stdout).toBe(`${direct.stdout}(kept)\n`);
  }
});

it('every function bundle loads and exports a handler', () => {
  for (const f of FUNCTIONS) {
    const script = `const m = require(${JSON.stringify(join(out, f.entry.replace(/\.ts$/, '.js')))}); if (typeof m.handler !== 'function') process.exit(3);`;
    const res = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    expect({ fn: f.name, status: res.status, stderr: res.stderr }).toEqual({ fn: f.name, status: 0, stderr: '' });
  }
});

describe('bin/conveyor', () => {
  let tree: string;
  beforeEach(() => {
    // A miniature checkout: bin/conveyor, a "compiled" dist/cli.js and "sources" that say which ran.
    tree = mkdtempSync(join(tmpdir(), 'conveyor-bin-'));
    for (const dir of ['bin', 'dist', 'cli', 'shared', 'functions', 'node_modules']) mkdirSync(join(tree, dir), { recursive: true });
    copyFileSync(join(REPO_ROOT, 'bin/conveyor'), join(tree, 'bin/conveyor'));
    symlinkSync(join(REPO_ROOT, 'node_modules/tsx'), join(tree, 'node_modules/tsx'));
    writeFileSync(join(tree, 'cli/main.ts'), 'console.log("sources", process.argv.slice(2).join(" "));\n');
    writeFileSync(join(tree, 'shared/x.ts'), '');
    writeFileSync(join(tree, 'dist/cli.js'), 'console.log("compiled", process.argv.slice(2).join(" "));\n');
  });
  afterEach(() => rmSync(tree, { recursive: true, force: true }));
  const run = () => execFileSync('sh', [join(tree, 'bin/conveyor'), 'a', 'b'], { encoding: 'utf8' }).trim();
  const age = (path: string, secondsAgo: number) => {
    const t = new Date(Date.now() - secondsAgo * 1000);
    utimesSync(join(tree, path), t, t);
  };

  it('runs dist/cli.js while it is newer than every source', () => {
    age('cli/main.ts', 60);
    age('shared/x.ts', 60);
    expect(run()).toBe('compiled a b');
  });

  it('runs the sources when one is newer than the bundle, or there is no bundle', () => {
    age('cli/main.ts', 60);
    age('dist/cli.js', 30); // shared/x.ts was just written: newer
    expect(run()).toBe('sources a b');
    rmSync(join(tree, 'dist/cli.js'));
    expect(run()).toBe('sources a b');
  });
});
