/**
 * The task subprocess: `node --import tsx cli/worker/task-runner.ts REQUEST_FILE OUTCOME_FILE`.
 *
 * Reads the work request (task name and data, server and worker token) from REQUEST_FILE, finds
 * the Worker task, validates the data with the task's schema and runs `task.execute`. Log lines
 * go to stdout (the worker keeps the last five for its heartbeats). The outcome
 * `{result, output_data, resource_usage}` is written to OUTCOME_FILE and the process exits 0;
 * the worker treats any other ending (crash, signal, no outcome) as `execute-failed`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { validateTaskData } from '../../shared/tasks';
import { runnableTask } from '../../shared/tasks/executors';
import { ConveyorApi, type FetchFn } from '../client/api';
import { errorMessage } from './log';
import { errorOutcome, type ChildOutcome, type ChildRequest } from './protocol';
import { createTaskContext } from './task-context';
import { awaitHandOver } from './spare-hand-over';
import { SPARE_ARG } from './spare-protocol';

export interface ChildIo {
  log: (line: string) => void;
  fetch?: FetchFn;
  signal?: AbortSignal;
}

/** Runs one work request in this process and returns its outcome (never throws for task problems). */
export async function executeChildRequest(request: ChildRequest, io: ChildIo): Promise<ChildOutcome> {
  const { task_name: taskName, task_data: taskData, id } = request.work_request;
  const dynamicData = (request.work_request.dynamic_task_data ?? {}) as Record<string, unknown>;
  const task = runnableTask('Worker', taskName);
  if (!task || typeof task.execute !== 'function') {
    return errorOutcome('configure-failed', `${taskName} is not a Worker task this worker can run`);
  }
  if (!request.token && task.usesServer !== false) {
    return errorOutcome('configure-failed', `${taskName} calls the server, but the worker started it without a task token`);
  }
  let data: Record<string, unknown>;
  try {
    data = validateTaskData(task, taskData);
  } catch (err) {
    return errorOutcome('configure-failed', errorMessage(err));
  }
  const api = new ConveyorApi({ server: request.server, token: request.token, scope: request.scope }, io.fetch ?? fetch);
  let inputArtifacts: number[];
  try {
    inputArtifacts = task.inputArtifacts?.(data, dynamicData) ?? [];
  } catch (err) {
    return errorOutcome('configure-failed', errorMessage(err));
  }
  const ctx = createTaskContext({
    api,
    dynamicData,
    workRequestId: id,
    inputArtifacts,
    workDir: request.work_dir,
    log: io.log,
    signal: io.signal ?? new AbortController().signal,
  });
  try {
    const outcome = await task.execute(data, ctx);
    return { result: outcome.result, ...(outcome.outputData ? { output_data: outcome.outputData } : {}) };
  } catch (err) {
    io.log(`${taskName} failed: ${errorMessage(err)}`);
    return errorOutcome('execute-failed', errorMessage(err));
  }
}

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on every Linux platform Node supports). */
const USER_HZ = 100;

/** CPU seconds of the programs the task ran and waited for (cutime + cstime), where /proc has them. */
function waitedChildrenCpuSeconds(): number {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After the command name: field 3 (state) is index 0, so cutime (16) and cstime (17) are 13 and 14.
    return (Number(fields[13]) + Number(fields[14])) / USER_HZ || 0;
  } catch {
    return 0;
  }
}

/** CPU time (user + system, this process and the programs it waited for) and peak RSS. */
export function resourceUsageNow(): { cpu_time: number; memory: number } {
  const usage = process.resourceUsage();
  return {
    cpu_time: (usage.userCPUTime + usage.systemCPUTime) / 1e6 + waitedChildrenCpuSeconds(),
    memory: usage.maxRSS * 1024,
  };
}

async function main(argv: string[]): Promise<void> {
  const [requestFile, outcomeFile] = argv;
  if (!requestFile || !outcomeFile) {
    process.stderr.write('usage: task-runner REQUEST_FILE OUTCOME_FILE\n');
    process.exit(2);
  }
  const request = JSON.parse(readFileSync(requestFile, 'utf8')) as ChildRequest;
  const log = (line: string): void => {
    process.stdout.write(`${line}\n`);
  };
  const outcome = await executeChildRequest(request, { log });
  writeFileSync(outcomeFile, JSON.stringify({ ...outcome, resource_usage: resourceUsageNow() }), { mode: 0o600 });
  // Let the log reach the worker before exiting (pipes are asynchronous on POSIX).
  await new Promise<void>((done) => process.stdout.write('', () => done()));
  process.exit(0);
}

if (require.main === module) {
  // A spare (started ahead of its request) first waits for the worker's hand-over on stdin.
  const argv = process.argv.slice(2);
  (argv[0] === SPARE_ARG ? awaitHandOver().then(main) : main(argv)).catch((err: unknown) => {
    process.stderr.write(`task runner crashed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
