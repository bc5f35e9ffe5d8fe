/**
 * The task subprocess: `node --import tsx cli/worker/task-runner.ts REQUEST_FILE OUTCOME_FILE`.
 *
 * Reads the work request (task name and data, server and worker token) from REQUEST_FILE, finds
 * the Worker task, validates the data with the task's schema and runs `task.execute`. Log lines
 * go to stdout (the worker keeps the last five for its heartbeats). The outcome
 * `{result, output_data, resource_usage}` is written to OUTCOME_FILE and the process exits 0;
 * the worker treats any other ending (crash, signal, no outcome) as `execute-failed`.
 */
import { readFileSync, writeFileSync, writeSync } from 'node:fs';
import { trivialTaskRun } from '../../shared/tasks/trivial';
import type { FetchFn } from '../client/api';
import { errorMessage } from './log';
import { errorOutcome, type ChildOutcome, type ChildRequest } from './protocol';
import { awaitHandOver } from './spare-hand-over';
import { SPARE_ARG } from './spare-protocol';

/** The registry's way to every other task: required on first use, for it loads zod and every task schema. */
const registeredTasks = (): typeof import('./registered-task') => require('./registered-task');

export interface ChildIo {
  log: (line: string) => void;
  fetch?: FetchFn;
  signal?: AbortSignal;
}

/**
 * Runs one work request in this process and returns its outcome (never throws for task problems).
 * noop and sleep with data they take as is run at once; every other request (other tasks, and data
 * the schema may refuse or change) loads the task registry and zod first (cli/worker/registered-task.ts).
 */
export async function executeChildRequest(request: ChildRequest, io: ChildIo): Promise<ChildOutcome> {
  const { task_name: taskName, task_data: taskData } = request.work_request;
  const signal = io.signal ?? new AbortController().signal;
  const run = trivialTaskRun(taskName, taskData, { log: io.log, signal }) ?? registeredTasks().prepareRegisteredTask(request, io, signal);
  if (typeof run !== 'function') return run;
  try {
    const outcome = await run();
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

/**
 * Writes log lines to `fd` with plain synchronous writes. `process.stdout` on a pipe costs a task
 * process about 6 ms of start-up (it loads Node's stream and socket modules), more than a noop task
 * spends on anything else; the worker reads the pipe at once, and a blocking write waits while it is full.
 * A descriptor that cannot take a synchronous write (non-blocking and full: EAGAIN) falls back to
 * `fallback` from then on, so the lines keep their order. `flush` resolves once the fallback's lines are out.
 */
export function lineWriter(fd: number, fallback: () => NodeJS.WritableStream, write: typeof writeSync = writeSync): { log: (line: string) => void; flush: () => Promise<void> } {
  let stream: NodeJS.WritableStream | undefined;
  return {
    log(line) {
      let rest = Buffer.from(`${line}\n`);
      while (!stream && rest.length > 0) {
        try {
          const written = write(fd, rest);
          if (written === 0) stream = fallback(); // nothing taken: never spin on it
          rest = rest.subarray(written);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
          stream = fallback();
        }
      }
      if (stream && rest.length > 0) stream.write(rest);
    },
    flush: () => (stream ? new Promise<void>((done) => stream!.write('', () => done())) : Promise.resolve()),
  };
}

async function main(argv: string[]): Promise<void> {
  const [requestFile, outcomeFile] = argv;
  if (!requestFile || !outcomeFile) {
    process.stderr.write('usage: task-runner REQUEST_FILE OUTCOME_FILE\n');
    process.exit(2);
  }
  const request = JSON.parse(readFileSync(requestFile, 'utf8')) as ChildRequest;
  const stdout = lineWriter(1, () => process.stdout);
  const outcome = await executeChildRequest(request, { log: stdout.log });
  writeFileSync(outcomeFile, JSON.stringify({ ...outcome, resource_usage: resourceUsageNow() }), { mode: 0o600 });
  // Let the log reach the worker before exiting (only lines that went through the stream can be pending).
  await stdout.flush();
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
