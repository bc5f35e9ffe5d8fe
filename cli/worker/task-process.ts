/**
 * The worker's side of a task subprocess: writes the request file, starts task-runner.ts in its
 * own process group (so killing it also stops the programs the task started), turns its
 * stdout and stderr into log lines and reads the outcome file when it ends.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { WireWorkRequest } from '../client/wire';
import { LineSplitter } from './lines';
import { parseChildOutcome, type ChildOutcome, type ChildRequest } from './protocol';

export interface TaskSpec {
  workRequest: Pick<WireWorkRequest, 'id' | 'task_name' | 'task_data'> & Partial<Pick<WireWorkRequest, 'dynamic_task_data'>>;
  /** A fresh directory for this request; the task's scratch directory is `<dir>/work`. */
  dir: string;
  server: string;
  /** A token acting for this one work request (never the worker's own). */
  token: string;
  scope?: string;
  /** Run the task as this user (the worker runs as root): the directory is handed over to it. */
  runAs?: { uid: number; gid: number };
}

export interface TaskExit {
  /** What the task reported, when it got as far as writing it. */
  outcome?: ChildOutcome;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the process could not be started at all. */
  spawnError?: string;
}

export interface TaskHandle {
  readonly done: Promise<TaskExit>;
  kill(signal: NodeJS.Signals): void;
}

export type SpawnTask = (spec: TaskSpec, onLine: (line: string) => void) => Promise<TaskHandle>;

/** How to start the task runner: through tsx when running from TypeScript sources. */
export function taskRunnerCommand(): { command: string; args: string[] } {
  const ext = extname(__filename);
  const script = join(__dirname, `task-runner${ext}`);
  if (ext !== '.ts') return { command: process.execPath, args: [script] };
  return { command: process.execPath, args: ['--import', pathToFileURL(require.resolve('tsx')).href, script] };
}

/** After the process exits, how long to wait for its output pipes (a stray grandchild may hold them open). */
const PIPE_GRACE_MS = 2000;

/** Starts each task with `runner` (default: the runner beside this module, compiled or TypeScript). */
export const taskProcessSpawner =
  (runner?: { command: string; args: string[] }): SpawnTask =>
  (spec, onLine) =>
    spawnWith(runner ?? taskRunnerCommand(), spec, onLine);

export const spawnTaskProcess: SpawnTask = taskProcessSpawner();

async function spawnWith(runner: { command: string; args: string[] }, spec: TaskSpec, onLine: (line: string) => void): Promise<TaskHandle> {
  return spawnPrepared(runner, spec, await prepareTaskFiles(spec), onLine);
}

/** Starts a fresh task process for a request whose files are written. */
export function spawnPrepared(runner: { command: string; args: string[] }, spec: TaskSpec, files: TaskFiles, onLine: (line: string) => void): TaskHandle {
  const { command, args } = runner;
  const child = spawn(command, [...args, files.requestFile, files.outcomeFile], {
    cwd: files.workDir,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: taskEnvironment(process.env, files.workDir, spec.workRequest.id),
    ...(spec.runAs ?? {}),
  });
  return superviseTask(child, files.outcomeFile, onLine);
}

export interface TaskFiles {
  workDir: string;
  requestFile: string;
  outcomeFile: string;
}

/** Writes the request file into the request's fresh directory (handed to the task user, if any). */
export async function prepareTaskFiles(spec: TaskSpec): Promise<TaskFiles> {
  const workDir = join(spec.dir, 'work');
  await mkdir(workDir, { recursive: true });
  const requestFile = join(spec.dir, 'request.json');
  const outcomeFile = join(spec.dir, 'outcome.json');
  const request: ChildRequest = {
    server: spec.server,
    token: spec.token,
    ...(spec.scope ? { scope: spec.scope } : {}),
    work_request: {
      id: spec.workRequest.id,
      task_name: spec.workRequest.task_name,
      task_data: spec.workRequest.task_data ?? {},
      dynamic_task_data: spec.workRequest.dynamic_task_data ?? null,
    },
    work_dir: workDir,
  };
  // It holds the task's token: readable by the task's user only.
  await writeFile(requestFile, JSON.stringify(request), { mode: 0o600 });
  const identity = spec.runAs;
  if (identity) await chownTree(spec.dir, identity.uid, identity.gid);
  return { workDir, requestFile, outcomeFile };
}

/**
 * The handle of a running task process (its own process group): its output as log lines, its
 * outcome file read when it ends. Called before the process can have ended (a spare is checked alive first).
 */
export function superviseTask(child: ChildProcess, outcomeFile: string, onLine: (line: string) => void): TaskHandle {
  const out = new LineSplitter(onLine);
  const err = new LineSplitter(onLine);
  child.stdout?.on('data', (chunk: Buffer) => out.push(chunk));
  child.stderr?.on('data', (chunk: Buffer) => err.push(chunk));

  const done = new Promise<TaskExit>((resolve) => {
    let settled = false;
    const finish = async (exit: Omit<TaskExit, 'outcome'>): Promise<void> => {
      if (settled) return;
      settled = true;
      out.flush();
      err.flush();
      let outcome: ChildOutcome | undefined;
      if (existsSync(outcomeFile)) outcome = parseChildOutcome(await readFile(outcomeFile, 'utf8').catch(() => ''));
      resolve({ ...exit, ...(outcome ? { outcome } : {}) });
    };
    child.on('error', (e) => void finish({ exitCode: null, signal: null, spawnError: e.message }));
    child.on('exit', (code, signal) => {
      setTimeout(() => void finish({ exitCode: code, signal }), PIPE_GRACE_MS).unref();
    });
    child.on('close', (code, signal) => void finish({ exitCode: code, signal }));
  });

  return {
    done,
    kill(signal) {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) {
        // The runner is gone; programs it left behind in its group still get the signal.
        if (child.pid !== undefined) killGroup(child.pid, signal);
        return;
      }
      if (!killGroup(child.pid, signal)) child.kill(signal);
    },
  };
}

/**
 * What of the worker's environment a task sees (security finding 4): enough to run programs
 * and reach the server, nothing else (no credentials, no CONVEYOR_* settings of the worker).
 */
export const TASK_ENVIRONMENT_PASSED = ['PATH', 'LANG', 'LC_ALL', 'TZ', 'http_proxy', 'https_proxy', 'no_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY'];

export function taskEnvironment(parent: NodeJS.ProcessEnv, workDir: string, workRequestId: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const name of TASK_ENVIRONMENT_PASSED) if (parent[name] !== undefined) env[name] = parent[name];
  env['PATH'] ??= '/usr/local/bin:/usr/bin:/bin';
  env['HOME'] = workDir;
  env['TMPDIR'] = workDir;
  env['CONVEYOR_WORK_REQUEST_ID'] = String(workRequestId);
  return env;
}

async function chownTree(path: string, uid: number, gid: number): Promise<void> {
  await chown(path, uid, gid);
  for (const entry of await readdir(path, { withFileTypes: true })) {
    const child = join(path, entry.name);
    if (entry.isDirectory()) await chownTree(child, uid, gid);
    else await chown(child, uid, gid);
  }
}

export function killGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}
