/**
 * A real `conveyor worker` (`node --import tsx cli/main.ts worker ...`, what bin/conveyor runs) as a
 * subprocess for end-to-end tests: its own process group, a temporary HOME/XDG directories, token
 * file and work dir, and its stderr (the worker's log) kept for assertions and diagnostics.
 *
 *   const worker = await startWorker({ server: stack.url, fqdn: 'bee.e2e.test', activationToken });
 *   worker.name;                      // as registered ("bee-e2e-test")
 *   worker.token();                   // the worker token from its token file
 *   await worker.stop();              // SIGTERM; asserts exit code 0 and nothing left behind
 *   await worker.kill9();             // SIGKILL to its group and every task process it started
 *
 * Also the polling helper the work-request tests share (`waitFor`).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, processesMentioning } from './stack';

const TSX_LOADER = join(REPO_ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs');
const CLI_MAIN = join(REPO_ROOT, 'cli', 'main.ts');

export interface WorkerProcessOptions {
  server: string;
  /** `--fqdn`: the worker is named after it. */
  fqdn: string;
  /** `--activation-token`: registers enabled at once. */
  activationToken?: string;
  /** `--heartbeat-interval` in seconds (default 1 here: tests shorten everything). */
  heartbeatIntervalSeconds?: number;
  concurrency?: number;
  tasks?: string[];
  /** `--grace` in seconds. */
  graceSeconds?: number;
  /** Extra environment for the worker (on top of the runner's, minus CONVEYOR_* and AWS_*). */
  env?: Record<string, string>;
  /** How long to wait for "ready" in its log (default 120 s). */
  startTimeoutMs?: number;
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface WorkerProcess {
  /** The name the server gave it (from its log: "registered as NAME"). */
  name: string;
  /** Process id (also its process group id). */
  pid: number;
  tokenFile: string;
  workDir: string;
  /** The worker token (64 hex), read from its token file. */
  token(): string;
  /** Everything it logged so far (stdout and stderr). */
  output(): string;
  /** Resolves with the first log line matching `pattern` (also one already logged). */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Set once the process has exited. */
  exitStatus(): ExitStatus | undefined;
  exited: Promise<ExitStatus>;
  /** Process ids of the task processes it runs now (task-runner children of the worker, in their own groups). */
  taskPids(): number[];
  /** SIGTERM; asserts exit code 0 within `timeoutMs` and that no task process is left; removes its temp dir. */
  stop(timeoutMs?: number): Promise<ExitStatus>;
  /** SIGKILL to the worker's group and to every task process group it started (a crashed machine). */
  kill9(): Promise<ExitStatus>;
  /** Kills whatever is left (no assertion) and removes its temp dir: for afterAll. */
  dispose(): Promise<void>;
}

/** The test runner's environment minus Conveyor/AWS settings. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('CONVEYOR_') && !name.startsWith('AWS_')) env[name] = value;
  }
  return { ...env, ...extra };
}

export async function startWorker(options: WorkerProcessOptions): Promise<WorkerProcess> {
  const home = mkdtempSync(join(tmpdir(), 'conveyor-e2e-worker-'));
  for (const dir of ['home', 'config', 'cache', 'work']) mkdirSync(join(home, dir), { recursive: true });
  const tokenFile = join(home, 'config', 'conveyor', 'worker-token');
  const workDir = join(home, 'work');
  const args = [
    '--import',
    TSX_LOADER,
    CLI_MAIN,
    'worker',
    '--server',
    options.server,
    '--fqdn',
    options.fqdn,
    '--token-file',
    tokenFile,
    '--work-dir',
    workDir,
    '--heartbeat-interval',
    String(options.heartbeatIntervalSeconds ?? 1),
    '--concurrency',
    String(options.concurrency ?? 1),
    ...(options.activationToken ? ['--activation-token', options.activationToken] : []),
    ...(options.tasks ? ['--tasks', options.tasks.join(',')] : []),
    ...(options.graceSeconds !== undefined ? ['--grace', String(options.graceSeconds)] : []),
  ];
  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    detached: true, // its own process group: kill9() takes the group down, jest's signals do not reach it
    stdio: ['ignore', 'pipe', 'pipe'],
    env: cleanEnv({
      HOME: join(home, 'home'),
      XDG_CONFIG_HOME: join(home, 'config'),
      XDG_CACHE_HOME: join(home, 'cache'),
      ...options.env,
    }),
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not spawn `conveyor worker`');
  let output = '';
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer): void => {
    output += chunk.toString('utf8');
    for (const listener of listeners) listener();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  let status: ExitStatus | undefined;
  const exited = new Promise<ExitStatus>((resolveExit) =>
    child.once('exit', (code, signal) => {
      status = { code, signal };
      for (const listener of listeners) listener();
      resolveExit(status);
    }),
  );
  /** Task processes seen while the worker ran (they outlive a SIGKILLed worker, being in groups of their own). */
  const seenTasks = new Set<number>();
  const taskPids = (): number[] => {
    // Children running cli/worker/task-runner (tsx also gives the worker an esbuild service child); not
    // the spares waiting for a request (`--spare`: a spare handed a request retitles itself).
    const pids = childrenOf(pid).filter((child) => commandLineOf(child).includes('task-runner') && !commandLineOf(child).includes('--spare'));
    for (const p of pids) seenTasks.add(p);
    return pids;
  };

  const waitForLog = (pattern: RegExp, timeoutMs = 60_000): Promise<string> =>
    new Promise((resolveWait, reject) => {
      const check = (): boolean => {
        const line = output.split('\n').find((l) => pattern.test(l));
        if (line !== undefined) {
          done();
          resolveWait(line);
          return true;
        }
        if (status) {
          done();
          reject(new Error(`worker ${options.fqdn} exited (${describe(status)}) before logging ${pattern}:\n${output}`));
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`worker ${options.fqdn} did not log ${pattern} within ${timeoutMs} ms:\n${output}`));
      }, timeoutMs);
      const listener = (): void => void check();
      const done = (): void => {
        clearTimeout(timer);
        listeners.delete(listener);
      };
      listeners.add(listener);
      check();
    });

  const killEverything = (): void => {
    taskPids();
    killQuietly(-pid, 'SIGKILL');
    for (const task of seenTasks) {
      killQuietly(-task, 'SIGKILL');
      killQuietly(task, 'SIGKILL');
    }
    for (const stray of processesMentioning(home)) killQuietly(stray.pid, 'SIGKILL');
  };

  // Poll the process tree now and then, so kill9() knows task processes even if they were started
  // between two calls.
  const treeWatch = setInterval(() => {
    if (!status) taskPids();
  }, 200);
  treeWatch.unref();
  void exited.then(() => clearInterval(treeWatch));

  let name: string;
  try {
    const registered = await waitForLog(/registered as \S+|using the worker token/, options.startTimeoutMs ?? 120_000);
    await waitForLog(/ready on /, options.startTimeoutMs ?? 120_000);
    const m = /registered as (\S+?)[;,( ]/.exec(registered + ' ');
    if (!m) throw new Error(`cannot tell the worker's name from: ${registered}`);
    name = m[1]!;
  } catch (err) {
    killEverything();
    rmSync(home, { recursive: true, force: true });
    throw err;
  }

  let removed = false;
  const removeHome = (): void => {
    if (removed) return;
    removed = true;
    rmSync(home, { recursive: true, force: true });
  };

  return {
    name,
    pid,
    tokenFile,
    workDir,
    token: () => readFileSync(tokenFile, 'utf8').trim(),
    output: () => output,
    waitForLog,
    exitStatus: () => status,
    exited,
    taskPids,
    async stop(timeoutMs = 90_000) {
      taskPids();
      if (!status) killQuietly(pid, 'SIGTERM');
      const result = await Promise.race([exited, sleep(timeoutMs).then(() => undefined)]);
      if (!result) {
        killEverything();
        throw new Error(`worker ${name} did not exit within ${timeoutMs} ms of SIGTERM:\n${output}`);
      }
      const strays = [...seenTasks].filter(alive);
      if (strays.length) {
        killEverything();
        throw new Error(`worker ${name} left task processes behind: ${strays.join(', ')}\n${output}`);
      }
      if (result.code !== 0) throw new Error(`worker ${name} exited with ${describe(result)} after SIGTERM:\n${output}`);
      removeHome();
      return result;
    },
    async kill9() {
      killEverything();
      const result = await Promise.race([exited, sleep(10_000).then(() => undefined)]);
      if (!result) throw new Error(`worker ${name} survived SIGKILL`);
      // Its task processes were in other groups: make sure they are gone too.
      for (let i = 0; i < 50 && [...seenTasks].some(alive); i++) await sleep(100);
      return result;
    },
    async dispose() {
      killEverything();
      await Promise.race([exited, sleep(5_000)]);
      removeHome();
    },
  };
}

/** Linux: the process ids whose parent is `pid` (from /proc/<pid>/stat). */
export function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === pid) children.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return children;
}

/** `pid state command line` of each process still there (for failure messages). */
export function describeProcesses(pids: number[]): string {
  return pids
    .map((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
        const commandLine = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
        return `${pid} ${state} ${commandLine}`;
      } catch {
        return `${pid} gone`;
      }
    })
    .join('\n');
}

function commandLineOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z'; // a zombie is dead, just not reaped yet
  } catch {
    return false;
  }
}

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

function describe(status: ExitStatus): string {
  return status.signal ? `signal ${status.signal}` : `code ${status.code}`;
}

/** A pause that does not keep the process (jest) alive on its own. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolveSleep) => setTimeout(resolveSleep, ms).unref());
}

/**
 * Polls `probe` with backoff (250 ms doubling up to 2 s) until `done(value)` or the timeout;
 * on timeout the error carries the last value (and `describe()`, e.g. a worker's log).
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T>,
  done: (value: T) => boolean,
  opts: { timeoutMs?: number; describe?: () => string } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
  let delay = 250;
  let last: T | undefined;
  for (;;) {
    last = await probe();
    if (done(last)) return last;
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)?.slice(0, 2000)}${opts.describe ? `\n${opts.describe()}` : ''}`);
    }
    await sleep(delay);
    delay = Math.min(delay * 2, 2_000);
  }
}
