/**
 * Real `conveyor worker` processes (bin/conveyor worker) for the dispatch benchmarks: each registers
 * with an activation token (so it starts enabled), announces its metadata, long-polls its own SQS
 * queue and runs every task in a subprocess, exactly as a worker machine would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

export interface WorkerProcess {
  /** The name the server gave it (slug of its FQDN). */
  name: string;
  fqdn: string;
  child: ChildProcess;
  /** The last lines it wrote to stderr (for error messages). */
  tail: string[];
  exited: Promise<number | null>;
}

export interface StartWorkerOptions {
  repoRoot: string;
  server: string;
  fqdn: string;
  activationToken: string;
  /** Token file and work dirs go under this directory. */
  dir: string;
  concurrency: number;
  timeoutMs?: number;
  /** The tasks it runs (`--tasks`; default noop). */
  tasks?: string[];
  /** Every line it writes to stderr (bench/contention.ts counts what its completions handed over). */
  onLine?: (line: string) => void;
}

const TAIL_LINES = 30;

export async function startWorker(options: StartWorkerOptions): Promise<WorkerProcess> {
  const dir = join(options.dir, options.fqdn);
  mkdirSync(dir, { recursive: true });
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env['CONVEYOR_ACTIVATION_TOKEN'];
  const child = spawn(
    join(options.repoRoot, 'bin', 'conveyor'),
    [
      'worker',
      '--server',
      options.server,
      '--fqdn',
      options.fqdn,
      '--token-file',
      join(dir, 'worker-token'),
      '--activation-token',
      options.activationToken,
      '--concurrency',
      String(options.concurrency),
      '--work-dir',
      join(dir, 'work'),
      '--tasks',
      (options.tasks ?? ['noop']).join(','),
      '--grace',
      '10',
    ],
    { cwd: options.repoRoot, env, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const tail: string[] = [];
  let name: string | undefined;
  let ready: () => void = () => undefined;
  const readyPromise = new Promise<void>((resolveReady) => (ready = resolveReady));
  let buffered = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    buffered += chunk;
    let newline: number;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      tail.push(line);
      if (tail.length > TAIL_LINES) tail.shift();
      options.onLine?.(line);
      const registered = /registered as (\S+)/.exec(line);
      if (registered) name = registered[1];
      if (line.includes(' ready on ')) ready();
    }
  });
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));
  const timeoutMs = options.timeoutMs ?? 60_000;
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    readyPromise.then(() => 'ready' as const),
    exited.then(() => 'exited' as const),
    new Promise<'timeout'>((resolveTimeout) => (timer = setTimeout(() => resolveTimeout('timeout'), timeoutMs))),
  ]);
  clearTimeout(timer);
  if (outcome !== 'ready' || !name) {
    child.kill('SIGKILL');
    throw new Error(`worker ${options.fqdn} did not become ready (${outcome}); its last output:\n${tail.join('\n')}`);
  }
  return { name, fqdn: options.fqdn, child, tail, exited };
}

/** SIGTERM (the worker finishes its tasks, disconnects and exits), SIGKILL after `timeoutMs`. */
export async function stopWorker(worker: WorkerProcess, timeoutMs = 20_000): Promise<number | null> {
  if (worker.child.exitCode !== null || worker.child.signalCode !== null) return worker.child.exitCode;
  worker.child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([
    worker.exited,
    new Promise<'timeout'>((resolveTimeout) => (timer = setTimeout(() => resolveTimeout('timeout'), timeoutMs))),
  ]);
  clearTimeout(timer);
  if (code === 'timeout') {
    worker.child.kill('SIGKILL');
    return worker.exited;
  }
  return code;
}

/** Last resort on failure or Ctrl-C: no worker process outlives the benchmark. */
export function killWorkers(workers: Iterable<WorkerProcess>): void {
  for (const w of workers) {
    if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
  }
}
