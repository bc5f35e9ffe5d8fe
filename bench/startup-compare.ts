/**
 * Start-up comparison for bench/RESULTS-startup2.md: the p50 of N runs of each command measured back to
 * back (interleaved, round-robin) with `node -e 0` and an empty script, so a loaded machine inflates all of
 * them alike; ratios to `node -e 0` are what to compare between runs.
 *
 *   node --import tsx bench/startup-compare.ts [RUNS] [dist-dir ...]
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { taskProcessSpawner } from '../cli/worker/task-process';

const REPO_ROOT = resolve(__dirname, '..');
const runs = Number(process.argv[2] ?? 15);
const dists = process.argv.slice(3).length ? process.argv.slice(3).map((d) => resolve(d)) : [join(REPO_ROOT, 'dist')];

/** CPU seconds of this process's waited-for children (cutime + cstime, in 1/100 s): less inflated by load than wall time. */
function childrenCpuMs(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) * 10;
}

const p50 = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

async function main(): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'conveyor-startup-'));
  const empty = join(tmp, 'empty.js');
  writeFileSync(empty, '');
  const floorRunner = join(tmp, 'floor-runner.js');
  writeFileSync(floorRunner, "require('node:fs').writeFileSync(process.argv[3], JSON.stringify({result:'success',resource_usage:{cpu_time:0,memory:0}}));");
  type Probe = { name: string; run: () => Promise<void> | void };
  const command = (args: string[]) => () => void execFileSync(process.execPath, args, { stdio: 'ignore', cwd: REPO_ROOT });
  let n = 0;
  /** The task process as the worker starts it, spawn → outcome read; `expected` is the outcome's result. */
  const task = (script: string, taskName = 'noop', taskData: Record<string, unknown> = {}, expected = 'success') => {
    const spawnTask = taskProcessSpawner({ command: process.execPath, args: [script] });
    return async () => {
      const dir = join(tmp, `task-${n++}`);
      mkdirSync(dir);
      const handle = await spawnTask({ workRequest: { id: 0, task_name: taskName, task_data: taskData }, dir, server: 'http://127.0.0.1:9', token: 'unused' }, () => undefined);
      const exit = await handle.done;
      if (exit.outcome?.result !== expected) throw new Error(`${script}: ${JSON.stringify(exit)}`);
    };
  };
  const probes: Probe[] = [
    { name: '`node -e 0`', run: command(['-e', '0']) },
    { name: '`node empty.js`', run: command([empty]) },
    { name: 'task process floor (a script writing the outcome, same spawner)', run: task(floorRunner) },
    ...dists.flatMap((d) => [
      { name: `\`node ${d.replace(REPO_ROOT + '/', '')}/cli.js --help\``, run: command([join(d, 'cli.js'), '--help']) },
      { name: `\`node ${d.replace(REPO_ROOT + '/', '')}/cli.js help\` (the bundle prints the help)`, run: command([join(d, 'cli.js'), 'help']) },
      { name: `noop task process (\`${d.replace(REPO_ROOT + '/', '')}/task-runner.js\`)`, run: task(join(d, 'task-runner.js')) },
      {
        name: `a task through the registry (noop with bad data → configure-failed, \`${d.replace(REPO_ROOT + '/', '')}\`)`,
        run: task(join(d, 'task-runner.js'), 'noop', { result: 'no' }, 'error'),
      },
    ]),
  ];
  const samples = probes.map(() => [] as number[]);
  const cpuMs = probes.map(() => 0);
  try {
    for (let i = 0; i < runs + 1; i++) {
      for (const [k, probe] of probes.entries()) {
        const cpu = childrenCpuMs();
        const t = performance.now();
        await probe.run();
        if (i === 0) continue; // the first round warms the file cache and writes the code caches
        samples[k]!.push(performance.now() - t);
        cpuMs[k]! += childrenCpuMs() - cpu;
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const base = p50(samples[0]!);
  const baseCpu = cpuMs[0]!;
  process.stdout.write(`| | wall p50 (${runs} runs, loaded machine) | ÷ \`node -e 0\` | CPU ms per run (mean, user + sys) | ÷ \`node -e 0\` |\n| --- | ---: | ---: | ---: | ---: |\n`);
  for (const [k, probe] of probes.entries()) {
    const m = p50(samples[k]!);
    const cpu = cpuMs[k]! / runs;
    process.stdout.write(`| ${probe.name} | ${m.toFixed(1)} ms | ${(m / base).toFixed(2)}× | ${cpu.toFixed(1)} | ${(cpuMs[k]! / baseCpu).toFixed(2)}× |\n`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
