/**
 * Warm task processes (issue 12: the spawn off the critical path of the next task). The worker
 * keeps up to one spare task runner per slot, started ahead of its request (`task-runner --spare`):
 * Node is up and the task code loaded while the previous task runs or the worker waits. A request
 * is handed to a spare over its stdin (cli/worker/spare-hand-over.ts); the spare becomes that
 * request's one task process, exactly as a fresh one (its own process group, directory, HOME,
 * TMPDIR, environment, `--task-user` identity), and a new spare is started for the next request.
 * No process ever runs two tasks. A spare that died meanwhile is dropped and the request gets a
 * fresh process; a worker that stops kills its spares (and a spare whose worker is gone sees its
 * stdin close and exits).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { killGroup, prepareTaskFiles, spawnPrepared, superviseTask, taskEnvironment, taskRunnerCommand, type SpawnTask, type TaskHandle } from './task-process';
import { SPARE_ARG, type HandOver } from './spare-protocol';

export interface SpareTaskOptions {
  /** Spares kept ready: one per slot (the worker's concurrency). */
  size: number;
  /** `--task-user`: spares start as that user, as fresh task processes do. */
  runAs?: { uid: number; gid: number };
  /** How to start the task runner (default: the one beside this module). */
  runner?: { command: string; args: string[] };
}

export class SpareTasks {
  private readonly spares: ChildProcess[] = [];
  private closed = false;
  private readonly runner: { command: string; args: string[] };
  /** Tasks handed to a spare, and tasks that needed a fresh process: for tests and the worker's log. */
  readonly starts = { warm: 0, fresh: 0 };

  constructor(private readonly options: SpareTaskOptions) {
    if (!Number.isInteger(options.size) || options.size < 0) throw new Error('the number of spares must be a whole number');
    this.runner = options.runner ?? taskRunnerCommand();
  }

  /** Process ids of the spares waiting now. */
  sparePids(): number[] {
    return this.spares.flatMap((child) => (child.pid === undefined ? [] : [child.pid]));
  }

  /** Starts spares up to the target (the worker calls it once it is ready for work). */
  warm(): void {
    while (!this.closed && this.spares.length < this.options.size) this.startSpare();
  }

  /** A SpawnTask: the request goes to a live spare if there is one, else to a fresh process; then a spare is started again. */
  readonly spawn: SpawnTask = async (spec, onLine) => {
    const files = await prepareTaskFiles(spec);
    const spare = this.takeLiveSpare();
    let handle: TaskHandle;
    if (spare) {
      handle = superviseTask(spare, files.outcomeFile, onLine);
      const handOver: HandOver = { request_file: files.requestFile, outcome_file: files.outcomeFile, work_dir: files.workDir, work_request_id: spec.workRequest.id };
      spare.stdin!.end(`${JSON.stringify(handOver)}\n`);
      this.starts.warm += 1;
    } else {
      handle = spawnPrepared(this.runner, spec, files, onLine);
      this.starts.fresh += 1;
    }
    this.warm();
    return handle;
  };

  /** Kills every spare (the worker is stopping). */
  close(): void {
    this.closed = true;
    for (const spare of this.spares.splice(0)) {
      if (spare.pid !== undefined && !killGroup(spare.pid, 'SIGKILL')) spare.kill('SIGKILL');
    }
  }

  private takeLiveSpare(): ChildProcess | undefined {
    while (this.spares.length) {
      const spare = this.spares.shift()!;
      if (spare.exitCode === null && spare.signalCode === null && spare.pid !== undefined && spare.stdin?.writable) return spare;
    }
    return undefined;
  }

  private startSpare(): void {
    const { command, args } = this.runner;
    // Not yet any request's: started at the root with the task environment; the hand-over moves it into the request's directory.
    const env = taskEnvironment(process.env, '/', 0);
    delete env['CONVEYOR_WORK_REQUEST_ID'];
    const child = spawn(command, [...args, SPARE_ARG], {
      cwd: '/',
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
      env,
      ...(this.options.runAs ?? {}),
    });
    // A spare that fails to start or dies before its hand-over is dropped; the next request gets a fresh process.
    const drop = (): void => {
      const at = this.spares.indexOf(child);
      if (at >= 0) this.spares.splice(at, 1);
    };
    child.on('error', drop);
    child.on('exit', drop);
    // A write to a spare that died just now fails with EPIPE: its supervisor reports how it ended.
    child.stdin?.on('error', () => undefined);
    this.spares.push(child);
  }
}
