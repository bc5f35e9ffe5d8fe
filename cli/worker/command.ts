/**
 * `conveyor worker`: runs a Conveyor (Debusine-compatible) external worker on this machine.
 * See worker.ts for what it does; this file turns flags and environment variables into settings.
 */
import { Command } from 'commander';
import { freemem, homedir, hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { FetchFn } from '../client/api';
import { resolveClientConfig } from '../client/config';
import { errorMessage, timestampedLog, type WorkerLog } from './log';
/** Loaded when the worker starts: the task definitions (and zod) are no part of `conveyor --help`. */
const metadataModule = (): typeof import('./metadata') => require('./metadata');
import { SpareTasks } from './spare-tasks';
import { defaultTokenFile, generateWorkerKey } from './token-file';
import { ConveyorWorker, DEFAULT_WORKER_TIMINGS, type WorkerDeps, type WorkerSettings } from './worker';

export interface WorkerCommandOptions {
  server?: string;
  fqdn?: string;
  tokenFile?: string;
  activationToken?: string;
  concurrency?: string;
  heartbeatInterval?: string;
  workDir?: string;
  /** `--task-user UID[:GID]`: run tasks as this (unprivileged) user; recommended when the worker runs as root. */
  taskUser?: string;
  tasks?: string;
  grace?: string;
}

export interface WorkerEnvironment {
  env: NodeJS.ProcessEnv;
  homeDir: string;
  cwd: string;
  hostname: string;
  tmpDir: string;
}

function positiveNumber(value: string, option: string, integer: boolean): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new Error(`Invalid ${option} "${value}": expected a positive ${integer ? 'whole ' : ''}number`);
  }
  return n;
}

function nonNegativeNumber(value: string, option: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new Error(`Invalid ${option} "${value}": expected a number of seconds`);
  return n;
}

/** Flags first, then environment variables, then defaults. */
export function resolveWorkerSettings(opts: WorkerCommandOptions, where: WorkerEnvironment): WorkerSettings {
  const { env } = where;
  const server = resolveClientConfig({ server: opts.server }, { env, homeDir: where.homeDir, cwd: where.cwd }).server;
  const onlyTasks = opts.tasks
    ?.split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  if (onlyTasks) {
    if (onlyTasks.length === 0) throw new Error('--tasks names no task');
    metadataModule().selectWorkerTasks(onlyTasks); // refuses unknown names
  }
  const heartbeat = opts.heartbeatInterval ?? env.CONVEYOR_HEARTBEAT_INTERVAL;
  const activationToken = opts.activationToken ?? env.CONVEYOR_ACTIVATION_TOKEN;
  const taskUserOption = opts.taskUser ?? env.CONVEYOR_TASK_USER;
  const taskUser = taskUserOption ? parseTaskUser(taskUserOption) : undefined;
  return {
    ...DEFAULT_WORKER_TIMINGS,
    server,
    fqdn: opts.fqdn || where.hostname,
    tokenFile: resolve(where.cwd, opts.tokenFile ?? defaultTokenFile(env, where.homeDir)),
    ...(activationToken ? { activationToken } : {}),
    concurrency: opts.concurrency !== undefined ? positiveNumber(opts.concurrency, '--concurrency', true) : DEFAULT_WORKER_TIMINGS.concurrency,
    heartbeatIntervalMs:
      heartbeat !== undefined && heartbeat !== ''
        ? positiveNumber(heartbeat, '--heartbeat-interval', false) * 1000
        : DEFAULT_WORKER_TIMINGS.heartbeatIntervalMs,
    graceMs: opts.grace !== undefined ? Math.round(nonNegativeNumber(opts.grace, '--grace') * 1000) : DEFAULT_WORKER_TIMINGS.graceMs,
    workRoot: resolve(where.cwd, opts.workDir ?? join(where.tmpDir, 'conveyor-worker')),
    ...(onlyTasks ? { onlyTasks } : {}),
    ...(taskUser ? { taskUser } : {}),
  };
}

/** `UID[:GID]` (GID defaults to UID): numeric ids only, so that nothing is looked up at run time. */
export function parseTaskUser(value: string): { uid: number; gid: number } {
  const m = /^(\d+)(?::(\d+))?$/.exec(value.trim());
  if (!m) throw new Error(`--task-user must be UID or UID:GID (numbers), not ${JSON.stringify(value)}`);
  return { uid: Number(m[1]), gid: Number(m[2] ?? m[1]) };
}

export function defaultWorkerDeps(settings: WorkerSettings, log: WorkerLog, fetchImpl: FetchFn = (input, init) => fetch(input, init)): WorkerDeps {
  const { collectDynamicMetadata, machineProbes, taskUsesServer } = metadataModule();
  const probes = machineProbes();
  // One warm task process per slot, so that starting Node is not on the critical path of the next task.
  const spares = new SpareTasks({ size: settings.concurrency, ...(settings.taskUser ? { runAs: settings.taskUser } : {}) });
  return {
    fetch: fetchImpl,
    log,
    spawnTask: spares.spawn,
    spareTasks: spares,
    collectMetadata: () => collectDynamicMetadata({ workDir: settings.workRoot, ...(settings.onlyTasks ? { onlyTasks: settings.onlyTasks } : {}) }, probes),
    machine: { cpuCount: probes.cpuCount, availableMemory: () => freemem(), freeDisk: probes.freeDisk },
    generateKey: generateWorkerKey,
    taskUsesServer,
  };
}

export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description('run a worker: register, take assigned work from the queue, run tasks, report results')
    .option('--server <url>', 'Conveyor server URL (else $CONVEYOR_SERVER, the config file, or the local stack)')
    .option('--fqdn <name>', 'this machine\'s name; the worker is named after it (default: the host name)')
    .option('--token-file <path>', 'where the worker token is kept (default: $CONVEYOR_WORKER_TOKEN_FILE or ~/.config/conveyor/worker-token)')
    .option('--activation-token <key>', 'register enabled with this activation token (else $CONVEYOR_ACTIVATION_TOKEN)')
    .option('--concurrency <n>', 'tasks run at once (default 1)')
    .option('--heartbeat-interval <seconds>', 'seconds between heartbeats of a running task (default 30, or $CONVEYOR_HEARTBEAT_INTERVAL)')
    .option('--work-dir <dir>', 'where each request gets its scratch directory (default: a directory in the system temp dir)')
    .option('--task-user <uid[:gid]>', 'run tasks as this unprivileged user (e.g. 65534 for nobody); recommended when the worker runs as root')
    .option('--tasks <names>', 'only run these tasks, comma-separated (e.g. noop,lintian)')
    .option('--grace <seconds>', 'on SIGTERM/SIGINT, how long running tasks may finish before they are killed (default 60)')
    .action(async (opts: WorkerCommandOptions) => {
      const settings = resolveWorkerSettings(opts, { env: process.env, homeDir: homedir(), cwd: process.cwd(), hostname: hostname(), tmpDir: tmpdir() });
      const log = timestampedLog(process.stderr);
      const worker = new ConveyorWorker(settings, defaultWorkerDeps(settings, log));
      let signals = 0;
      const onSignal = (signal: NodeJS.Signals): void => {
        signals += 1;
        if (signals === 1) {
          log(`${signal}: finishing running tasks (a second signal stops at once)`);
          worker.requestStop();
          return;
        }
        log(`${signal} again: stopping at once`);
        worker.forceStop();
        process.exit(1);
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
      let code: number;
      try {
        code = await worker.run();
      } catch (err) {
        log(`worker failed: ${errorMessage(err)}`);
        worker.forceStop();
        code = 1;
      }
      process.exit(code);
    });
}
