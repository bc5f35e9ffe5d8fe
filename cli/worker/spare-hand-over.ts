/**
 * The task process's side of a warm start (issue 12: the spawn off the critical path). A spare is
 * a task runner started before its work request is known (`task-runner --spare`): Node is up and
 * the task code loaded, and it waits on stdin for one hand-over line. On it, the process becomes
 * that request's task process exactly as a fresh one would have started (its directory, HOME,
 * TMPDIR and CONVEYOR_WORK_REQUEST_ID), then runs the one request and exits: still one process
 * per task, never reused.
 */
import type { HandOver } from './spare-protocol';

/** Resolves to the runner's usual arguments (request file, outcome file) once the worker hands a request over. */
export function awaitHandOver(input: NodeJS.ReadableStream = process.stdin): Promise<string[]> {
  return new Promise((resolve) => {
    let buffered = '';
    const onData = (chunk: Buffer | string): void => {
      buffered += chunk.toString();
      const end = buffered.indexOf('\n');
      if (end < 0) return;
      input.off('data', onData);
      input.off('end', onEnd);
      input.pause();
      const handOver = JSON.parse(buffered.slice(0, end)) as HandOver;
      process.chdir(handOver.work_dir);
      process.env['HOME'] = handOver.work_dir;
      process.env['TMPDIR'] = handOver.work_dir;
      process.env['CONVEYOR_WORK_REQUEST_ID'] = String(handOver.work_request_id);
      // Its command line no longer says `--spare` (ps, and the e2e tests, tell a waiting spare from a running task by it).
      process.title = `conveyor task-runner: work request ${handOver.work_request_id}`;
      resolve([handOver.request_file, handOver.outcome_file]);
    };
    // The worker closed the pipe without a request (it stopped, or dropped this spare): nothing to do.
    const onEnd = (): void => process.exit(0);
    input.on('data', onData);
    input.on('end', onEnd);
  });
}
