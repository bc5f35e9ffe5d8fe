/** The server-task runner: runs one Server task in its own Lambda, handed over by the scheduler. */
import { findTask, validateTaskData } from '../tasks';
import type { Deps } from '../ports';
import { ignoreConflict } from './concurrency';
import { finish, finishInError, startServerSide } from './lifecycle';

/** Runs one Server task (in its own Lambda): success, failure, or error with `execute-failed`. */
export async function runServerTask(deps: Deps, workRequestId: number): Promise<void> {
  let wr = await deps.workRequests.get(workRequestId);
  if (!wr || wr.taskType !== 'Server') return;
  if (wr.status === 'pending' && wr.worker === null) {
    // Handed over before the scheduler marked it running: start it here (a lost race is fine).
    wr = await startServerSide(deps, wr).catch(async (err) => {
      ignoreConflict(err);
      return (await deps.workRequests.get(workRequestId))!;
    });
  }
  if (wr.status !== 'running') return; // replayed message
  const task = findTask('Server', wr.taskName);
  try {
    if (!task?.execute) throw new Error(`server task ${wr.taskName} is not registered`);
    const outcome = await task.execute(validateTaskData(task, wr.taskData), {
      dynamicData: wr.dynamicTaskData ?? {},
      workDir: '/tmp',
      log: () => undefined,
      signal: new AbortController().signal,
      downloadArtifact: () => Promise.reject(new Error('server tasks cannot download artifacts')),
      uploadArtifact: () => Promise.reject(new Error('server tasks cannot upload artifacts')),
      run: () => Promise.reject(new Error('server tasks cannot run programs')),
    });
    await finish(deps, wr, { status: 'completed', result: outcome.result, outputData: outcome.outputData }).catch(ignoreConflict);
  } catch (err) {
    await finishInError(deps, wr, 'execute-failed', err);
  }
}
